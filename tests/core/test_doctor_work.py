"""core.doctor_work: the RBAC, lock and WorkflowExecution verdicts; the permission list is the
chart's (deploy/helm/workflow-execution/templates/rbac.yaml)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from wfe.core import doctor_work
from wfe.core.doctor_work import CONTROLLER_PERMISSIONS, Permission
from wfe.core.ledger import LedgerRow
from wfe.core.verdict import Unanswered

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
NO = Unanswered("forbidden: list workflowexecutions")
RBAC = Path(__file__).parents[2] / "deploy/helm/workflow-execution/templates/rbac.yaml"


def _chart_rules() -> set[Permission]:
    """Every (scope, group, resource, verb) the chart's Roles grant, read from the template:
    template directives dropped, expressions replaced by a placeholder."""
    text = "\n".join(
        line
        for line in RBAC.read_text(encoding="utf-8").splitlines()
        if not line.strip().startswith("{{")
    )
    text = re.sub(r"\{\{.*?\}\}", "TEMPLATED", text)
    out: set[Permission] = set()
    for doc in yaml.safe_load_all(text):
        if not doc or doc.get("kind") not in ("ClusterRole", "Role"):
            continue
        if doc["kind"] == "ClusterRole":
            scope = "watch"
        elif doc["metadata"]["namespace"] == "TEMPLATED" and "leases" in str(doc["rules"]):
            scope = "lease"
        else:
            scope = "execution"
        for rule in doc["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    res, _, sub = resource.partition("/")
                    for verb in rule["verbs"]:
                        out.add(
                            Permission(
                                scope=scope,  # type: ignore[arg-type]
                                group=group,
                                resource=res,
                                subresource=sub,
                                verb=verb,
                                named=bool(rule.get("resourceNames")),
                            )
                        )
    return out


def test_the_permission_list_is_the_charts() -> None:
    chart = _chart_rules()
    assert len(chart) > 10  # the template was read
    assert set(CONTROLLER_PERMISSIONS) == chart
    assert len(set(CONTROLLER_PERMISSIONS)) == len(CONTROLLER_PERMISSIONS)


def _p(verb: str, resource: str = "pipelineruns") -> Permission:
    return Permission(scope="execution", group="tekton.dev", resource=resource, verb=verb)


@pytest.mark.parametrize(
    ("results", "status", "words"),
    [
        ([(_p("get"), True), (_p("delete"), True)], "ok", "has all 2 verbs"),
        ([(_p("get"), True), (_p("delete"), False)], "fail", "may not delete pipelineruns"),
        ([(_p("delete"), False), (_p("get"), NO)], "fail", "may not delete"),
        ([(_p("get"), True), (_p("delete"), NO)], "unknown", "review of delete"),
        (NO, "unknown", "cannot tell"),
    ],
)
def test_rbac(results: Any, status: str, words: str) -> None:
    verdict = doctor_work.rbac(results, subject="sys/wfe")
    assert verdict.status == status
    assert words in verdict.message
    if status == "fail":
        assert verdict.fix is not None
        assert "rb-we-003" in verdict.fix


def test_permission_text() -> None:
    status = Permission(
        scope="watch", group="kubernaut.ai", resource="wfes", subresource="status", verb="patch"
    )
    assert status.text() == "patch wfes/status.kubernaut.ai"
    assert Permission(scope="watch", group="", resource="events", verb="create").text() == (
        "create events"
    )


def row(*anomalies: str, due: datetime | None = None) -> LedgerRow:
    return LedgerRow(
        target="p/Deployment/a", state="held", lock="wfe-1", release_due=due, anomalies=anomalies
    )


@pytest.mark.parametrize(
    ("rows", "status", "words"),
    [
        ([], "ok", "0 target(s)"),
        ([row()], "ok", "none stuck"),
        ([row("owner gone: d/ghost no longer exists")], "fail", "wfe-1 (owner gone"),
        ([row("unclaimed: the PipelineRun names no WorkflowExecution")], "fail", "unclaimed"),
        ([row("past its release time (x)", due=NOW - timedelta(minutes=2))], "fail", "past"),
        ([row("past its release time (x)", due=NOW - timedelta(seconds=10))], "ok", "none"),
        (NO, "unknown", "cannot tell"),
    ],
)
def test_stuck_locks(rows: Any, status: str, words: str) -> None:
    verdict = doctor_work.stuck_locks(rows, now=NOW)
    assert verdict.status == status
    assert words in verdict.message
    if status == "fail":
        assert verdict.fix == "wfe locks; docs/runbooks/README.md#rb-we-003"


def wfe(name: str, age: timedelta, phase: str | None = None, **status: Any) -> dict[str, Any]:
    created = (NOW - age).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "metadata": {"namespace": "d", "name": name, "creationTimestamp": created},
        "status": {"phase": phase, **status} if phase else {},
    }


@pytest.mark.parametrize(
    ("objects", "status", "words"),
    [
        ([], "ok", "every"),
        ([wfe("a", timedelta(hours=2), "Running")], "ok", "every"),
        ([wfe("young", timedelta(seconds=30))], "ok", "every"),
        ([wfe("old", timedelta(minutes=2))], "fail", "d/old"),
        ([wfe(f"o{i}", timedelta(minutes=5)) for i in range(7)], "fail", "and 2 more"),
        (NO, "unknown", "cannot tell"),
    ],
)
def test_unphased(objects: Any, status: str, words: str) -> None:
    verdict = doctor_work.unphased(objects, now=NOW, grace=timedelta(minutes=1))
    assert verdict.status == status
    assert words in verdict.message


def _started(ago: timedelta) -> str:
    return (NOW - ago).strftime("%Y-%m-%dT%H:%M:%SZ")


def pr(timeout: str | None) -> dict[str, Any]:
    return {"spec": {"timeouts": {"pipeline": timeout}} if timeout else {}}


@pytest.mark.parametrize(
    ("running", "status", "words"),
    [
        ([], "ok", "0 Running"),
        (
            [
                (
                    wfe(
                        "a",
                        timedelta(hours=2),
                        "Running",
                        startTime=_started(timedelta(minutes=50)),
                    ),
                    None,
                )
            ],
            "ok",
            "none",
        ),
        (
            [
                (
                    wfe(
                        "a",
                        timedelta(hours=2),
                        "Running",
                        startTime=_started(timedelta(minutes=70)),
                    ),
                    None,
                )
            ],
            "fail",
            "d/a (1h10m0s > 1h0m0s)",
        ),
        (
            [
                (
                    wfe(
                        "a",
                        timedelta(hours=2),
                        "Running",
                        startTime=_started(timedelta(minutes=20)),
                    ),
                    pr("15m"),
                )
            ],
            "fail",
            "> 15m0s",
        ),
        (
            [
                (
                    wfe(
                        "a",
                        timedelta(hours=2),
                        "Running",
                        startTime=_started(timedelta(minutes=70)),
                    ),
                    pr("2h"),
                )
            ],
            "ok",
            "none",
        ),
        (
            [
                (
                    wfe(
                        "a",
                        timedelta(hours=2),
                        "Running",
                        startTime=_started(timedelta(minutes=70)),
                    ),
                    pr("bogus"),
                )
            ],
            "fail",
            "> 1h0m0s",
        ),
        (
            [
                (
                    wfe(
                        "a", timedelta(hours=3), "Completed", startTime=_started(timedelta(hours=3))
                    ),
                    None,
                )
            ],
            "ok",
            "none",
        ),
        ([(wfe("a", timedelta(minutes=90), "Running"), None)], "fail", "1h30m0s"),  # no startTime
        (NO, "unknown", "cannot tell"),
    ],
)
def test_overdue(running: Any, status: str, words: str) -> None:
    verdict = doctor_work.overdue(running, now=NOW, default_timeout=timedelta(hours=1))
    assert verdict.status == status
    assert words in verdict.message
    if status == "fail":
        assert verdict.fix == "docs/runbooks/README.md#rb-we-002"
