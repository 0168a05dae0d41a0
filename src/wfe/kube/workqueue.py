"""A work queue with client-go's semantics, in asyncio (STYLE §2).

Informer handlers only :meth:`WorkQueue.add` keys; workers loop on ``key = await q.get()``,
reconcile, then ``q.forget(key)`` on success or ``q.add_rate_limited(key)`` on error, and always
``q.done(key)``. The queue guarantees, like client-go's ``workqueue``:

- a key is queued at most once, however often it is added (events for one object collapse);
- a key being processed is never handed to a second worker; if it is added meanwhile it is
  marked dirty and queued again when :meth:`WorkQueue.done` is called, so the change is seen;
- :meth:`WorkQueue.add_after` delays an add; several delays of one key keep the earliest;
- :meth:`WorkQueue.add_rate_limited` delays by a per-key exponential backoff (base doubling up
  to a cap) until :meth:`WorkQueue.forget`;
- after :meth:`WorkQueue.shutdown` adds are ignored, delayed adds are dropped, and
  :meth:`WorkQueue.get` hands out what is still queued, then raises :class:`ShutDown`.

Time comes from a :class:`~wfe.kube.clock.Clock`, so tests step a fake one. Unlike client-go's
default controller rate limiter there is no overall token bucket: the per-key backoff is the
only limit (the API server's priority and fairness protects it).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

from wfe.kube.clock import Clock, SystemClock

__all__ = ["NullQueueMetrics", "QueueMetrics", "ShutDown", "WorkQueue"]

K = TypeVar("K", bound=Hashable)

_MAX_EXPONENT = 60  # 2**60 times any sane base is far past any cap; keeps floats finite


class ShutDown(Exception):
    """The queue was shut down and has nothing left to hand out."""


class QueueMetrics(Protocol):
    """Hooks the controller wires to Prometheus (client-go's workqueue metrics)."""

    def on_add(self) -> None:
        """A key was queued (not counted when it was already queued)."""

    def on_depth(self, depth: int) -> None:
        """The number of queued keys changed."""

    def on_queue_latency(self, seconds: float) -> None:
        """A key waited ``seconds`` between being queued and handed to a worker."""

    def on_work_duration(self, seconds: float) -> None:
        """A worker held a key for ``seconds`` (get → done)."""

    def on_retry(self) -> None:
        """A key was re-added rate-limited."""


class NullQueueMetrics:
    """Metrics hooks that record nothing (the default)."""

    def on_add(self) -> None:
        pass

    def on_depth(self, depth: int) -> None:
        pass

    def on_queue_latency(self, seconds: float) -> None:
        pass

    def on_work_duration(self, seconds: float) -> None:
        pass

    def on_retry(self) -> None:
        pass


class WorkQueue(Generic[K]):
    """A de-duplicating, delaying, rate-limiting queue of keys (see the module docstring).

    Args:
        name: a label for logs and metrics.
        clock: time source (default :class:`~wfe.kube.clock.SystemClock`).
        base_delay: the first rate-limited delay in seconds (5 ms); doubles per retry.
        max_delay: the cap on the rate-limited delay in seconds (300 s).
        metrics: hooks for depth, adds, latency, work duration and retries.
    """

    def __init__(
        self,
        *,
        name: str = "",
        clock: Clock | None = None,
        base_delay: float = 0.005,
        max_delay: float = 300.0,
        metrics: QueueMetrics | None = None,
    ) -> None:
        if base_delay <= 0 or max_delay < base_delay:
            raise ValueError("need 0 < base_delay <= max_delay")
        self.name = name
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._metrics: QueueMetrics = metrics if metrics is not None else NullQueueMetrics()
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._queued_at: dict[K, float] = {}
        self._started_at: dict[K, float] = {}
        self._getters: deque[asyncio.Future[None]] = deque()
        self._shutting_down = False
        self._failures: dict[K, int] = {}
        # Delayed adds: the due time per key, and a heap that may hold stale entries (a key
        # whose due time was moved earlier); an entry counts only if it matches _waiting.
        self._waiting: dict[K, float] = {}
        self._heap: list[tuple[float, int, K]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._delay_task: asyncio.Task[None] | None = None

    # -- the plain queue ---------------------------------------------------------------------

    def add(self, key: K) -> None:
        """Queue ``key`` now, unless it is queued already (or the queue is shut down)."""
        if self._shutting_down or key in self._dirty:
            return
        self._metrics.on_add()
        self._dirty.add(key)
        self._queued_at[key] = self._clock.now()
        if key in self._processing:
            return  # done() queues it again
        self._queue.append(key)
        self._metrics.on_depth(len(self._queue))
        self._wake_getter()

    async def get(self) -> K:
        """The next key; waits while the queue is empty. The caller must call :meth:`done`.

        Raises:
            ShutDown: the queue is shut down and empty.
        """
        while not self._queue:
            if self._shutting_down:
                raise ShutDown(self.name)
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()
                if getter in self._getters:
                    self._getters.remove(getter)
                # We were woken but are leaving: pass the wake-up on (as asyncio.Queue does).
                if self._queue and not getter.cancelled():
                    self._wake_getter()
                raise
        key = self._queue.popleft()
        now = self._clock.now()
        self._processing.add(key)
        self._dirty.discard(key)
        self._metrics.on_depth(len(self._queue))
        queued = self._queued_at.pop(key, None)
        if queued is not None:
            self._metrics.on_queue_latency(max(now - queued, 0.0))
        self._started_at[key] = now
        return key

    def done(self, key: K) -> None:
        """Mark ``key`` processed; if it was added meanwhile, queue it again."""
        if key not in self._processing:
            return
        self._processing.discard(key)
        started = self._started_at.pop(key, None)
        if started is not None:
            self._metrics.on_work_duration(max(self._clock.now() - started, 0.0))
        if key in self._dirty:
            self._queue.append(key)
            self._metrics.on_depth(len(self._queue))
            self._wake_getter()

    def shutdown(self) -> None:
        """Stop accepting keys, drop delayed ones, and wake every waiting :meth:`get`."""
        self._shutting_down = True
        self._waiting.clear()
        self._heap.clear()
        if self._delay_task is not None:
            self._delay_task.cancel()
            self._delay_task = None
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)

    @property
    def shutting_down(self) -> bool:
        """Whether :meth:`shutdown` was called."""
        return self._shutting_down

    @property
    def processing(self) -> int:
        """How many keys workers hold right now."""
        return len(self._processing)

    @property
    def delayed(self) -> int:
        """How many keys wait for a delayed add."""
        return len(self._waiting)

    def __len__(self) -> int:
        """How many keys are queued (not counting those being processed or delayed)."""
        return len(self._queue)

    def _wake_getter(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    # -- delays ------------------------------------------------------------------------------

    def add_after(self, key: K, delay: float) -> None:
        """Queue ``key`` after ``delay`` seconds (now if ``delay <= 0``).

        If ``key`` already waits for a delayed add, the earlier of the two due times is kept.
        Must be called from within the running event loop.
        """
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        due = self._clock.now() + delay
        current = self._waiting.get(key)
        if current is not None and current <= due:
            return
        self._waiting[key] = due
        heapq.heappush(self._heap, (due, next(self._seq), key))
        if self._delay_task is None:
            self._delay_task = asyncio.get_running_loop().create_task(
                self._run_delays(), name=f"workqueue-delays-{self.name}"
            )
        if self._heap[0][2] == key:
            self._wake.set()  # the earliest due time moved: re-arm the timer

    async def _run_delays(self) -> None:
        while True:
            now = self._clock.now()
            while self._heap and self._heap[0][0] <= now:
                due, _, key = heapq.heappop(self._heap)
                if self._waiting.get(key) == due:
                    del self._waiting[key]
                    self.add(key)
            self._wake.clear()
            if not self._heap:
                await self._wake.wait()
            else:
                await self._sleep_or_wake(self._heap[0][0] - now)

    async def _sleep_or_wake(self, seconds: float) -> None:
        sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()
            await asyncio.gather(sleeper, waker, return_exceptions=True)

    # -- rate limiting -----------------------------------------------------------------------

    def add_rate_limited(self, key: K) -> None:
        """Queue ``key`` after its backoff: ``base_delay * 2^n`` (capped) for the n-th retry."""
        self.add_after(key, self.backoff(key))
        self._failures[key] = self._failures.get(key, 0) + 1
        self._metrics.on_retry()

    def backoff(self, key: K) -> float:
        """The delay the next :meth:`add_rate_limited` of ``key`` will use."""
        exponent = min(self._failures.get(key, 0), _MAX_EXPONENT)
        return float(min(self._base_delay * (2**exponent), self._max_delay))

    def forget(self, key: K) -> None:
        """Reset ``key``'s backoff (after it was processed successfully)."""
        self._failures.pop(key, None)

    def num_requeues(self, key: K) -> int:
        """How many rate-limited adds ``key`` had since it was last forgotten."""
        return self._failures.get(key, 0)
