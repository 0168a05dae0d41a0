"""Fixtures for the monitoring tests on the real local control plane.

- ``monitored(**settings)``: like the controller tests' ``harness``, but the controller may
  get an audit sink, its own Metrics and its own API identity (``controller_api``), and the
  execution namespace may be given (the runbook tests use the real ``kubernaut-workflows``).
- ``restricted_api(verbs)``: an ApiClient for a fresh user whose ClusterRole lets it do what
  the controller needs, with only ``verbs`` on PipelineRuns (to make a release or a create
  fail the way a broken RBAC set-up would).
- ``audit_receiver``: a local Data Storage stand-in collecting POSTed audit batches.
- ``scrape``: ``await scrape(port)`` is the text of the controller's ``/metrics``.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from kubernetes_asyncio.client import ApiClient, RbacAuthorizationV1Api
from mon_harness import (
    AuditReceiver,
    Harness,
    MakeMonitored,
    MonitoredHarness,
    RestrictedApi,
    Scrape,
    ensure_namespace,
    new_namespace,
)

from wfe.dev.controlplane import ControlPlane
from wfe.observability.audit import AuditSink
from wfe.observability.metrics import Metrics


@pytest.fixture
async def monitored(api_client: ApiClient) -> AsyncIterator[MakeMonitored]:
    made: list[MonitoredHarness] = []

    async def make(
        *,
        audit: AuditSink | None = None,
        metrics: Metrics | None = None,
        controller_api: ApiClient | None = None,
        exec_namespace: str | None = None,
        duration: float = 1.0,
        **settings: Any,
    ) -> MonitoredHarness:
        namespace = await new_namespace(api_client, "mon")
        if exec_namespace is None:
            exec_namespace = await new_namespace(api_client, "monx")
        else:
            await ensure_namespace(api_client, exec_namespace)
        h = MonitoredHarness(
            api_client,
            namespace,
            exec_namespace,
            Harness.settings_for(namespace, exec_namespace, **settings),
            audit=audit,
            metrics=metrics,
            controller_api=controller_api,
        )
        made.append(h)
        await h.start_simulator(duration=duration)
        await h.start_controller()
        return h

    yield make
    for h in made:
        await h.close()


_CONTROLLER_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": ["kubernaut.ai"],
        "resources": ["workflowexecutions", "workflowexecutions/status"],
        "verbs": ["get", "list", "watch", "patch", "update"],
    },
    {"apiGroups": ["tekton.dev"], "resources": ["taskruns"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
]


@pytest.fixture
async def restricted_api(
    control_plane: ControlPlane,
    api_client: ApiClient,
    make_api_client: Callable[[Path], Awaitable[ApiClient]],
) -> RestrictedApi:
    rbac = RbacAuthorizationV1Api(api_client)

    async def make(pipeline_run_verbs: Sequence[str]) -> ApiClient:
        user = f"wfe-controller-{secrets.token_hex(3)}"
        rules = [
            *_CONTROLLER_RULES,
            {
                "apiGroups": ["tekton.dev"],
                "resources": ["pipelineruns"],
                "verbs": list(pipeline_run_verbs),
            },
        ]
        await rbac.create_cluster_role({"metadata": {"name": user}, "rules": rules})
        await rbac.create_cluster_role_binding(
            {
                "metadata": {"name": user},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": user,
                },
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}
                ],
            }
        )
        return await make_api_client(control_plane.user_kubeconfig(user))

    return make


@pytest.fixture
async def audit_receiver() -> AsyncIterator[AuditReceiver]:
    receiver = AuditReceiver()

    async def batch(request: web.Request) -> web.Response:
        receiver.batches.append(await request.json())
        return web.json_response({"event_ids": []}, status=201)

    app = web.Application()
    app.router.add_post("/api/v1/audit/events/batch", batch)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield receiver
    await runner.cleanup()


@pytest.fixture
def scrape() -> Scrape:
    """``await scrape(port)``: the text of the controller's ``/metrics``."""

    async def get(port: int) -> str:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/metrics") as response,
        ):
            assert response.status == 200
            return await response.text()

    return get
