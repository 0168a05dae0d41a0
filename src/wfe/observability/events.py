"""Kubernetes Events of SPEC §8: named reasons, written best-effort on the WorkflowExecution.

An Event that cannot be written is logged and counted, never retried into a loop and never
allowed to fail the reconcile: the status is the record of truth, Events are for people.
`EventPublisher` sends them from a bounded queue in the background, so a reconcile never waits
for an Event (under an alert storm that halves the API round trips on the decision path).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import structlog

from wfe.api.models import API_VERSION, KIND, format_time

__all__ = ["COMPONENT", "EventPublisher", "EventReason", "EventWriter", "event_body"]

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
    WAITING_TO_START = "WaitingToStart"
    RUN_WARNING = "RunWarning"
    PARAMETERS_DROPPED = "ParametersDropped"

    @property
    def warning(self) -> bool:
        return self in (
            EventReason.WORKFLOW_FAILED,
            EventReason.BLOCK_CLEAR_REFUSED,
            EventReason.WAITING_TO_START,
            EventReason.RUN_WARNING,
            EventReason.PARAMETERS_DROPPED,
        )


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
        "metadata": {"name": _event_name(name), "namespace": namespace},
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


def _event_name(name: str) -> str:
    """`<name>.<16 hex>`, within the 253 characters an object name may have: a
    WorkflowExecution's own name may already use them all."""
    head = name[: 253 - 17].rstrip("-.")
    return f"{head}.{secrets.token_hex(8)}"


class EventPublisher:
    """Writes Events in the background from a bounded queue; drops (and counts) when full.

    Args:
        writer: where Events go (the API client).
        on_drop: called once per Event that was not written (queue full or write failed).
        capacity: Events waiting at most.
        senders: concurrent writers.
    """

    def __init__(
        self,
        writer: EventWriter,
        *,
        on_drop: Callable[[], None],
        capacity: int = 1000,
        senders: int = 4,
    ) -> None:
        self._writer = writer
        self._on_drop = on_drop
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(capacity)
        self._senders = senders
        self._tasks: list[asyncio.Task[None]] = []
        self._log = structlog.get_logger("wfe.events")

    def publish(self, namespace: str, body: dict[str, Any]) -> None:
        """Queue an Event; never blocks, never raises."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._send(), name=f"event-sender-{n}")
                for n in range(self._senders)
            ]
        try:
            self._queue.put_nowait((namespace, body))
        except asyncio.QueueFull:
            self._on_drop()

    async def _send(self) -> None:
        while True:
            namespace, body = await self._queue.get()
            try:
                await self._writer.create_event(namespace, body)
            except Exception as exc:  # best-effort by design
                self._on_drop()
                self._log.warning("event not written", reason=body.get("reason"), error=str(exc))
            finally:
                self._queue.task_done()

    async def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (up to `timeout` seconds), then stop the senders."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
