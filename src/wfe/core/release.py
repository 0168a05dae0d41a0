"""When a finished WorkflowExecution releases its lock (SPEC §3).

The lock (its PipelineRun) is held until the target may run again, so the lock and the skip
rules of SPEC §4 always agree: Completed, or Failed after running, release at
`completionTime + cooldown`; Failed without anything having run releases at
`nextAllowedExecution`, the end of its backoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wfe.api.enums import Phase
from wfe.api.models import WorkflowExecutionStatus
from wfe.core.policy import Policy

__all__ = [
    "ReleaseNow",
    "ReleaseStep",
    "RequeueAt",
    "lock_step",
    "release_due",
    "with_completion_time",
]


@dataclass(frozen=True, slots=True)
class ReleaseNow:
    """Delete the PipelineRun (after the ownership check)."""


@dataclass(frozen=True, slots=True)
class RequeueAt:
    """Look again at `when`; the lock is still legitimately held."""

    when: datetime


ReleaseStep = ReleaseNow | RequeueAt | None


def release_due(status: WorkflowExecutionStatus, policy: Policy) -> datetime | None:
    """When this WorkflowExecution's lock may go, or None while it is not finished.

    Ignores whether it was already released: the stale-lock check asks this of an owner
    whose PipelineRun is still there.
    """
    if status.phase not in (Phase.COMPLETED, Phase.FAILED) or status.completion_time is None:
        return None
    details = status.failure_details
    if status.phase is Phase.FAILED and details is not None and not details.was_execution_failure:
        return status.next_allowed_execution or status.completion_time
    return status.completion_time + policy.cooldown


def lock_step(status: WorkflowExecutionStatus, now: datetime, policy: Policy) -> ReleaseStep:
    """What to do about this WorkflowExecution's lock now (None: it holds none)."""
    if status.pipeline_run_ref is None or status.lock_released_at is not None:
        return None
    due = release_due(status, policy)
    if due is None:
        return None
    return ReleaseNow() if due <= now else RequeueAt(due)


def with_completion_time(
    status: WorkflowExecutionStatus, *, pipeline_run_completion: datetime | None, now: datetime
) -> WorkflowExecutionStatus | None:
    """The status with the completion time a finished WorkflowExecution lacks, or None.

    Someone other than the controller may write `phase: Completed` without `completionTime`;
    without it there is no release time and the lock would be held forever. The PipelineRun's
    own completion time is the truth when there is one; otherwise the moment the controller
    first saw the terminal phase (now) — once written, it stays.
    """
    if status.phase not in (Phase.COMPLETED, Phase.FAILED) or status.completion_time is not None:
        return None
    finished = min(pipeline_run_completion, now) if pipeline_run_completion else now
    return status.model_copy(update={"completion_time": finished})
