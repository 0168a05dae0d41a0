"""The per-target safety ledger (`wfe locks`): every target held, cooling, backing off or
blocked, and the lock anomalies an operator must look at.

A row's state is not judged here: it is the rule the controller's own plan names for a new
WorkflowExecution on the target (`core.explain`, which asks `core.pending` and
`core.contention`); release times are `release.release_due`, blocks `clearance.blocks_target`,
the backoff count `decide.prior_failures` (docs/architecture.md, "The safety rules").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wfe.api.enums import Phase
from wfe.core import clearance, contention, decide, explain, release
from wfe.core.history import WfeRecord, most_recent_terminal
from wfe.core.policy import Policy

__all__ = ["COLUMNS", "LedgerRow", "ledger_row", "sort_rows"]

_STATES = {
    "ResourceBusy": "held",
    "LockHeld": "held",
    "PreviousExecutionFailed": "blocked",
    "ExhaustedRetries": "blocked",
    "VanishedLock": "blocked",
    "StaleLock": "stale-lock",
    "NothingHoldsItBack": "free",
    "KindSpelling": "misspelled",
    "Validation": "invalid",
    "DiscoveryIncomplete": "undecidable",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerRow:
    target: str
    state: str
    """held | cooling | backing-off | blocked | stale-lock | free | ..."""
    lock: str | None = None
    lock_state: str = "absent"
    holder: str | None = None
    holder_phase: str | None = None
    held_since: datetime | None = None
    release_due: datetime | None = None
    backoff_count: int = 0
    allowed_at: datetime | None = None
    blocked_since: datetime | None = None
    blocked_by: str | None = None
    anomalies: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = explain.plain(dataclasses.asdict(self))
        return out


COLUMNS = tuple(f.name for f in dataclasses.fields(LedgerRow))


def ledger_row(
    obs: explain.Observed, *, target: str | None, now: datetime, policy: Policy
) -> LedgerRow:
    """The row of `target`: `obs` is a new (hypothetical) WorkflowExecution on it, as
    `controller.inspect` gathers it."""
    new = explain.explain(obs, now=now, policy=policy)
    last = most_recent_terminal(obs.others, target) if target else None
    state = _STATES.get(new.rule, new.rule)
    if new.rule == "RecentlyRemediated":
        state = "backing-off" if last is not None and last.phase is Phase.FAILED else "cooling"
    blocked = last is not None and clearance.blocks_target(last.status, policy)
    lock = new.lock
    owner = _owner(obs)
    anomalies: list[str] = []
    if obs.existing is not None:
        recorded = obs.existing.owner
        if recorded is None:
            anomalies.append("unclaimed: the PipelineRun names no WorkflowExecution")
        elif owner is None:
            anomalies.append(f"owner gone: {recorded[0]}/{recorded[1]} no longer exists")
        else:
            due = release.release_due(owner.status, policy)
            if due is not None and due <= now and not obs.existing.deleting:
                anomalies.append(f"past its release time ({explain.to_rfc3339(due)})")
        if obs.existing.deleting:
            anomalies.append("being deleted: waits for its owner to record the run")
    return LedgerRow(
        target=target or "-",
        state=state,
        lock=obs.lock_name if obs.existing is not None else None,
        lock_state=lock.state if lock else "absent",
        holder=lock.holder if lock else None,
        holder_phase=owner.phase.value if owner and owner.phase else None,
        held_since=obs.lock_created,
        release_due=release.release_due(owner.status, policy) if owner else None,
        backoff_count=decide.prior_failures(last),
        allowed_at=new.allowed_at,
        blocked_since=last.status.completion_time if blocked and last else None,
        blocked_by=last.key if blocked and last else None,
        anomalies=tuple(anomalies),
    )


def _owner(obs: explain.Observed) -> WfeRecord | None:
    """The lock's owner, unless the object of that name is a later incarnation (its uid is
    not the one the lock records): then the owner is gone, as `contention` judges it."""
    owner, existing = obs.owner, obs.existing
    if owner is None or existing is None:
        return owner
    recorded = existing.annotations.get(contention.OWNER_UID_ANNOTATION)
    return None if recorded and owner.uid and owner.uid != recorded else owner


def sort_rows(rows: Sequence[LedgerRow], column: str) -> list[LedgerRow]:
    """Rows by `column` (missing values last), then by target."""
    if column not in COLUMNS:
        raise ValueError(f"--sort {column!r}: expected one of {', '.join(COLUMNS)}")

    def key(row: LedgerRow) -> tuple[bool, str, str]:
        value = getattr(row, column)
        text = explain.to_rfc3339(value) if isinstance(value, datetime) else str(value)
        return (value is None or value == (), text, row.target)

    return sorted(rows, key=key)
