"""Following a Running WorkflowExecution's PipelineRun to Completed or Failed (SPEC §6).

`observe` maps what the PipelineRun shows (or its absence) to the WorkflowExecution's next
status. It is idempotent: the same evidence gives the same status, so a reconcile that lost its
status write simply computes the same answer again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from wfe.api.enums import FailureReason, Phase
from wfe.api.models import FailureDetails, PipelineRunStatusSummary, WorkflowExecutionStatus
from wfe.core import summary
from wfe.core.backoff import next_allowed_execution
from wfe.core.conditions import settle
from wfe.core.durations import format_duration
from wfe.core.failure import RunEvidence, analyse
from wfe.core.policy import Policy

__all__ = ["Observation", "observe"]


@dataclass(frozen=True, slots=True)
class Observation:
    """The status to write; `entered` is the phase entered, if this is a transition."""

    status: WorkflowExecutionStatus
    entered: Phase | None


def observe(
    status: WorkflowExecutionStatus,
    evidence: RunEvidence | None,
    *,
    now: datetime,
    policy: Policy,
) -> Observation:
    """Next status of a Running WorkflowExecution given its PipelineRun (None: it is gone)."""
    if status.phase is not Phase.RUNNING:
        return Observation(status, None)
    if evidence is None:
        return Observation(settle(_deleted(status, now), now=now), Phase.FAILED)
    mirror = PipelineRunStatusSummary(
        status={True: "True", False: "False", None: "Unknown"}[evidence.succeeded],
        reason=evidence.reason,
        message=evidence.message,
        completed_tasks=evidence.completed_tasks,
        total_tasks=evidence.total_tasks,
    )
    if evidence.succeeded is None:
        running = status.model_copy(update={"pipeline_run_status": mirror})
        return Observation(settle(running, now=now), None)
    finished = evidence.completion_time or now
    started = status.start_time or evidence.start_time or finished
    common = {
        "pipeline_run_status": mirror,
        "completion_time": finished,
        "duration": format_duration(max(finished - started, timedelta(0))),
    }
    if evidence.succeeded:
        done = status.model_copy(
            update={
                **common,
                "phase": Phase.COMPLETED,
                "consecutive_failures": 0,
                "next_allowed_execution": None,
                "failure_details": None,
            }
        )
        return Observation(settle(done, now=now), Phase.COMPLETED)
    details = analyse(evidence, now=now)
    failed = _failed(status, details, finished, policy, common)
    return Observation(settle(failed, now=now), Phase.FAILED)


def _failed(
    status: WorkflowExecutionStatus,
    details: FailureDetails,
    finished: datetime,
    policy: Policy,
    common: dict[str, object],
) -> WorkflowExecutionStatus:
    failures = (status.consecutive_failures or 0) + 1
    # A failure that ran blocks the target outright (no backoff needed); one that never
    # started backs off so the next attempt waits.
    next_allowed = (
        None
        if details.was_execution_failure
        else next_allowed_execution(finished, failures, policy)
    )
    return status.model_copy(
        update={
            **common,
            "phase": Phase.FAILED,
            "failure_details": details,
            "consecutive_failures": failures,
            "next_allowed_execution": next_allowed,
        }
    )


def _deleted(status: WorkflowExecutionStatus, now: datetime) -> WorkflowExecutionStatus:
    name = status.pipeline_run_ref.name if status.pipeline_run_ref else "(unknown)"
    details = FailureDetails(
        reason=FailureReason.UNKNOWN,
        message=f"PipelineRun {name} was deleted before it finished",
        failed_at=now,
        execution_time_before_failure=(
            format_duration(now - status.start_time) if status.start_time else None
        ),
        # It may have partly run: treat it as a failure that ran (upstream said false).
        was_execution_failure=True,
    )
    details = details.model_copy(
        update={
            "natural_language_summary": (
                f"PipelineRun {name} was deleted by someone other than the controller "
                "before it finished. " + summary.failure_summary(details, name)
            )
        }
    )
    started = status.start_time or now
    return status.model_copy(
        update={
            "phase": Phase.FAILED,
            "completion_time": now,
            "duration": format_duration(max(now - started, timedelta(0))),
            "failure_details": details,
            "consecutive_failures": (status.consecutive_failures or 0) + 1,
            "next_allowed_execution": None,
            # The lock was the PipelineRun: it is gone, so it is released.
            "lock_released_at": now,
        }
    )
