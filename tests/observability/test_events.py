"""Events are published in the background: never blocking, bounded, failures counted."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from wfe.observability.events import EventPublisher, EventReason, event_body


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


@pytest.mark.parametrize("length", [1, 63, 236, 240, 253])
def test_event_names_stay_valid_for_names_up_to_253_characters(length: int) -> None:
    name = ("a" * (length - 1) + "z") if length > 1 else "z"
    body = event_body(
        reason=EventReason.SKIPPED,
        message="m",
        namespace="ns",
        name=name,
        uid="u",
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    event_name = body["metadata"]["name"]
    assert len(event_name) <= 253
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", event_name)
    assert body["involvedObject"]["name"] == name  # the object itself is named exactly
