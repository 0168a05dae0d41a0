"""Audit records to a kubernaut Data Storage compatible batch endpoint (SPEC §8).

`HttpAuditSink` POSTs batches to `<endpoint>/api/v1/audit/events/batch`: the body is a JSON
array of `AuditEvent.to_wire()` objects, which is the shape Data Storage's batch handler
decodes (an array of audit event requests, validated as a whole; `201 Created` with the event
IDs, or `202 Accepted` when Data Storage queued them for itself). Any 2xx counts as delivered.

Why it is shaped so:

- `emit` only appends to an in-memory buffer and wakes the sender task, so remediation never
  waits for the sink and never sees its errors. Call it from the event loop's thread.
- The buffer is bounded (`buffer_size` events, including the batch in flight). When it is
  full the **newest** event is dropped: events already accepted are never evicted, so what
  reaches Data Storage is an unbroken prefix of the history (as kubernaut's own buffered
  store does), and the log sink (`TeeAuditSink` with `LogAuditSink`) still has every record.
- Failures that may pass (connection errors, timeouts, 408, 429, 5xx) are retried with capped
  exponential backoff, the same batch again, so order is kept. Delivery is at least once: a
  response lost after Data Storage stored the batch means it is sent again (`event_id` lets
  the receiver tell).
- A rejected batch (any other 4xx: Data Storage refuses a whole batch when one event is
  invalid) is split in halves until the bad events are isolated; only those are dropped.
- `close()` stops accepting events and flushes until a deadline; what is still undelivered
  then is dropped.

Every dropped event is counted in `workflowexecution_audit_events_dropped_total{reason}`:
`buffer_full`, `rejected` or `shutdown`; every delivered one in
`workflowexecution_audit_events_sent_total`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import deque
from collections.abc import Mapping, Sequence

import aiohttp
import structlog

from wfe.observability.audit import AuditEvent, AuditSink
from wfe.observability.metrics import Metrics

__all__ = ["BATCH_PATH", "DROP_REASONS", "HttpAuditSink", "TeeAuditSink"]

BATCH_PATH = "/api/v1/audit/events/batch"
DROP_REASONS = ("buffer_full", "rejected", "shutdown")
_RETRYABLE_4XX = frozenset({408, 425, 429})
_log = structlog.get_logger("wfe.audit")


class _Rejected(Exception):
    """The endpoint refused the batch for good (4xx other than the retryable ones)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:256]}")  # keep logs short and safe
        self.status = status


class HttpAuditSink:
    """Buffered, batching, retrying audit sink for Data Storage's batch endpoint."""

    def __init__(
        self,
        endpoint: str,
        *,
        metrics: Metrics,
        buffer_size: int,
        batch_size: int,
        request_timeout: float = 10.0,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        close_timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if buffer_size < 1 or batch_size < 1:
            raise ValueError("buffer_size and batch_size must be at least 1")
        self.url = endpoint.rstrip("/") + BATCH_PATH
        self._metrics = metrics
        self._buffer_size = buffer_size
        self._batch_size = min(batch_size, buffer_size)
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._close_timeout = close_timeout
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        self._pending: deque[AuditEvent] = deque()
        self._wakeup = asyncio.Event()
        self._closing = False
        self._sender: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._failing = False
        for reason in DROP_REASONS:  # pre-initialised so rate()/increase() see the first drop
            metrics.audit_dropped.labels(reason=reason)

    @property
    def pending(self) -> int:
        """Events accepted and not yet delivered or dropped."""
        return len(self._pending)

    def emit(self, event: AuditEvent) -> None:
        """Queue `event` for delivery; never blocks, never raises."""
        try:
            if self._closing:
                self._drop("shutdown", 1)
            elif len(self._pending) >= self._buffer_size:
                self._drop("buffer_full", 1)
            else:
                self._pending.append(event)
                self._wakeup.set()
        except Exception:  # an audit failure must never reach remediation
            _log.exception("audit event not queued", event_type=str(event.event_type))

    async def start(self) -> None:
        """Start the sender task (events emitted before are kept and sent)."""
        if self._sender is not None:
            return
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        self._sender = asyncio.create_task(self._run(), name="audit-http-sender")

    async def close(self) -> None:
        """Stop accepting events, deliver what is buffered until the deadline, drop the rest."""
        self._closing = True
        self._wakeup.set()
        sender = self._sender
        if sender is not None:
            try:
                await asyncio.wait_for(asyncio.shield(sender), self._close_timeout)
            except TimeoutError:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender
            except Exception:
                _log.exception("audit sender failed")
        if self._pending:
            left = len(self._pending)
            self._pending.clear()
            self._drop("shutdown", left)
            _log.warning("audit events dropped at shutdown", count=left, endpoint=self.url)
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._sender = None

    # --- sending --------------------------------------------------------------------------

    def _drop(self, reason: str, count: int) -> None:
        self._metrics.audit_dropped.labels(reason=reason).inc(count)

    async def _run(self) -> None:
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = list(itertools.islice(self._pending, self._batch_size))
            await self._deliver(batch)

    async def _deliver(self, batch: Sequence[AuditEvent]) -> None:
        """Deliver `batch` (the head of the buffer) or drop what is rejected; then pop it."""
        attempt = 0
        while True:
            try:
                await self._post(batch)
            except _Rejected as exc:
                if len(batch) > 1:
                    half = len(batch) // 2
                    await self._deliver(batch[:half])
                    await self._deliver(batch[half:])
                    return
                _log.error(
                    "audit event rejected",
                    event_id=batch[0].event_id,
                    event_type=str(batch[0].event_type),
                    error=str(exc),
                )
                self._drop("rejected", 1)
                self._pending.popleft()
                return
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                if not self._failing:
                    _log.warning("audit endpoint unreachable; retrying", error=str(exc))
                    self._failing = True
                delay = min(self._backoff_base * 2**attempt, self._backoff_max)
                attempt += 1
                await asyncio.sleep(delay)
                continue
            if self._failing:
                _log.info("audit endpoint reachable again", endpoint=self.url)
                self._failing = False
            self._metrics.audit_sent.inc(len(batch))
            for _ in batch:
                self._pending.popleft()
            return

    async def _post(self, batch: Sequence[AuditEvent]) -> None:
        session = self._session
        if session is None:
            raise aiohttp.ClientConnectionError("audit sink not started")
        body = json.dumps([event.to_wire() for event in batch])
        async with session.post(self.url, data=body, headers=self._headers) as response:
            if 200 <= response.status < 300:
                return
            text = await response.text()
            if 400 <= response.status < 500 and response.status not in _RETRYABLE_4XX:
                raise _Rejected(response.status, text)
            raise aiohttp.ClientResponseError(
                response.request_info,
                response.history,
                status=response.status,
                message=text[:256],
            )


class TeeAuditSink:
    """Sends each event to every sink, in order (e.g. `LogAuditSink` and `HttpAuditSink`)."""

    def __init__(self, *sinks: AuditSink) -> None:
        self.sinks = sinks

    def emit(self, event: AuditEvent) -> None:
        for sink in self.sinks:
            try:
                sink.emit(event)
            except Exception:  # the protocol says never; a broken sink must not stop others
                _log.exception("audit sink failed", sink=type(sink).__name__)

    async def start(self) -> None:
        for sink in self.sinks:
            start = getattr(sink, "start", None)
            if start is not None:
                await start()

    async def close(self) -> None:
        for sink in self.sinks:
            try:
                await sink.close()
            except Exception:
                _log.exception("audit sink close failed", sink=type(sink).__name__)
