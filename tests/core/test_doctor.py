"""core.doctor: every platform verdict, ok / warn / fail / unknown, from observed objects."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wfe.api import crd
from wfe.core import doctor
from wfe.core.verdict import Unanswered, Verdict, exit_code, runbook

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
NO = Unanswered("forbidden: deployments is forbidden")


def deployment(available: str | None, ready: int = 1, replicas: int = 1) -> dict[str, Any]:
    status: dict[str, Any] = {"availableReplicas": ready}
    if available is not None:
        status["conditions"] = [{"type": "Available", "status": available, "reason": "Why"}]
    return {"spec": {"replicas": replicas}, "status": status}


@pytest.mark.parametrize(("served", "status"), [(True, "ok"), (False, "fail"), (NO, "unknown")])
def test_tekton_api(served: bool | Unanswered, status: str) -> None:
    verdict = doctor.tekton_api(served)
    assert verdict.status == status
    if status == "fail":
        assert verdict.fix == "docs/runbooks/README.md#rb-we-004"


@pytest.mark.parametrize(
    ("obj", "status"),
    [
        (deployment("True"), "ok"),
        (deployment(None, ready=1), "ok"),
        (deployment("False", ready=0), "fail"),
        (deployment(None, ready=0), "fail"),
        (None, "warn"),
        (NO, "unknown"),
    ],
)
def test_tekton_controller(obj: Any, status: str) -> None:
    verdict = doctor.tekton_controller(obj, namespace="tekton-pipelines", name="tp")
    assert verdict.status == status
    if obj is None:
        assert "not found" in verdict.message


@pytest.mark.parametrize(
    ("obj", "status"),
    [
        ({"data": {"enable-bundles-resolver": "true"}}, "ok"),
        ({"data": {"enable-bundles-resolver": " TRUE "}}, "ok"),
        ({"data": {}}, "ok"),  # Tekton's default is true
        ({"data": {"enable-bundles-resolver": "false"}}, "fail"),
        (None, "warn"),
        (NO, "warn"),  # unreadable: a warning, not a failure
    ],
)
def test_bundles_resolver(obj: Any, status: str) -> None:
    verdict = doctor.bundles_resolver(obj, namespace="r", name="resolvers-feature-flags")
    assert verdict.status == status
    if status == "fail":
        assert verdict.fix is not None
        assert "enable-bundles-resolver" in verdict.fix


def test_crd_this_build_is_ok_and_digest_ignores_metadata() -> None:
    expected = crd.crd_manifest()
    installed = copy.deepcopy(expected)
    installed["metadata"].update(resourceVersion="9", uid="u", generation=3)
    installed["status"] = {"acceptedNames": {}}
    assert doctor.crd_matches(installed, expected).status == "ok"


def test_crd_an_older_schema_fails_naming_the_missing_field() -> None:
    expected = crd.crd_manifest()
    older = copy.deepcopy(expected)
    props = older["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    field = sorted(props["status"]["properties"])[0]
    del props["status"]["properties"][field]
    verdict = doctor.crd_matches(older, expected)
    assert verdict.status == "fail"
    assert f"lacks status.{field}" in verdict.message
    assert verdict.fix is not None
    assert verdict.fix.startswith("wfe crd | kubectl apply")


def test_crd_a_version_not_served_fails() -> None:
    expected = crd.crd_manifest()
    unserved = copy.deepcopy(expected)
    unserved["spec"]["versions"][0]["served"] = False
    verdict = doctor.crd_matches(unserved, expected)
    assert verdict.status == "fail"
    assert "not served" in verdict.message


@pytest.mark.parametrize(("obj", "status"), [(None, "fail"), (NO, "unknown")])
def test_crd_absent_or_unreadable(obj: Any, status: str) -> None:
    assert doctor.crd_matches(obj, crd.crd_manifest()).status == status


@pytest.mark.parametrize(
    ("obj", "status"),
    [
        (deployment("True", ready=2, replicas=2), "ok"),
        (deployment("False", ready=0), "fail"),
        (None, "fail"),
        (NO, "unknown"),
    ],
)
def test_controller_deployment(obj: Any, status: str) -> None:
    verdict = doctor.controller_deployment(obj, namespace="kubernaut-system", name="wfe")
    assert verdict.status == status
    assert (verdict.fix is None) == (status in ("ok", "unknown"))


def lease_obj(holder: str | None, renewed_ago: float | None, duration: int = 15) -> Any:
    spec: dict[str, Any] = {"leaseDurationSeconds": duration}
    if holder is not None:
        spec["holderIdentity"] = holder
    if renewed_ago is not None:
        renew = NOW - timedelta(seconds=renewed_ago)
        spec["renewTime"] = renew.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"spec": spec}


@pytest.mark.parametrize(
    ("obj", "leader_election", "status", "words"),
    [
        (lease_obj("pod-a", 3), True, "ok", "held by pod-a"),
        (lease_obj("pod-a", 15), True, "ok", "renewed 15s ago"),
        (lease_obj("pod-a", 16), True, "fail", "longer than its 15s"),
        (lease_obj("pod-a", -2), True, "ok", "renewed 0s ago"),  # a clock ahead
        (lease_obj("", 3), True, "fail", "held by nobody"),
        (lease_obj(None, None), True, "fail", "held by nobody"),
        (lease_obj("pod-a", None), True, "fail", "never renewed"),
        (None, True, "fail", "not found"),
        (NO, True, "unknown", "cannot tell: forbidden"),
        (None, False, "ok", "leader election is off"),
    ],
)
def test_lease(obj: Any, leader_election: bool, status: str, words: str) -> None:
    verdict = doctor.lease(obj, now=NOW, leader_election=leader_election, namespace="ns", name="l")
    assert verdict.status == status
    assert words in verdict.message


@pytest.mark.parametrize(
    ("statuses", "strict", "code"),
    [
        (["ok", "ok"], False, 0),
        (["ok", "warn"], False, 0),
        (["ok", "unknown"], False, 0),
        (["ok", "warn"], True, 1),
        (["unknown"], True, 1),
        (["ok", "fail"], False, 1),
        ([], True, 0),
    ],
)
def test_exit_code(statuses: list[Any], strict: bool, code: int) -> None:
    verdicts = [Verdict(check=str(i), status=s, message="") for i, s in enumerate(statuses)]
    assert exit_code(verdicts, strict=strict) == code


def test_runbook_anchors_exist_in_the_runbooks() -> None:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs/runbooks/README.md").read_text(encoding="utf-8")
    for rb in ("RB-WE-002", "RB-WE-003", "RB-WE-004"):
        assert f'<a id="{runbook(rb).split("#")[1]}"></a>' in text
