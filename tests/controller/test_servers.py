"""The HTTP endpoints: /metrics, /healthz and /readyz, served in-process on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from prometheus_client import CollectorRegistry, Counter

from wfe.controller.servers import HttpServer, split_address


@pytest.mark.parametrize(
    ("address", "split"),
    [
        pytest.param(":9090", ("0.0.0.0", 9090), id="every-interface"),
        pytest.param("127.0.0.1:0", ("127.0.0.1", 0), id="loopback-any-port"),
        pytest.param("[::1]:8081", ("[::1]", 8081), id="ipv6"),
    ],
)
def test_split_address(address: str, split: tuple[str, int]) -> None:
    assert split_address(address) == split


@asynccontextmanager
async def serving(server: HttpServer) -> AsyncIterator[aiohttp.ClientSession]:
    await server.start()
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as session:
            yield session
    finally:
        await server.stop()


async def test_metrics_are_served_in_the_prometheus_text_format() -> None:
    registry = CollectorRegistry()
    Counter("wfe_test_things", "Things.", registry=registry).inc(3)
    server = HttpServer.metrics(registry, "127.0.0.1:0")
    async with serving(server) as session, session.get("/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        assert "wfe_test_things_total 3.0" in await response.text()
    assert server.port != 0


async def test_probes_say_ready_or_why_not() -> None:
    reasons: list[str | None] = ["Tekton is not served", None]
    asked = 0

    async def ready() -> str | None:
        nonlocal asked
        asked += 1
        return reasons[asked - 1]

    server = HttpServer.probes(ready, "127.0.0.1:0", cache_seconds=-1.0)
    async with serving(server) as session:
        async with session.get("/healthz") as response:
            assert (response.status, await response.text()) == (200, "ok\n")
        async with session.get("/readyz") as response:
            assert response.status == 503
            assert await response.text() == "not ready: Tekton is not served\n"
        async with session.get("/readyz") as response:
            assert (response.status, await response.text()) == (200, "ok\n")
    assert asked == 2


async def test_readiness_is_cached_between_probes() -> None:
    asked = 0

    async def ready() -> str | None:
        nonlocal asked
        asked += 1
        return None if asked == 1 else "would be not ready"

    server = HttpServer.probes(ready, "127.0.0.1:0", cache_seconds=3600)
    async with serving(server) as session:
        for _ in range(3):
            async with session.get("/readyz") as response:
                assert response.status == 200
    assert asked == 1


async def test_stopping_a_server_that_never_started_is_harmless() -> None:
    server = HttpServer.metrics(CollectorRegistry(), "127.0.0.1:0")
    await server.stop()
    assert server.port == 0
