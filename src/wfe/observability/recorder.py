"""One recorded outcome → the log line, the Kubernetes Event, the metrics and the audit record.

The controller calls a `Recorder` method once, after the status write that made the outcome
true; keeping the four outputs in one place means they cannot drift apart (STYLE §7).
"""

from __future__ import annotations

from datetime import datetime

import structlog

from wfe.api.enums import FailureReason, Outcome, Phase
from wfe.api.models import BlockClearance, WorkflowExecutionStatus
from wfe.core.history import WfeRecord
from wfe.observability.audit import AuditEvent, AuditSink, AuditType
from wfe.observability.events import EventPublisher, EventReason, event_body
from wfe.observability.metrics import Metrics

__all__ = ["Recorder", "error_category"]

_log = structlog.get_logger("wfe.controller")


def error_category(reason: FailureReason) -> str:
    """The `workflowexecution_errors_total` category of a recorded failure."""
    if reason is FailureReason.CONFIGURATION_ERROR:
        return "validation"
    if reason is FailureReason.FORBIDDEN:
        return "permission"
    return "execution"


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


class Recorder:
    """Records outcomes of reconciles."""

    def __init__(self, *, metrics: Metrics, events: EventPublisher, audit: AuditSink) -> None:
        self.metrics = metrics
        self._events = events
        self._audit = audit

    def _event(self, wfe: WfeRecord, reason: EventReason, message: str, now: datetime) -> None:
        body = event_body(
            reason=reason,
            message=message,
            namespace=wfe.namespace,
            name=wfe.name,
            uid=wfe.uid,
            now=now,
        )
        self._events.publish(wfe.namespace, body)

    def _audit_emit(
        self, wfe: WfeRecord, kind: AuditType, outcome: str, now: datetime, **data: object
    ) -> None:
        self._audit.emit(
            AuditEvent(
                event_type=kind,
                timestamp=now,
                namespace=wfe.namespace,
                name=wfe.name,
                outcome=outcome,
                target=wfe.target,
                workflow_id=wfe.workflow_id,
                data={k: v for k, v in data.items() if v is not None},
            )
        )

    def _left_pending(self, wfe: WfeRecord, into: Phase, now: datetime) -> None:
        self.metrics.transition(into=Phase.PENDING)
        self.metrics.transition(
            into=into, left=Phase.PENDING, seconds_in_left=_seconds(wfe.created, now)
        )

    def started(self, wfe: WfeRecord, status: WorkflowExecutionStatus, *, now: datetime) -> None:
        lock = status.pipeline_run_ref.name if status.pipeline_run_ref else None
        self._left_pending(wfe, Phase.RUNNING, now)
        self.metrics.pipelinerun_creations.inc()
        _log.info("pipelinerun created", pipelinerun=lock)
        self._event(wfe, EventReason.PIPELINE_RUN_CREATED, f"Created PipelineRun {lock}", now)
        self._audit_emit(wfe, AuditType.STARTED, "pending", now, pipelinerun=lock)

    def skipped(self, wfe: WfeRecord, status: WorkflowExecutionStatus, *, now: datetime) -> None:
        details = status.skip_details
        assert details is not None
        self._left_pending(wfe, Phase.SKIPPED, now)
        self.metrics.skip(details.reason)
        _log.info(
            "workflowexecution skipped", skip_reason=str(details.reason), detail=details.message
        )
        self._event(wfe, EventReason.SKIPPED, f"{details.reason}: {details.message}", now)
        self._audit_emit(
            wfe,
            AuditType.SKIPPED,
            "skipped",
            now,
            skip_reason=str(details.reason),
            message=details.message,
        )

    def finished(
        self,
        wfe: WfeRecord,
        status: WorkflowExecutionStatus,
        *,
        now: datetime,
        from_pending: bool = False,
    ) -> None:
        """Completed or Failed: from Running, or straight from Pending (invalid spec)."""
        phase = status.phase
        assert phase in (Phase.COMPLETED, Phase.FAILED)
        if from_pending:
            self._left_pending(wfe, phase, now)
        else:
            self.metrics.transition(
                into=phase,
                left=Phase.RUNNING,
                seconds_in_left=_seconds(status.start_time, status.completion_time),
            )
            ran = _seconds(status.start_time, status.completion_time)
            self.metrics.finished(Outcome(phase.value), ran or 0.0)
        if phase is Phase.COMPLETED:
            _log.info("workflow completed", duration=status.duration)
            self._event(
                wfe, EventReason.WORKFLOW_COMPLETED, f"Workflow completed in {status.duration}", now
            )
            self._audit_emit(wfe, AuditType.COMPLETED, "success", now, duration=status.duration)
            return
        details = status.failure_details
        assert details is not None
        self.metrics.error(error_category(details.reason), str(details.reason))
        _log.warning(
            "workflow failed",
            failure_reason=str(details.reason),
            failed_task=details.failed_task_name,
            failed_step=details.failed_step_name,
            exit_code=details.exit_code,
            was_execution_failure=details.was_execution_failure,
        )
        self._event(
            wfe,
            EventReason.WORKFLOW_FAILED,
            f"{details.reason}: {details.natural_language_summary or details.message}",
            now,
        )
        self._audit_emit(
            wfe,
            AuditType.FAILED,
            "failure",
            now,
            failure_reason=str(details.reason),
            message=details.message,
            failed_task=details.failed_task_name,
            was_execution_failure=details.was_execution_failure,
            consecutive_failures=status.consecutive_failures,
        )

    def run_caveats(
        self,
        wfe: WfeRecord,
        *,
        warnings: tuple[str, ...],
        dropped_parameters: tuple[str, ...],
        now: datetime,
    ) -> None:
        """What a run that starts does not do as written: a Warning Event per warning (an
        unpinned bundle allowed to run), and the parameters `declaredParameterNames` kept out
        of the PipelineRun — an Event and an audit record, so the drop is never silent."""
        for warning in warnings:
            _log.warning("run warning", warning=warning)
            self._event(wfe, EventReason.RUN_WARNING, warning, now)
        if dropped_parameters:
            names = ", ".join(dropped_parameters)
            _log.warning("undeclared parameters dropped", parameters=list(dropped_parameters))
            self._event(
                wfe,
                EventReason.PARAMETERS_DROPPED,
                f"not passed to the workflow (not in declaredParameterNames): {names}",
                now,
            )
            self._audit_emit(
                wfe,
                AuditType.PARAMETERS_DROPPED,
                "success",
                now,
                dropped_parameters=list(dropped_parameters),
            )

    def waiting(self, wfe: WfeRecord, *, reason: str, message: str, now: datetime) -> None:
        """It cannot be decided or started for a while; the status now says why."""
        _log.warning("workflowexecution waiting to start", wait_reason=reason, detail=message)
        self._event(wfe, EventReason.WAITING_TO_START, f"{reason}: {message}", now)

    def lock_released(self, wfe: WfeRecord, lock: str, *, now: datetime) -> None:
        _log.info("lock released", pipelinerun=lock)
        self._event(wfe, EventReason.LOCK_RELEASED, f"Deleted PipelineRun {lock}", now)

    def stale_lock_released(
        self, wfe: WfeRecord, lock: str, *, owner: str, why: str, now: datetime
    ) -> None:
        _log.warning("stale lock released", pipelinerun=lock, owner=owner, why=why)
        self._event(
            wfe,
            EventReason.STALE_LOCK_RELEASED,
            f"Deleted stale PipelineRun {lock} of {owner}: {why}",
            now,
        )
        self._audit_emit(
            wfe,
            AuditType.STALE_LOCK_RELEASED,
            "success",
            now,
            pipelinerun=lock,
            owner=owner,
            why=why,
        )

    def block_cleared(self, wfe: WfeRecord, clearance: BlockClearance, *, now: datetime) -> None:
        _log.info(
            "block cleared", cleared_by=clearance.cleared_by, clear_reason=clearance.clear_reason
        )
        self._event(
            wfe,
            EventReason.BLOCK_CLEARED,
            f"Block cleared by {clearance.cleared_by}: {clearance.clear_reason}",
            now,
        )
        self._audit_emit(
            wfe,
            AuditType.BLOCK_CLEARED,
            "success",
            now,
            cleared_by=clearance.cleared_by,
            clear_reason=clearance.clear_reason,
        )

    def block_clear_refused(self, wfe: WfeRecord, why: str, *, now: datetime) -> None:
        _log.warning("block clearance refused", why=why)
        self._event(wfe, EventReason.BLOCK_CLEAR_REFUSED, why, now)

    def deleted(self, wfe: WfeRecord, *, lock: str | None, now: datetime) -> None:
        _log.info("workflowexecution deleted", pipelinerun=lock)
        message = f"Cleaned up PipelineRun {lock}" if lock else "Cleaned up"
        self._event(wfe, EventReason.WORKFLOW_EXECUTION_DELETED, message, now)
