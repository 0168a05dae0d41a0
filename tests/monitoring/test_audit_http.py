"""HttpAuditSink against a local receiver that goes down and comes back (SPEC §8).

Nothing accepted within the buffer bound is lost, every loss beyond it is counted, and `emit`
never blocks, whatever the receiver does.
"""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from wfe.dev.eventually import eventually
from wfe.observability.audit import AuditEvent, AuditType
from wfe.observability.audit_http import BATCH_PATH, HttpAuditSink, TeeAuditSink
from wfe.observability.metrics import Metrics

# The receiver fixture runs in the session loop (asyncio_default_fixture_loop_scope), so the
# tests must too.
pytestmark = pytest.mark.asyncio(loop_scope="session")


class Receiver:
    """A Data Storage stand-in: can be stopped and started again on the same port."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.port = 0
        self.fail_next = 0  # answer this many requests with 503
        self.reject: set[str] = set()  # event_ids whose batch is answered with 400
        self.hang = False
        self.requests = 0
        self._runner: web.AppRunner | None = None

    @property
    def ids(self) -> list[str]:
        return [e["event_id"] for batch in self.batches for e in batch]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.hang:
            await asyncio.sleep(3600)
        body = await request.json()
        assert isinstance(body, list)
        if self.fail_next:
            self.fail_next -= 1
            return web.json_response({"title": "Database Error"}, status=503)
        if any(e["event_id"] in self.reject for e in body):
            return web.json_response({"title": "Validation Error"}, status=400)
        self.batches.append(body)
        return web.json_response({"event_ids": [e["event_id"] for e in body]}, status=201)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(BATCH_PATH, self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@pytest.fixture
async def receiver() -> Any:
    r = Receiver()
    await r.start()
    yield r
    r.hang = False
    await r.stop()


def _event(n: int) -> AuditEvent:
    return AuditEvent(
        event_type=AuditType.STARTED,
        timestamp=datetime(2025, 1, 1, tzinfo=UTC),
        namespace="payment",
        name=f"wfe-{n}",
        outcome="pending",
        target="payment/Deployment/api",
        workflow_id="restart-pod",
        event_id=f"event-{n:05d}",
    )


def _sink(r: Receiver, metrics: Metrics, **kw: Any) -> HttpAuditSink:
    kw.setdefault("buffer_size", 100)
    kw.setdefault("batch_size", 10)
    return HttpAuditSink(r.url, metrics=metrics, backoff_base=0.02, backoff_max=0.1, **kw)


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def _dropped(metrics: Metrics, reason: str) -> float:
    return _value(metrics, "workflowexecution_audit_events_dropped_total", reason=reason)


def _sent(metrics: Metrics) -> float:
    return _value(metrics, "workflowexecution_audit_events_sent_total")


async def test_delivers_batches_in_order_in_the_data_storage_shape(receiver: Receiver) -> None:
    metrics = Metrics()
    sink = _sink(receiver, metrics)
    await sink.start()
    for n in range(25):
        sink.emit(_event(n))
    await sink.close()
    assert receiver.ids == [f"event-{n:05d}" for n in range(25)]
    assert all(len(b) <= 10 for b in receiver.batches)
    first = receiver.batches[0][0]
    assert first["event_type"] == "workflowexecution.workflow.started"
    assert first["resource_id"] == "payment/wfe-0"
    assert _sent(metrics) == 25
    for reason in ("buffer_full", "rejected", "shutdown"):  # exported from the start
        assert metrics.registry.get_sample_value(
            "workflowexecution_audit_events_dropped_total", {"reason": reason}
        ) == pytest.approx(0)


async def test_nothing_is_lost_within_the_buffer_while_the_receiver_is_down(
    receiver: Receiver,
) -> None:
    metrics = Metrics()
    sink = _sink(receiver, metrics, buffer_size=50)
    await sink.start()
    sink.emit(_event(0))
    await eventually(lambda: receiver.ids == ["event-00000"], 5)
    await receiver.stop()  # down: connections refused
    for n in range(1, 50):
        sink.emit(_event(n))
    await asyncio.sleep(0.5)  # several failed attempts
    assert sink.pending == 49
    await receiver.start()  # back, same port
    await eventually(lambda: len(receiver.ids) == 50, 10, message="all delivered")
    await sink.close()
    assert receiver.ids == [f"event-{n:05d}" for n in range(50)]  # in order, once each
    assert _sent(metrics) == 50
    assert sum(_dropped(metrics, r) for r in ("buffer_full", "rejected", "shutdown")) == 0


async def test_every_loss_beyond_the_bound_is_counted_and_the_oldest_are_kept(
    receiver: Receiver,
) -> None:
    metrics = Metrics()
    sink = _sink(receiver, metrics, buffer_size=10, batch_size=4)
    await sink.start()
    await receiver.stop()
    for n in range(25):
        sink.emit(_event(n))
    assert _dropped(metrics, "buffer_full") == 15
    await receiver.start()
    await eventually(lambda: len(receiver.ids) == 10, 10)
    await sink.close()
    assert receiver.ids == [f"event-{n:05d}" for n in range(10)]  # drop-newest
    assert _sent(metrics) + _dropped(metrics, "buffer_full") == 25


async def test_emit_never_blocks_and_close_keeps_its_deadline(receiver: Receiver) -> None:
    receiver.hang = True  # accepts the connection, never answers
    metrics = Metrics()
    sink = _sink(receiver, metrics, buffer_size=1000, close_timeout=0.3, request_timeout=30)
    await sink.start()
    await asyncio.sleep(0)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    tick_task = asyncio.create_task(ticker())
    # emit is a plain function: it cannot wait for the sink, whatever the receiver does.
    assert not inspect.iscoroutinefunction(sink.emit)
    for n in range(5000):
        sink.emit(_event(n))
        if n % 500 == 0:
            await asyncio.sleep(0.01)
    assert ticks > 0  # the loop kept running
    # close() must honour its own deadline against a receiver that never answers; the
    # wait_for is only a guard against a hang, far above the 0.3 s deadline.
    await asyncio.wait_for(sink.close(), 10)
    tick_task.cancel()
    assert _dropped(metrics, "buffer_full") == 4000
    assert _dropped(metrics, "shutdown") == 1000
    assert _sent(metrics) == 0
    sink.emit(_event(9999))  # after close: counted, not raised
    assert _dropped(metrics, "shutdown") == 1001


async def test_a_rejected_batch_is_split_and_only_the_bad_event_dropped(
    receiver: Receiver,
) -> None:
    receiver.reject = {"event-00005"}
    metrics = Metrics()
    sink = _sink(receiver, metrics, batch_size=8)
    for n in range(8):
        sink.emit(_event(n))  # before start: kept until the sender runs
    await sink.start()
    await sink.close()
    assert receiver.ids == [f"event-{n:05d}" for n in range(8) if n != 5]
    assert _dropped(metrics, "rejected") == 1
    assert _sent(metrics) == 7


async def test_server_errors_are_retried_with_backoff_without_duplicates(
    receiver: Receiver,
) -> None:
    receiver.fail_next = 3
    metrics = Metrics()
    sink = _sink(receiver, metrics)
    await sink.start()
    for n in range(5):
        sink.emit(_event(n))
    await eventually(lambda: len(receiver.ids) == 5, 10)
    await sink.close()
    assert receiver.requests >= 4
    assert receiver.ids == [f"event-{n:05d}" for n in range(5)]
    assert _sent(metrics) == 5


async def test_tee_sends_to_every_sink_even_if_one_fails(receiver: Receiver) -> None:
    seen: list[str] = []

    class Broken:
        def emit(self, event: AuditEvent) -> None:
            raise RuntimeError("broken sink")

        async def close(self) -> None:
            raise RuntimeError("broken sink")

    class Recording:
        def emit(self, event: AuditEvent) -> None:
            seen.append(event.event_id)

        async def close(self) -> None:
            return None

    metrics = Metrics()
    http = _sink(receiver, metrics)
    tee = TeeAuditSink(Broken(), Recording(), http)
    await tee.start()
    tee.emit(_event(1))
    await tee.close()
    assert seen == ["event-00001"]
    assert receiver.ids == ["event-00001"]


async def test_constructor_refuses_empty_bounds() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        HttpAuditSink("http://127.0.0.1:1", metrics=Metrics(), buffer_size=0, batch_size=1)
