"""Fixtures for controller tests: `harness(**settings)` starts a controller and simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from harness import Harness, MakeHarness, new_namespace
from kubernetes_asyncio.client import ApiClient


@pytest.fixture
async def harness(api_client: ApiClient) -> AsyncIterator[MakeHarness]:
    made: list[Harness] = []

    async def make(*, simulate: bool = True, duration: float = 1.0, **settings: Any) -> Harness:
        namespace = await new_namespace(api_client, "wfe")
        exec_namespace = await new_namespace(api_client, "exec")
        h = Harness(
            api_client,
            namespace,
            exec_namespace,
            Harness.settings_for(namespace, exec_namespace, **settings),
        )
        made.append(h)
        if simulate:
            await h.start_simulator(duration=duration)
        await h.start_controller()
        return h

    yield make
    for h in made:
        await h.close()
