"""The local stack behind `wfe dev` and `wfe demo`: a real control plane (etcd,
kube-apiserver with our CRD and Tekton's, kube-controller-manager), the Tekton simulator (a
stand-in for Tekton's controller, which cannot run here) and the controller itself, all in one
process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio.client import ApiClient, CoreV1Api, V1Namespace, V1ObjectMeta
from kubernetes_asyncio.client.exceptions import ApiException

from wfe.config import Settings
from wfe.controller.manager import Controller
from wfe.dev.controlplane import ControlPlane
from wfe.dev.tekton_sim import SimSettings, TektonSimulator
from wfe.kube.client import Client

__all__ = ["Stack", "local_stack"]

SYSTEM_NAMESPACE = "kubernaut-system"


@dataclass
class Stack:
    """What a running local stack offers its user."""

    control_plane: ControlPlane
    api: ApiClient
    client: Client
    controller: Controller
    settings: Settings


async def _ensure_namespace(api: ApiClient, name: str) -> None:
    with contextlib.suppress(ApiException):
        await CoreV1Api(api).create_namespace(V1Namespace(metadata=V1ObjectMeta(name=name)))


@contextlib.asynccontextmanager
async def local_stack(*, sim_duration: float = 3.0, **overrides: Any) -> AsyncIterator[Stack]:
    """Start everything; stop everything (only what was started here) on exit."""
    values: dict[str, Any] = {
        "metrics_address": "127.0.0.1:0",
        "health_address": "127.0.0.1:0",
        "lease_namespace": SYSTEM_NAMESPACE,
        "log_level": "warning",
        "log_format": "console",
    }
    values.update(overrides)
    settings = Settings.model_validate(values)
    async with ControlPlane() as control_plane:
        api = await control_plane.api_client()
        async with api:
            for namespace in (SYSTEM_NAMESPACE, settings.execution_namespace):
                await _ensure_namespace(api, namespace)
            client = Client(api)
            simulator = TektonSimulator(
                api,
                settings.execution_namespace,
                SimSettings(default_duration=sim_duration, max_wait=0.25),
            )
            controller = Controller(settings, client)
            stop = asyncio.Event()
            tasks = [
                asyncio.create_task(simulator.run(), name="tekton-simulator"),
                asyncio.create_task(controller.run(stop), name="controller"),
            ]
            try:
                while not controller.working:
                    if any(t.done() for t in tasks):
                        for t in tasks:
                            if t.done():
                                t.result()
                    await asyncio.sleep(0.1)
                yield Stack(control_plane, api, client, controller, settings)
            finally:
                stop.set()
                tasks[0].cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
