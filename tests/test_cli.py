"""The `wfe` command's cluster-free subcommands."""

from __future__ import annotations

import hashlib

from typer.testing import CliRunner

from wfe.api.crd import packaged_crd_yaml
from wfe.cli.main import app

runner = CliRunner()


def test_lock_name() -> None:
    result = runner.invoke(app, ["lock-name", "payment/Deployment/payment-api"])
    assert result.exit_code == 0
    assert result.stdout == "wfe-7c240c08fe7f0cc3\n"


def test_lock_name_rejects_a_malformed_target_naming_the_field() -> None:
    result = runner.invoke(app, ["lock-name", "payment api"])
    assert result.exit_code == 2
    assert "spec.targetResource" in result.stderr


def test_crd_prints_the_packaged_manifest() -> None:
    result = runner.invoke(app, ["crd"])
    assert result.exit_code == 0
    assert result.stdout == packaged_crd_yaml()


def test_lock_name_warns_when_a_builtin_kind_is_not_spelled_canonically() -> None:
    result = runner.invoke(app, ["lock-name", "payment/deploy/payment-api"])
    assert result.exit_code == 0
    assert "warning:" in result.stderr
    assert "'payment/Deployment/payment-api'" in result.stderr
    # Still the runbook recipe's name of what was typed: the operator may be looking for it.
    assert (
        result.stdout.strip()
        == "wfe-" + hashlib.sha256(b"payment/deploy/payment-api").hexdigest()[:16]
    )


def test_lock_name_does_not_warn_for_canonical_or_unknown_kinds() -> None:
    for good in ("payment/Deployment/payment-api", "Node/worker-1", "ns/Certificate/web"):
        result = runner.invoke(app, ["lock-name", good])
        assert result.exit_code == 0
        assert "warning" not in result.stderr, good


def test_doctor_table_lists_each_check_then_the_fixes_of_those_not_ok() -> None:
    from wfe.cli.doctor import render_verdicts
    from wfe.core.verdict import Verdict

    verdicts = [
        Verdict(check="tekton-api", status="ok", message="served", fix="unused"),
        Verdict(check="rbac", status="fail", message="sa may not delete", fix="grant it"),
    ]
    table = render_verdicts(verdicts, "table")
    assert table.splitlines() == [
        "CHECK       STATUS  MESSAGE",
        "tekton-api  ok      served",
        "rbac        fail    sa may not delete",
        "",
        "fix rbac: grant it",
    ]
    assert '"check": "rbac"' in render_verdicts(verdicts, "json")


def test_doctor_rejects_a_bad_duration_and_output() -> None:
    result = runner.invoke(app, ["doctor", "--unphased-after", "soon"])
    assert result.exit_code == 2
    assert "--unphased-after" in result.output
    assert runner.invoke(app, ["doctor", "-o", "xml"]).exit_code == 2
