"""Time as a port: the work queue, informer and leader elector read and wait on a :class:`Clock`.

Production code uses :class:`SystemClock` (monotonic time, ``asyncio.sleep``). Tests step a
:class:`FakeClock` instead, so delays of minutes are checked exactly and instantly (STYLE §9,
after aiok8s' fake clock).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol

__all__ = ["Clock", "FakeClock", "SystemClock", "settle"]


class Clock(Protocol):
    """Monotonic seconds and a way to wait for them to pass."""

    def now(self) -> float:
        """Seconds on a monotonic scale (not wall-clock time)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait until :meth:`now` has advanced by ``seconds``."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic`` and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


class FakeClock:
    """A clock that moves only when a test calls :meth:`advance` (for tests).

    Sleepers wake in due-time order; after each wake-up the event loop gets a few turns, so
    tasks that react to the wake-up (and maybe sleep again) have run before ``advance`` returns.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), future))
        await future

    @property
    def sleepers(self) -> int:
        """How many sleeps are pending."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, waking every sleeper that falls due on the way."""
        target = self._now + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            due, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, due)
            if not future.done():
                future.set_result(None)
                await settle()
        self._now = target
        await settle()


async def settle(turns: int = 10) -> None:
    """Give the event loop a few turns, so ready tasks run to their next wait."""
    for _ in range(turns):
        await asyncio.sleep(0)
