"""The whole plan for a finished (Completed or Failed) WorkflowExecution (SPEC §3-§4).

Three things can be due, in this order, each with the status it leads to:

1. a block clearance a person asked for by annotation (applied, or refused with the reason);
2. a completion time, if someone else wrote the terminal phase without one — otherwise there is
   no release time and the lock would be held forever (`release.with_completion_time`);
3. the lock's release: now (delete the PipelineRun, then record `lockReleasedAt`), later
   (look again then), or never (no lock held).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wfe.api.models import BlockClearance, WorkflowExecutionStatus
from wfe.core import clearance, release
from wfe.core.conditions import settle
from wfe.core.errors import Problem
from wfe.core.history import WfeRecord
from wfe.core.lock import LockName
from wfe.core.policy import Policy

__all__ = ["FinishedPlan", "plan_finished", "released"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FinishedPlan:
    """What to write and do for a finished WorkflowExecution.

    `status` is the status to write first (None: no change); `cleared` / `refused` say what
    became of a requested clearance; `release` names the lock to delete now; `requeue_at` is
    when to look again.
    """

    status: WorkflowExecutionStatus | None = None
    cleared: BlockClearance | None = None
    refused: Problem | None = None
    release: LockName | None = None
    requeue_at: datetime | None = None


def plan_finished(
    record: WfeRecord,
    *,
    pipeline_run_completion: datetime | None,
    now: datetime,
    policy: Policy,
) -> FinishedPlan:
    """Plan for finished `record`; `pipeline_run_completion` is its lock's completion time."""
    current = record.status
    requested = clearance.requested_clearance(record.annotations, current, now=now, policy=policy)
    cleared = requested if isinstance(requested, BlockClearance) else None
    refused = requested if isinstance(requested, Problem) else None
    if cleared is not None:
        current = current.model_copy(update={"block_clearance": cleared})
    completed = release.with_completion_time(
        current, pipeline_run_completion=pipeline_run_completion, now=now
    )
    current = settle(completed or current, now=now)
    changed = current if current != record.status else None
    step = release.lock_step(current, now, policy)
    due: LockName | None = None
    if isinstance(step, release.ReleaseNow) and current.pipeline_run_ref is not None:
        due = LockName(current.pipeline_run_ref.name)
    when = step.when if isinstance(step, release.RequeueAt) else None
    return FinishedPlan(
        status=changed, cleared=cleared, refused=refused, release=due, requeue_at=when
    )


def released(status: WorkflowExecutionStatus, *, now: datetime) -> WorkflowExecutionStatus:
    """The status once its lock is deleted: `lockReleasedAt` set, once."""
    if status.lock_released_at is not None:
        return status
    return settle(status.model_copy(update={"lock_released_at": now}), now=now)
