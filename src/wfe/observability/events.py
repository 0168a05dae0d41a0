"""Kubernetes Events of SPEC §8: named reasons, written best-effort on the WorkflowExecution.

An Event that cannot be written is logged and counted, never retried into a loop and never
allowed to fail the reconcile: the status is the record of truth, Events are for people.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from wfe.api.models import API_VERSION, KIND, format_time

__all__ = ["COMPONENT", "EventReason", "EventWriter", "event_body"]

COMPONENT = "workflow-execution"


class EventReason(StrEnum):
    """Event reasons; `warning` says which are Warning events."""

    PIPELINE_RUN_CREATED = "PipelineRunCreated"
    WORKFLOW_COMPLETED = "WorkflowCompleted"
    WORKFLOW_FAILED = "WorkflowFailed"
    SKIPPED = "Skipped"
    LOCK_RELEASED = "LockReleased"
    STALE_LOCK_RELEASED = "StaleLockReleased"
    BLOCK_CLEARED = "BlockCleared"
    BLOCK_CLEAR_REFUSED = "BlockClearRefused"
    WORKFLOW_EXECUTION_DELETED = "WorkflowExecutionDeleted"

    @property
    def warning(self) -> bool:
        return self in (EventReason.WORKFLOW_FAILED, EventReason.BLOCK_CLEAR_REFUSED)


class EventWriter(Protocol):
    """The port that stores an Event (wfe.kube's client satisfies it)."""

    async def create_event(self, namespace: str, body: dict[str, Any]) -> None: ...


def event_body(
    *,
    reason: EventReason,
    message: str,
    namespace: str,
    name: str,
    uid: str,
    now: datetime,
) -> dict[str, Any]:
    """A core/v1 Event about WorkflowExecution `namespace/name`."""
    stamp = format_time(now)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.{secrets.token_hex(8)}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "namespace": namespace,
            "name": name,
            "uid": uid,
        },
        "reason": str(reason),
        "message": message[:1024],
        "type": "Warning" if reason.warning else "Normal",
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
