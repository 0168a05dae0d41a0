"""Audit records of SPEC §8: `workflowexecution.workflow.{started,completed,failed,skipped}`
and `workflowexecution.block.cleared`, each written once, after the status write that caused it.

Every record goes to the structured log. When an endpoint is configured, records also go to a
kubernaut Data Storage compatible batch endpoint through a bounded buffer (see `wfe.
observability.audit_http`); an unreachable sink never blocks remediation, and every dropped
record is counted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import structlog

from wfe.api.models import format_time

__all__ = ["AuditEvent", "AuditSink", "AuditType", "LogAuditSink"]


class AuditType(StrEnum):
    """Audit event types (kubernaut's event_type values)."""

    STARTED = "workflowexecution.workflow.started"
    COMPLETED = "workflowexecution.workflow.completed"
    FAILED = "workflowexecution.workflow.failed"
    SKIPPED = "workflowexecution.workflow.skipped"
    BLOCK_CLEARED = "workflowexecution.block.cleared"
    STALE_LOCK_RELEASED = "workflowexecution.lock.stale_released"
    PARAMETERS_DROPPED = "workflowexecution.parameters.dropped"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """One audit record, shaped like a kubernaut Data Storage audit event."""

    event_type: AuditType
    timestamp: datetime
    namespace: str
    name: str
    outcome: str
    target: str | None = None
    workflow_id: str | None = None
    correlation_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def to_wire(self) -> dict[str, Any]:
        """The JSON body of one event in a batch."""
        return {
            "event_id": self.event_id,
            "version": "1.0",
            "event_type": str(self.event_type),
            "event_category": "workflow",
            "event_action": str(self.event_type).rsplit(".", 1)[-1],
            "event_outcome": self.outcome,
            "event_timestamp": format_time(self.timestamp),
            "actor_type": "service",
            "actor_id": "workflow-execution",
            "resource_type": "WorkflowExecution",
            "resource_id": f"{self.namespace}/{self.name}",
            "correlation_id": self.correlation_id or f"{self.namespace}/{self.name}",
            "namespace": self.namespace,
            "event_data": {
                "target_resource": self.target,
                "workflow_id": self.workflow_id,
                **self.data,
            },
        }


class AuditSink(Protocol):
    """Where audit records go. `emit` never blocks and never raises."""

    def emit(self, event: AuditEvent) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class LogAuditSink:
    """Writes each audit record as one structured log line (always on)."""

    def __init__(self) -> None:
        self._log = structlog.get_logger("wfe.audit")

    def emit(self, event: AuditEvent) -> None:
        self._log.info("audit event", audit=event.to_wire())

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None
