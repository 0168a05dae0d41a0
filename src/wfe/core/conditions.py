"""The conditions of a WorkflowExecution's status, derived from its phase (docs/api.md,
"Conditions").

Tools wait on conditions, not phases: `kubectl wait --for=condition=Ready wfe/NAME` returns
once the WorkflowExecution is settled (Completed, Failed or Skipped), and Argo CD-style health
checks read the same. The upstream controller's condition types are kept, so dashboards and
scripts written for it read this one too:

- `Ready`: True once settled — Completed, Failed or Skipped (reason: the phase); False while
  Pending or Running.
- `TektonPipelineCreated`: True once the lock PipelineRun was created (`PipelineCreated`);
  False while it cannot be yet (the cause, e.g. `TektonUnavailable`) or when it never will be
  (`ConfigurationError`).
- `TektonPipelineRunning`: True while it runs (`PipelineStarted`), False once it has finished
  (`PipelineFinished`).
- `TektonPipelineComplete`: True if it succeeded (`PipelineSucceeded`), False if it failed
  (`PipelineFailed`).

`settle` is applied by every core function that produces a status to write, so a status and
its conditions never disagree; a condition keeps its `lastTransitionTime` while its status
stays the same, so re-deriving an unchanged status changes nothing (no write).
"""

from __future__ import annotations

from datetime import datetime

from wfe.api.enums import Phase
from wfe.api.models import Condition, WorkflowExecutionStatus

__all__ = ["COMPLETE", "CREATED", "READY", "RUNNING", "settle"]

READY = "Ready"
CREATED = "TektonPipelineCreated"
RUNNING = "TektonPipelineRunning"
COMPLETE = "TektonPipelineComplete"
_OURS = (READY, CREATED, RUNNING, COMPLETE)
_MESSAGE_MAX = 1024


def _wanted(status: WorkflowExecutionStatus) -> dict[str, tuple[str, str, str]]:
    """type -> (status, reason, message) the phase calls for; absent types are removed."""
    phase = status.phase
    ran = status.pipeline_run_ref is not None
    out: dict[str, tuple[str, str, str]] = {}
    if phase in (None, Phase.PENDING):
        out[READY] = ("False", "Pending", "not decided or started yet")
        return out
    if phase is Phase.SKIPPED:
        details = status.skip_details
        reason = str(details.reason) if details else "Skipped"
        out[READY] = ("True", "Skipped", f"{reason}: {details.message}" if details else reason)
        return out
    if phase is Phase.RUNNING:
        out[READY] = ("False", "Running", "the remediation is running")
        out[CREATED] = ("True", "PipelineCreated", "the lock PipelineRun was created")
        out[RUNNING] = ("True", "PipelineStarted", "the PipelineRun is running")
        return out
    failure = status.failure_details
    if phase is Phase.COMPLETED:
        out[READY] = ("True", "Completed", f"completed in {status.duration or '?'}")
    else:
        text = f"{failure.reason}: {failure.message}" if failure else "failed"
        out[READY] = ("True", "Failed", text)
    if not ran:
        out[CREATED] = ("False", "ConfigurationError", out[READY][2])
        return out
    out[CREATED] = ("True", "PipelineCreated", "the lock PipelineRun was created")
    out[RUNNING] = ("False", "PipelineFinished", "the PipelineRun has finished")
    if phase is Phase.COMPLETED:
        out[COMPLETE] = ("True", "PipelineSucceeded", "the PipelineRun succeeded")
    else:
        out[COMPLETE] = ("False", "PipelineFailed", out[READY][2])
    return out


def settle(status: WorkflowExecutionStatus, *, now: datetime) -> WorkflowExecutionStatus:
    """`status` with the conditions its phase calls for (see the module docstring).

    A waiting `TektonPipelineCreated=False` (written while it cannot start) is kept as it is;
    conditions of other types (someone else's) are left alone.
    """
    previous = {c.type: c for c in status.conditions or ()}
    wanted = _wanted(status)
    waiting = previous.get(CREATED)
    if status.phase in (None, Phase.PENDING) and waiting is not None:
        wanted[CREATED] = (waiting.status, waiting.reason, waiting.message)
    conditions = [c for c in status.conditions or () if c.type not in _OURS]
    for kind in _OURS:
        if kind not in wanted:
            continue
        state, reason, message = wanted[kind]
        before = previous.get(kind)
        since = before.last_transition_time if before and before.status == state else now
        conditions.append(
            Condition(
                type=kind,
                status=state,
                reason=reason,
                message=message[:_MESSAGE_MAX],
                last_transition_time=since,
            )
        )
    if conditions == list(status.conditions or ()):
        return status
    return status.model_copy(update={"conditions": conditions or None})
