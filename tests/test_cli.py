"""The `wfe` command's cluster-free subcommands."""

from __future__ import annotations

from typer.testing import CliRunner

from wfe.api.crd import packaged_crd_yaml
from wfe.cli.main import app

runner = CliRunner()


def test_lock_name() -> None:
    result = runner.invoke(app, ["lock-name", "payment/deployment/payment-api"])
    assert result.exit_code == 0
    assert result.stdout == "wfe-cf0cc089293b1165\n"


def test_lock_name_rejects_a_malformed_target_naming_the_field() -> None:
    result = runner.invoke(app, ["lock-name", "payment api"])
    assert result.exit_code == 2
    assert "spec.targetResource" in result.stderr


def test_crd_prints_the_packaged_manifest() -> None:
    result = runner.invoke(app, ["crd"])
    assert result.exit_code == 0
    assert result.stdout == packaged_crd_yaml()
