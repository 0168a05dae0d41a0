"""Client pieces that need no API server: URL paths, and connection failures as Unavailable.

Everything that talks to a server is proven against the real one in tests/integration/kube.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, Configuration

from wfe.kube import errors
from wfe.kube.client import EVENTS, LEASES, Client, Resource

WFE = Resource("kubernaut.ai", "v1alpha1", "workflowexecutions", "WorkflowExecution")
NODES = Resource("", "v1", "nodes", "Node", namespaced=False)


@pytest.mark.parametrize(
    ("resource", "args", "path"),
    [
        (EVENTS, ("ns",), "/api/v1/namespaces/ns/events"),
        (EVENTS, (None,), "/api/v1/events"),
        (WFE, ("ns", "a"), "/apis/kubernaut.ai/v1alpha1/namespaces/ns/workflowexecutions/a"),
        (
            WFE,
            ("ns", "a", "status"),
            "/apis/kubernaut.ai/v1alpha1/namespaces/ns/workflowexecutions/a/status",
        ),
        (WFE, (None,), "/apis/kubernaut.ai/v1alpha1/workflowexecutions"),
        (NODES, (None, "n1"), "/api/v1/nodes/n1"),
        (LEASES, ("ns", "a.b"), "/apis/coordination.k8s.io/v1/namespaces/ns/leases/a.b"),
    ],
)
def test_paths(resource: Resource, args: tuple[Any, ...], path: str) -> None:
    assert resource.path(*args) == path


def test_api_version() -> None:
    assert EVENTS.api_version == "v1"
    assert WFE.api_version == "kubernaut.ai/v1alpha1"


def test_paths_refuse_a_wrong_scope() -> None:
    with pytest.raises(ValueError, match="namespaced"):
        WFE.path(None, "a")
    with pytest.raises(ValueError, match="cluster-scoped"):
        NODES.path("ns", "n1")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@contextlib.asynccontextmanager
async def unreachable_client() -> AsyncIterator[Client]:
    """A Client for a port nothing listens on (made in the test's own event loop)."""
    config = Configuration(host=f"https://127.0.0.1:{_closed_port()}")
    async with ApiClient(config) as api:
        yield Client(api, request_timeout=5)


async def test_a_refused_connection_is_unavailable() -> None:
    async with unreachable_client() as unreachable:
        with pytest.raises(errors.Unavailable) as raised:
            await unreachable.get(WFE, "ns", "a")

    assert raised.value.status == 0
    assert (raised.value.kind, raised.value.namespace, raised.value.name) == (
        "WorkflowExecution",
        "ns",
        "a",
    )
    assert raised.value.__cause__ is not None


async def test_writes_are_counted_even_when_they_fail() -> None:
    async with unreachable_client() as unreachable:
        with contextlib.suppress(errors.Unavailable):
            await unreachable.create(WFE, "ns", {"metadata": {"name": "a"}})
        with contextlib.suppress(errors.Unavailable):
            await unreachable.patch_status(WFE, "ns", "a", {"status": {"phase": "Running"}})
        with contextlib.suppress(errors.Unavailable):
            await unreachable.create_event("ns", {"metadata": {"generateName": "a."}})

    assert unreachable.writes == {"create": 1, "patch_status": 1, "event": 1}


async def test_a_watch_that_cannot_connect_is_unavailable() -> None:
    async with unreachable_client() as unreachable:
        events = unreachable.watch(WFE, "ns", resource_version="1")
        async with contextlib.aclosing(events):
            with pytest.raises(errors.Unavailable):
                await anext(events)
