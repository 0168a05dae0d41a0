"""wfe.kube.informer against the real API server: list + watch, pagination, re-list on 410."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

from kube_helpers import CONFIG_MAPS, WORKFLOW_EXECUTIONS, config_map, workflow_execution
from kubernetes_asyncio.client import ApiClient

from wfe.kube.client import Client, KubeObject, Resource
from wfe.kube.informer import Informer

Eventually = Callable[..., Awaitable[Any]]
Seen = list[tuple[str, str]]


@contextlib.asynccontextmanager
async def running(informer: Informer) -> AsyncIterator[Seen]:
    seen: Seen = []
    informer.add_handler(lambda kind, obj, old: seen.append((kind, obj["metadata"]["name"])))
    task = asyncio.create_task(informer.run())
    try:
        assert await informer.wait_synced(30)
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class CountingClient(Client):
    """Records the list calls' page arguments."""

    def __init__(self, api: ApiClient) -> None:
        super().__init__(api)
        self.pages: list[tuple[int | None, bool]] = []

    async def list(self, res: Resource, namespace: str | None = None, **kw: Any) -> KubeObject:
        self.pages.append((kw.get("limit"), kw.get("continue_token") is not None))
        return await super().list(res, namespace, **kw)


class StaleWatchClient(Client):
    """Holds the first watch until ``gate`` opens, then watches from resourceVersion 1 until
    the server has answered 410 once — a watch that fell too far behind, for real."""

    def __init__(self, api: ApiClient) -> None:
        super().__init__(api)
        self.gate = asyncio.Event()
        self.expired = False

    async def watch(
        self, res: Resource, namespace: str | None, *, resource_version: str, **kw: Any
    ) -> AsyncGenerator[KubeObject, None]:
        await self.gate.wait()
        if not self.expired:
            resource_version = "1"
        async for event in super().watch(res, namespace, resource_version=resource_version, **kw):
            if event["type"] == "ERROR" and event["object"].get("code") == 410:
                self.expired = True
            yield event


async def test_informer_sees_adds_updates_and_deletes(
    client: Client, namespace: str, eventually: Eventually
) -> None:
    await client.create(CONFIG_MAPS, namespace, config_map("before"))
    informer = Informer(client, CONFIG_MAPS, namespace=namespace)

    async with running(informer) as seen:
        assert seen == [("ADDED", "before")]

        await client.create(CONFIG_MAPS, namespace, config_map("after", {"v": "1"}))
        await client.patch(CONFIG_MAPS, namespace, "after", {"data": {"v": "2"}})
        await client.delete(CONFIG_MAPS, namespace, "before")

        await eventually(lambda: len(seen) == 4, 10)
        assert seen[1:] == [("ADDED", "after"), ("MODIFIED", "after"), ("DELETED", "before")]
        cached = informer.get(namespace, "after")
        assert cached is not None
        assert cached["data"] == {"v": "2"}
        assert informer.get(namespace, "before") is None
        assert informer.healthy


async def test_informer_lists_in_small_pages(
    api_client: ApiClient, namespace: str, eventually: Eventually
) -> None:
    client = CountingClient(api_client)
    for i in range(7):
        await client.create(CONFIG_MAPS, namespace, config_map(f"cm-{i}", app="paged"))
    await client.create(CONFIG_MAPS, namespace, config_map("other", app="else"))
    informer = Informer(
        client, CONFIG_MAPS, namespace=namespace, label_selector="app=paged", page_size=2
    )

    async with running(informer):
        assert client.pages == [(2, False), (2, True), (2, True), (2, True)]
        assert sorted(o["metadata"]["name"] for o in informer.list()) == [
            f"cm-{i}" for i in range(7)
        ]


async def test_informer_relists_after_410_and_reports_what_changed(
    api_client: ApiClient, namespace: str, eventually: Eventually
) -> None:
    client = StaleWatchClient(api_client)
    for name in ("stays", "changes", "vanishes"):
        await client.create(WORKFLOW_EXECUTIONS, namespace, workflow_execution(name))
    informer = Informer(
        client,
        WORKFLOW_EXECUTIONS,
        namespace=namespace,
        indexers={"team": lambda o: list((o["metadata"].get("labels") or {}).values())},
    )

    async with running(informer) as seen:
        assert sorted(seen) == [("ADDED", "changes"), ("ADDED", "stays"), ("ADDED", "vanishes")]
        seen.clear()
        # Changes the informer's first watch will not see: it starts too far back.
        await client.delete(WORKFLOW_EXECUTIONS, namespace, "vanishes")
        await client.patch(
            WORKFLOW_EXECUTIONS, namespace, "changes", {"metadata": {"labels": {"team": "a"}}}
        )
        await client.create(WORKFLOW_EXECUTIONS, namespace, workflow_execution("appears"))
        client.gate.set()

        await eventually(lambda: informer.relists >= 2, 30)
        await eventually(lambda: len(seen) >= 3, 10)
        assert client.expired
        assert sorted(seen) == [
            ("ADDED", "appears"),
            ("DELETED", "vanishes"),
            ("MODIFIED", "changes"),
        ]
        assert [o["metadata"]["name"] for o in informer.by_index("team", "a")] == ["changes"]

        # And it watches again from the new list.
        await client.create(WORKFLOW_EXECUTIONS, namespace, workflow_execution("later"))
        await eventually(lambda: ("ADDED", "later") in seen, 10)


async def test_informer_across_namespaces_keys_by_namespace(
    client: Client, namespace: str, eventually: Eventually
) -> None:
    await client.create(CONFIG_MAPS, namespace, config_map("mine", owner=namespace))
    informer = Informer(client, CONFIG_MAPS, label_selector=f"owner={namespace}")

    async with running(informer):
        assert [o["metadata"]["name"] for o in informer.list()] == ["mine"]
        assert informer.keys() == [f"{namespace}/mine"]
        assert informer.get(namespace, "mine") is not None
        assert informer.get("default", "mine") is None
