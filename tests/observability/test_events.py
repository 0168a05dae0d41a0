"""Events are published in the background: never blocking, bounded, failures counted."""

from __future__ import annotations

import asyncio
from typing import Any

from wfe.observability.events import EventPublisher


class Writer:
    def __init__(self, *, fail: bool = False, gate: asyncio.Event | None = None) -> None:
        self.written: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail
        self.gate = gate

    async def create_event(self, namespace: str, body: dict[str, Any]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("API down")
        self.written.append((namespace, body))


async def test_publishes_and_drains_on_close() -> None:
    writer, drops = Writer(), []
    pub = EventPublisher(writer, on_drop=lambda: drops.append(1))
    for i in range(10):
        pub.publish("ns", {"reason": f"r{i}"})
    await pub.close()
    assert len(writer.written) == 10
    assert drops == []


async def test_full_queue_drops_and_counts_without_blocking() -> None:
    gate = asyncio.Event()
    writer, drops = Writer(gate=gate), []
    pub = EventPublisher(writer, on_drop=lambda: drops.append(1), capacity=3, senders=1)
    for i in range(10):
        pub.publish("ns", {"reason": f"r{i}"})  # returns at once even though nothing is sent
    await asyncio.sleep(0)
    gate.set()
    await pub.close()
    assert len(writer.written) + len(drops) == 10
    assert len(drops) >= 6


async def test_write_failures_are_counted() -> None:
    writer, drops = Writer(fail=True), []
    pub = EventPublisher(writer, on_drop=lambda: drops.append(1))
    pub.publish("ns", {"reason": "x"})
    await pub.close()
    assert drops == [1]
