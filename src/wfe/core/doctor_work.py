"""`wfe doctor`'s verdicts on the controller's work: its RBAC, the locks and the
WorkflowExecutions (docs/runbooks/README.md#rb-we-002, #rb-we-003; docs/cli.md).

Pure, like `core.doctor`: observed data in, one `Verdict` out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from wfe.core.durations import format_duration, parse_duration
from wfe.core.ledger import LedgerRow
from wfe.core.verdict import (
    Unanswered,
    Verdict,
    names,
    parse_time,
    runbook,
    unknown,
)

__all__ = [
    "CONTROLLER_PERMISSIONS",
    "RELEASE_GRACE",
    "Permission",
    "overdue",
    "rbac",
    "stuck_locks",
    "unphased",
]


# --- RBAC (RB-WE-003: why the controller did not delete it) ----------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class Permission:
    """One verb the chart grants the controller (deploy/helm/.../rbac.yaml, docs/deploy.md).

    `scope`: where it applies: `watch` (the watched namespace, or cluster-wide), `execution`
    (the PipelineRun namespace) or `lease` (the Lease's namespace; `named`: that Lease only).
    """

    scope: Literal["watch", "execution", "lease"]
    group: str
    resource: str
    verb: str
    subresource: str = ""
    named: bool = False

    def text(self) -> str:
        res = self.resource + (f"/{self.subresource}" if self.subresource else "")
        return f"{self.verb} {res}" + (f".{self.group}" if self.group else "")


def _grant(scope: Any, group: str, resource: str, verbs: str, **kw: Any) -> list[Permission]:
    return [
        Permission(scope=scope, group=group, resource=resource, verb=v, **kw) for v in verbs.split()
    ]


# The one list; tests/core/test_doctor_work.py checks it against the chart's rbac.yaml.
CONTROLLER_PERMISSIONS: tuple[Permission, ...] = tuple(
    _grant("watch", "kubernaut.ai", "workflowexecutions", "get list watch patch")
    + _grant("watch", "kubernaut.ai", "workflowexecutions", "patch", subresource="status")
    + _grant("watch", "", "events", "create")
    + _grant("execution", "tekton.dev", "pipelineruns", "get list watch create patch delete")
    + _grant("execution", "tekton.dev", "taskruns", "get list watch")
    + _grant("lease", "coordination.k8s.io", "leases", "create")
    + _grant("lease", "coordination.k8s.io", "leases", "get update", named=True)
)


def rbac(
    results: Sequence[tuple[Permission, bool | Unanswered]] | Unanswered, *, subject: str
) -> Verdict:
    """SubjectAccessReviews of each permission for the controller's ServiceAccount."""
    check = "rbac"
    if isinstance(results, Unanswered):
        return unknown(check, results)
    denied = [p.text() for p, allowed in results if allowed is False]
    unanswered = [(p, a) for p, a in results if isinstance(a, Unanswered)]
    if denied:
        return Verdict(
            check=check,
            status="fail",
            message=f"{subject} may not {names(denied)}",
            fix="grant what the chart's rbac.yaml grants (helm upgrade); " + runbook("RB-WE-003"),
        )
    if unanswered:
        p, a = unanswered[0]
        return unknown(check, Unanswered(f"review of {p.text()}: {a.reason}"))
    return Verdict(check=check, status="ok", message=f"{subject} has all {len(results)} verbs")


# --- locks and WorkflowExecutions (RB-WE-002, RB-WE-003) ---------------------------------------

# A lock is "stuck" once past its release time by more than this: the controller releases on
# the next reconcile, normally within seconds (docs/runbooks/README.md#rb-we-003 alerts at 5m).
RELEASE_GRACE = timedelta(minutes=1)


def stuck_locks(
    rows: Sequence[LedgerRow] | Unanswered, *, now: datetime, grace: timedelta = RELEASE_GRACE
) -> Verdict:
    """The `wfe locks` anomalies: a lock past its release time, a lock whose owner is gone, a
    PipelineRun no target's lock name matches or that names no owner."""
    check = "locks"
    if isinstance(rows, Unanswered):
        return unknown(check, rows)
    stuck = []
    for row in rows:
        for anomaly in row.anomalies:
            releasing = row.release_due is not None and row.release_due + grace > now
            if anomaly.startswith("past its release time") and releasing:
                continue  # about to be released
            stuck.append(f"{row.lock or row.target} ({anomaly})")
    if stuck:
        return Verdict(
            check=check,
            status="fail",
            message=f"{len(stuck)} lock(s) stuck: {names(stuck)}",
            fix=f"wfe locks; {runbook('RB-WE-003')}",
        )
    return Verdict(
        check=check, status="ok", message=f"{len(rows)} target(s) in the ledger, none stuck"
    )


def _key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def unphased(
    objects: Sequence[Mapping[str, Any]] | Unanswered, *, now: datetime, grace: timedelta
) -> Verdict:
    """WorkflowExecutions the controller never touched (no phase) for longer than `grace`."""
    check = "no-phase"
    if isinstance(objects, Unanswered):
        return unknown(check, objects)
    late = []
    for obj in objects:
        if (obj.get("status") or {}).get("phase"):
            continue
        created = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
        if created is not None and now - created >= grace:
            late.append(_key(obj))
    if late:
        return Verdict(
            check=check,
            status="fail",
            message=f"{len(late)} WorkflowExecution(s) without a phase after "
            f"{format_duration(grace)}: {names(late)} (is the controller running?)",
            fix=runbook("RB-WE-004"),
        )
    return Verdict(check=check, status="ok", message="every WorkflowExecution has a phase")


def _timeout(pipeline_run: Mapping[str, Any] | None, default: timedelta) -> timedelta:
    text = ((pipeline_run or {}).get("spec") or {}).get("timeouts", {}).get("pipeline")
    try:
        return parse_duration(text) if isinstance(text, str) else default
    except ValueError:
        return default


def overdue(
    running: Sequence[tuple[Mapping[str, Any], Mapping[str, Any] | None]] | Unanswered,
    *,
    now: datetime,
    default_timeout: timedelta,
) -> Verdict:
    """Running WorkflowExecutions past their timeout (their PipelineRun's
    `spec.timeouts.pipeline`, else the configured default)."""
    check = "running-too-long"
    if isinstance(running, Unanswered):
        return unknown(check, running)
    late = []
    for obj, pipeline_run in running:
        status = obj.get("status") or {}
        if status.get("phase") != "Running":
            continue
        started = parse_time(status.get("startTime")) or parse_time(
            (obj.get("metadata") or {}).get("creationTimestamp")
        )
        timeout = _timeout(pipeline_run, default_timeout)
        if started is not None and now - started > timeout:
            late.append(
                f"{_key(obj)} ({format_duration(now - started)} > {format_duration(timeout)})"
            )
    if late:
        return Verdict(
            check=check,
            status="fail",
            message=f"{len(late)} Running past its timeout: {names(late)}",
            fix=runbook("RB-WE-002"),
        )
    return Verdict(
        check=check, status="ok", message=f"{len(running)} Running, none past its timeout"
    )
