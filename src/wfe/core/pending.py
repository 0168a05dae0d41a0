"""The whole plan for an undecided WorkflowExecution (phase empty or Pending).

Before `decide` (SPEC §4, docs/architecture.md "Deciding") come the two questions a crash can
leave open, and their answers win over any decision:

1. Is its lock PipelineRun already there and ours? Then a status write was lost: adopt it.
2. Does it carry our finalizer? The finalizer is added only after the lock was taken, so a lock
   was taken for it. If the cache shows no PipelineRun of ours, ask the API server first
   (`ConfirmLock`); if it is truly gone, the run may have partly happened: `Failed`, a failure
   that ran — never a second create.

Otherwise `decide` rules: run, skip, fail, or defer. Every outcome carries the status to write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from wfe.api.models import WorkflowExecutionStatus
from wfe.core import starting
from wfe.core.decide import Candidate, Decision, decide, prior_failures
from wfe.core.history import WfeRecord, most_recent_terminal
from wfe.core.kinds import KindCatalog
from wfe.core.policy import Policy

__all__ = ["AdoptLock", "ConfirmLock", "LockSeen", "PendingPlan", "RecordVanished", "plan_pending"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LockSeen:
    """The candidate's lock PipelineRun as far as the shell has looked."""

    ours: bool
    """It exists and records this WorkflowExecution as its owner."""
    started: datetime | None = None
    """Its `status.startTime`, if Tekton wrote one."""
    confirmed: bool = False
    """Read from the API server (not the cache) — needed before concluding it is gone."""


@dataclass(frozen=True, slots=True)
class AdoptLock:
    """Our lock exists but no status records the run: write `status` (Running), finalizer
    first, and follow it at once."""

    status: WorkflowExecutionStatus


@dataclass(frozen=True, slots=True)
class ConfirmLock:
    """Read the lock from the API server and plan again with `confirmed=True`."""


@dataclass(frozen=True, slots=True)
class RecordVanished:
    """The lock taken for it is gone before its start was recorded: write `status` (Failed)."""

    status: WorkflowExecutionStatus


PendingPlan = AdoptLock | ConfirmLock | RecordVanished | Decision


def plan_pending(
    record: WfeRecord,
    others: Sequence[WfeRecord],
    lock: LockSeen,
    *,
    now: datetime,
    policy: Policy,
    kinds: KindCatalog,
) -> PendingPlan:
    """What to do with undecided `record`, given its target's other WorkflowExecutions."""
    last = most_recent_terminal(others, record.target) if record.target is not None else None
    if record.lock is not None and lock.ours:
        return AdoptLock(
            starting.adopted(
                lock=record.lock, started=lock.started, prior_failures=prior_failures(last), now=now
            )
        )
    if record.lock is not None and record.finalized:
        if not lock.confirmed:
            return ConfirmLock()
        return RecordVanished(
            starting.vanished_before_start(
                record.status, lock=record.lock, prior_failures=prior_failures(last), now=now
            )
        )
    candidate = Candidate(
        namespace=record.namespace,
        name=record.name,
        uid=record.uid,
        spec=record.spec,
        annotations=record.annotations,
    )
    return decide(candidate, others, now=now, policy=policy, kinds=kinds)
