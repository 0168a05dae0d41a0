"""The HTTP endpoints: `/metrics` (Prometheus) and `/healthz` + `/readyz` (probes), SPEC §8, §9.

`/readyz` says not ready, with the reason in the body, while the Tekton PipelineRun API is not
served (the runbooks ask for Tekton health in readiness) or while this replica leads but its
WorkflowExecution watch is failing.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

__all__ = ["HttpServer", "ReadinessCheck", "split_address"]

ReadinessCheck = Callable[[], Awaitable[str | None]]
"""Returns None when ready, else the reason it is not."""


def split_address(address: str) -> tuple[str, int]:
    """`host:port` → (host, port); an empty host means every interface."""
    host, _, port = address.rpartition(":")
    return host or "0.0.0.0", int(port)  # probes and scrapes come from outside


class HttpServer:
    """One aiohttp server; `port` is the bound port (useful with port 0)."""

    def __init__(self, app: web.Application, address: str) -> None:
        self._app = app
        self._host, self._port = split_address(address)
        self._runner: web.AppRunner | None = None
        self.port = self._port

    async def start(self) -> None:
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        addresses = self._runner.addresses
        if addresses:
            self.port = int(addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @staticmethod
    def metrics(registry: CollectorRegistry, address: str) -> HttpServer:
        """Serve `registry` on `/metrics`."""

        async def handler(_: web.Request) -> web.Response:
            body = generate_latest(registry)
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

        app = web.Application()
        app.router.add_get("/metrics", handler)
        return HttpServer(app, address)

    @staticmethod
    def probes(ready: ReadinessCheck, address: str, *, cache_seconds: float = 2.0) -> HttpServer:
        """Serve `/healthz` (the event loop answers) and `/readyz` (`ready()` says None)."""
        last: list[tuple[float, str | None]] = []

        async def healthz(_: web.Request) -> web.Response:
            return web.Response(text="ok\n")

        async def readyz(_: web.Request) -> web.Response:
            now = time.monotonic()
            if not last or now - last[0][0] > cache_seconds:
                last[:] = [(now, await ready())]
            reason = last[0][1]
            if reason is None:
                return web.Response(text="ok\n")
            return web.Response(status=503, text=f"not ready: {reason}\n")

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
        return HttpServer(app, address)
