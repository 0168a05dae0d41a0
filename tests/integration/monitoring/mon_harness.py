"""Helpers of the monitoring integration tests (see conftest.py for the fixtures)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes_asyncio.client import ApiClient, CoreV1Api, V1Namespace, V1ObjectMeta
from kubernetes_asyncio.client.exceptions import ApiException

_ROOT = Path(__file__).resolve().parents[3]
for _path in (_ROOT, _ROOT / "tests" / "integration" / "controller"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from harness import Harness, new_namespace  # noqa: E402

from wfe.controller.manager import Controller  # noqa: E402
from wfe.dev.eventually import eventually  # noqa: E402
from wfe.kube.client import Client  # noqa: E402
from wfe.observability.audit import AuditSink  # noqa: E402
from wfe.observability.metrics import Metrics  # noqa: E402

__all__ = [
    "ROOT",
    "AuditReceiver",
    "Harness",
    "MakeMonitored",
    "MonitoredHarness",
    "RestrictedApi",
    "Scrape",
    "ensure_namespace",
    "new_namespace",
]

ROOT = _ROOT
MakeMonitored = Callable[..., Awaitable["MonitoredHarness"]]
RestrictedApi = Callable[[Sequence[str]], Awaitable[ApiClient]]
Scrape = Callable[[int], Awaitable[str]]


@dataclass
class MonitoredHarness(Harness):
    """A harness whose controller may have an audit sink, metrics and another API identity."""

    audit: AuditSink | None = None
    metrics: Metrics | None = None
    controller_api: ApiClient | None = None

    _running: list[tuple[Controller, asyncio.Event, asyncio.Task[None]]] = field(
        default_factory=list
    )

    async def start_controller(self, **_: Any) -> Controller:
        stop = asyncio.Event()
        client = Client(self.controller_api) if self.controller_api is not None else self.client
        start = getattr(self.audit, "start", None)
        if start is not None:
            await start()
        controller = Controller(self.settings, client, audit=self.audit, metrics=self.metrics)
        self._running.append((controller, stop, asyncio.create_task(controller.run(stop))))
        self.controller = controller
        await eventually(
            lambda: controller.working,
            30,
            message="controller caches synced",
        )
        return controller

    async def stop_controller(self, controller: Controller | None = None) -> None:
        """Stop the controller(s) the way SIGTERM does (this flushes the audit sink)."""
        for _, stop, task in self._running:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._running.clear()
        self.controller = None

    @property
    def metrics_port(self) -> int:
        assert self.controller is not None
        return self.controller.metrics_server.port

    async def released(self, name: str) -> bool:
        return "lockReleasedAt" in await self.status(name)


async def ensure_namespace(api: ApiClient, name: str) -> str:
    """Create namespace `name` unless it exists (namespaces never go away here)."""
    try:
        await CoreV1Api(api).create_namespace(V1Namespace(metadata=V1ObjectMeta(name=name)))
    except ApiException as exc:
        if exc.status != 409:
            raise
    return name


@dataclass
class AuditReceiver:
    """A local stand-in for Data Storage's batch endpoint."""

    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    url: str = ""

    @property
    def events(self) -> list[dict[str, Any]]:
        return [e for batch in self.batches for e in batch]
