"""The work queue keeps client-go's guarantees (wfe.kube.workqueue), on a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wfe.kube.clock import FakeClock, settle
from wfe.kube.workqueue import ShutDown, WorkQueue


class RecordingMetrics:
    def __init__(self) -> None:
        self.adds = 0
        self.depths: list[int] = []
        self.latencies: list[float] = []
        self.durations: list[float] = []
        self.retries = 0

    def on_add(self) -> None:
        self.adds += 1

    def on_depth(self, depth: int) -> None:
        self.depths.append(depth)

    def on_queue_latency(self, seconds: float) -> None:
        self.latencies.append(seconds)

    def on_work_duration(self, seconds: float) -> None:
        self.durations.append(seconds)

    def on_retry(self) -> None:
        self.retries += 1


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def queue(clock: FakeClock) -> AsyncIterator[WorkQueue[str]]:
    q: WorkQueue[str] = WorkQueue(name="test", clock=clock)
    yield q
    q.shutdown()
    await settle()


async def test_a_key_added_twice_is_queued_once(queue: WorkQueue[str]) -> None:
    queue.add("ns/a")
    queue.add("ns/b")
    queue.add("ns/a")

    assert len(queue) == 2
    assert await queue.get() == "ns/a"
    assert await queue.get() == "ns/b"
    assert len(queue) == 0


async def test_keys_come_out_in_order_of_first_add(queue: WorkQueue[str]) -> None:
    for key in ("c", "a", "b", "a", "c"):
        queue.add(key)

    assert [await queue.get() for _ in range(3)] == ["c", "a", "b"]


async def test_a_key_in_flight_is_not_handed_to_a_second_worker(queue: WorkQueue[str]) -> None:
    queue.add("a")
    first = await queue.get()
    queue.add("a")  # changed while the first worker holds it

    second = asyncio.create_task(queue.get())
    await settle()
    assert not second.done()
    assert len(queue) == 0

    queue.done(first)
    assert await asyncio.wait_for(second, 1) == "a"


async def test_done_requeues_only_a_key_added_while_in_flight(queue: WorkQueue[str]) -> None:
    queue.add("a")
    queue.add("b")
    a = await queue.get()
    b = await queue.get()
    queue.add("a")
    queue.add("a")

    queue.done(a)
    queue.done(b)

    assert len(queue) == 1
    assert await queue.get() == "a"


async def test_done_of_an_unknown_key_is_ignored(queue: WorkQueue[str]) -> None:
    queue.done("never-added")
    queue.add("a")
    key = await queue.get()
    queue.done(key)
    queue.done(key)
    assert len(queue) == 0
    assert queue.processing == 0


async def test_get_waits_for_an_add(queue: WorkQueue[str]) -> None:
    getter = asyncio.create_task(queue.get())
    await settle()
    assert not getter.done()

    queue.add("a")
    assert await asyncio.wait_for(getter, 1) == "a"


async def test_a_cancelled_getter_does_not_swallow_a_wake_up(queue: WorkQueue[str]) -> None:
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await settle()

    queue.add("a")
    first.cancel()  # woken, but cancelled before it could take the key
    await settle()

    assert await asyncio.wait_for(second, 1) == "a"
    assert first.cancelled()


async def test_add_after_queues_the_key_when_the_delay_has_passed(
    queue: WorkQueue[str], clock: FakeClock
) -> None:
    queue.add_after("a", 10)
    await settle()
    assert len(queue) == 0
    assert queue.delayed == 1

    await clock.advance(9.9)
    assert len(queue) == 0

    await clock.advance(0.1)
    assert len(queue) == 1
    assert queue.delayed == 0


async def test_add_after_without_a_delay_adds_at_once(queue: WorkQueue[str]) -> None:
    queue.add_after("a", 0)
    queue.add_after("b", -1)
    assert len(queue) == 2


async def test_delayed_adds_keep_the_earliest_due_time(
    queue: WorkQueue[str], clock: FakeClock
) -> None:
    queue.add_after("a", 10)
    queue.add_after("a", 5)  # earlier: moves it forward
    queue.add_after("b", 5)
    queue.add_after("b", 10)  # later: ignored
    await settle()

    await clock.advance(5)
    assert len(queue) == 2
    assert {await queue.get(), await queue.get()} == {"a", "b"}
    queue.done("a")
    queue.done("b")

    await clock.advance(10)
    assert len(queue) == 0  # the later due times were dropped, not kept as second adds
    assert queue.delayed == 0


async def test_delayed_keys_come_out_in_due_order(queue: WorkQueue[str], clock: FakeClock) -> None:
    for key, delay in (("c", 3.0), ("a", 1.0), ("b", 2.0)):
        queue.add_after(key, delay)
    await clock.advance(1)
    queue.add_after("d", 0.5)  # earlier than everything already waiting
    await clock.advance(2)

    assert [await queue.get() for _ in range(4)] == ["a", "d", "b", "c"]


async def test_a_delayed_key_that_is_already_queued_is_not_duplicated(
    queue: WorkQueue[str], clock: FakeClock
) -> None:
    queue.add("a")
    queue.add_after("a", 1)
    await clock.advance(1)
    assert len(queue) == 1


async def test_rate_limited_delay_doubles_from_5ms_up_to_the_cap(
    queue: WorkQueue[str], clock: FakeClock
) -> None:
    delays = []
    for _ in range(20):
        delays.append(queue.backoff("a"))
        queue.add_rate_limited("a")

    assert delays[:4] == pytest.approx([0.005, 0.01, 0.02, 0.04])
    assert max(delays) == 300.0
    assert delays == sorted(delays)
    assert queue.num_requeues("a") == 20
    assert queue.num_requeues("b") == 0


async def test_rate_limited_add_waits_its_backoff(queue: WorkQueue[str], clock: FakeClock) -> None:
    queue.add_rate_limited("a")
    queue.add_rate_limited("a")  # 10 ms, but the 5 ms one is earlier and kept
    await settle()
    await clock.advance(0.004)
    assert len(queue) == 0
    await clock.advance(0.001)
    assert len(queue) == 1


async def test_forget_resets_the_backoff(queue: WorkQueue[str]) -> None:
    for _ in range(5):
        queue.add_rate_limited("a")
    assert queue.backoff("a") == pytest.approx(0.16)

    queue.forget("a")

    assert queue.num_requeues("a") == 0
    assert queue.backoff("a") == pytest.approx(0.005)


async def test_backoff_base_and_cap_are_configurable(clock: FakeClock) -> None:
    q: WorkQueue[str] = WorkQueue(clock=clock, base_delay=1.0, max_delay=3.0)
    delays = []
    for _ in range(4):
        delays.append(q.backoff("a"))
        q.add_rate_limited("a")
    q.shutdown()
    assert delays == [1.0, 2.0, 3.0, 3.0]


def test_invalid_backoff_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="base_delay"):
        WorkQueue[str](base_delay=0)
    with pytest.raises(ValueError, match="base_delay"):
        WorkQueue[str](base_delay=2, max_delay=1)


async def test_shutdown_drains_then_raises(queue: WorkQueue[str]) -> None:
    queue.add("a")
    queue.shutdown()
    queue.add("b")  # ignored

    assert await queue.get() == "a"
    with pytest.raises(ShutDown):
        await queue.get()


async def test_shutdown_wakes_every_waiting_getter(queue: WorkQueue[str]) -> None:
    getters = [asyncio.create_task(queue.get()) for _ in range(3)]
    await settle()

    queue.shutdown()

    results = await asyncio.gather(*getters, return_exceptions=True)
    assert all(isinstance(r, ShutDown) for r in results)


async def test_shutdown_drops_delayed_adds(queue: WorkQueue[str], clock: FakeClock) -> None:
    queue.add_after("a", 1)
    queue.add_rate_limited("b")
    await settle()

    queue.shutdown()
    await clock.advance(10)

    assert len(queue) == 0
    assert queue.delayed == 0
    assert queue.shutting_down


async def test_metrics_hooks_see_adds_depth_latency_duration_and_retries(
    clock: FakeClock,
) -> None:
    metrics = RecordingMetrics()
    q: WorkQueue[str] = WorkQueue(clock=clock, metrics=metrics)
    q.add("a")
    q.add("a")
    q.add("b")
    await clock.advance(2)
    key = await q.get()
    await clock.advance(3)
    q.done(key)
    q.add_rate_limited("a")
    q.shutdown()

    assert metrics.adds == 2
    assert metrics.depths[:3] == [1, 2, 1]
    assert metrics.latencies == [2.0]
    assert metrics.durations == [3.0]
    assert metrics.retries == 1


async def test_workers_never_hold_one_key_at_once_under_load(clock: FakeClock) -> None:
    q: WorkQueue[int] = WorkQueue(clock=clock)
    holding: set[int] = set()
    seen: list[int] = []

    async def worker() -> None:
        with contextlib.suppress(ShutDown):
            while True:
                key = await q.get()
                assert key not in holding
                holding.add(key)
                seen.append(key)
                await asyncio.sleep(0)
                q.add(key % 3)  # keep re-adding keys that may be in flight elsewhere
                await asyncio.sleep(0)
                holding.discard(key)
                q.done(key)

    for key in range(10):
        q.add(key)
    workers = [asyncio.create_task(worker()) for _ in range(4)]
    await settle(200)
    q.shutdown()
    await asyncio.wait_for(asyncio.gather(*workers), 5)

    assert set(range(10)) <= set(seen)


@given(
    st.lists(
        st.tuples(st.sampled_from(["add", "get", "done"]), st.integers(min_value=0, max_value=4)),
        max_size=60,
    )
)
def test_queue_matches_a_simple_model(ops: list[tuple[str, int]]) -> None:
    """A key is queued at most once, never queued while in flight, and every add after the
    last hand-out leads to one more hand-out."""

    async def scenario() -> None:
        q: WorkQueue[int] = WorkQueue(clock=FakeClock())
        queued: list[int] = []
        in_flight: set[int] = set()
        dirty: set[int] = set()
        for op, key in ops:
            if op == "add":
                q.add(key)
                if key not in dirty:
                    dirty.add(key)
                    if key not in in_flight:
                        queued.append(key)
            elif op == "get" and queued:
                expected = queued.pop(0)
                assert await q.get() == expected
                dirty.discard(expected)
                in_flight.add(expected)
            elif op == "done":
                q.done(key)  # ignored unless the key is in flight
                if key in in_flight:
                    in_flight.discard(key)
                    if key in dirty:
                        queued.append(key)
            assert len(q) == len(queued)
            assert q.processing == len(in_flight)
        q.shutdown()

    asyncio.run(scenario())
