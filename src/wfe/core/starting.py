"""The statuses of a WorkflowExecution around the start of its run (docs/architecture.md,
"No run without a trace" and "The status always explains").

The shell takes the lock (creates the PipelineRun), then adds the finalizer, then writes
`Running`. A crash or a lost write can stop it between any two of these; the next reconcile
starts from what the API server shows, and these functions say what to write:

- `adopted`: the lock PipelineRun is ours but the status does not say so — the run is recorded
  with the PipelineRun's own start time (it may have started, even finished, long ago);
- `vanished_before_start`: the finalizer says a lock was taken, yet no status records a run and
  the PipelineRun is gone. It may have run for a while before someone (or Tekton's pruning)
  deleted it, so it is a failure that ran — never a reason to run again;
- `waiting`: the controller cannot decide or start it for a while (Tekton API not served, cache
  not synced, API errors): `Pending` with a condition that says why, written once per cause.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from wfe.api.enums import FailureReason, Phase
from wfe.api.models import (
    Condition,
    FailureDetails,
    LocalObjectReference,
    WorkflowExecutionStatus,
)
from wfe.core.conditions import settle
from wfe.core.durations import format_duration
from wfe.core.lock import LockName

__all__ = [
    "EXPLAIN_AFTER",
    "START_CONDITION",
    "adopted",
    "vanished_before_start",
    "waiting",
]

# Condition type shared with the upstream controller's status (TektonPipelineCreated), so
# `kubectl wait --for=condition=TektonPipelineCreated=false` and dashboards read the same.
START_CONDITION = "TektonPipelineCreated"
# A hiccup shorter than this (one Conflict, a watch reconnect) is not worth a status write.
EXPLAIN_AFTER = timedelta(seconds=5)


def adopted(
    *,
    lock: LockName,
    started: datetime | None,
    prior_failures: int,
    now: datetime,
) -> WorkflowExecutionStatus:
    """`Running` for our own lock PipelineRun found without a status recording it.

    `started` is the PipelineRun's `status.startTime` when Tekton wrote one, so a run adopted
    after it finished gets its true start (and a true duration once followed to its end).
    """
    status = WorkflowExecutionStatus(
        phase=Phase.RUNNING,
        start_time=min(started, now) if started is not None else now,
        pipeline_run_ref=LocalObjectReference(name=lock),
        consecutive_failures=prior_failures,
    )
    return settle(status, now=now)


def vanished_before_start(
    status: WorkflowExecutionStatus,
    *,
    lock: LockName,
    prior_failures: int,
    now: datetime,
) -> WorkflowExecutionStatus:
    """`Failed`, a failure that ran: the lock was taken but its PipelineRun is gone before the
    start was recorded."""
    message = (
        f"PipelineRun {lock} was created for this WorkflowExecution and vanished before its "
        "start was recorded (deleted by a person or by pruning while the controller was "
        "interrupted); it may have partly run"
    )
    details = FailureDetails(
        reason=FailureReason.UNKNOWN,
        message=message,
        failed_at=now,
        was_execution_failure=True,
        natural_language_summary=(
            f"The remediation's PipelineRun {lock} disappeared before the controller recorded "
            "its start, so nobody knows how far it got. The target is blocked: check the "
            "target resource's state, then clear the block with `wfe clear-block`."
        ),
    )
    failed = status.model_copy(
        update={
            "phase": Phase.FAILED,
            "start_time": status.start_time or now,
            "completion_time": now,
            "duration": format_duration(timedelta(0)),
            "pipeline_run_ref": LocalObjectReference(name=lock),
            "failure_details": details,
            "consecutive_failures": prior_failures + 1,
            "next_allowed_execution": None,
            "conditions": None,
            # The lock was the PipelineRun: it is gone, so it is released.
            "lock_released_at": now,
        }
    )
    return settle(failed, now=now)


def waiting(
    status: WorkflowExecutionStatus,
    *,
    reason: str,
    message: str,
    now: datetime,
) -> WorkflowExecutionStatus | None:
    """`Pending` with a condition saying why it cannot start; None if the status says so
    already (one write per cause, however often the reconcile is retried)."""
    if status.phase not in (None, Phase.PENDING):
        return None
    current = next((c for c in status.conditions or () if c.type == START_CONDITION), None)
    if (
        status.phase is Phase.PENDING
        and current is not None
        and current.status == "False"
        and (current.reason, current.message) == (reason, message)
    ):
        return None
    changed = current is None or current.status != "False"
    condition = Condition(
        type=START_CONDITION,
        status="False",
        reason=reason,
        message=message[:1024],
        last_transition_time=now if changed or current is None else current.last_transition_time,
    )
    others = [c for c in status.conditions or () if c.type != START_CONDITION]
    pending = status.model_copy(update={"phase": Phase.PENDING, "conditions": [*others, condition]})
    return settle(pending, now=now)
