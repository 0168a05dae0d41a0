"""The informer's list/watch protocol against a scripted API (wfe.kube.informer).

The real API server proves the wire (tests/integration/kube); these pin down each protocol
rule fast and exactly: pagination, bookmarks, dropped no-op updates, re-list on 410 with
synthetic events, resuming after errors without a re-list, indexes and resync.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any, cast

import pytest
from kubernetes_asyncio.client import ApiClient

from wfe.kube import errors
from wfe.kube.client import Client, KubeObject, Resource
from wfe.kube.clock import FakeClock, settle
from wfe.kube.informer import Informer, object_key

THINGS = Resource("example.com", "v1", "things", "Thing")
_END = object()


def thing(name: str, rv: int, target: str = "t1", namespace: str = "ns") -> KubeObject:
    return {
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": str(rv)},
        "spec": {"target": target},
    }


class ScriptedApi(Client):
    """Serves ``objects`` to list calls and whatever the test pushes to watch streams."""

    def __init__(self) -> None:
        super().__init__(cast(ApiClient, None))
        self.objects: dict[str, KubeObject] = {}
        self.rv = 100
        self.list_calls: list[dict[str, Any]] = []
        self.list_errors: list[errors.ApiError] = []
        self.expire_continue = False
        self.watch_calls: list[str] = []
        self.watch_errors: list[errors.ApiError] = []
        self.stream: asyncio.Queue[object] = asyncio.Queue()

    def put(self, *objs: KubeObject) -> None:
        for obj in objs:
            self.objects[object_key(obj)] = obj
            self.rv = max(self.rv, int(obj["metadata"]["resourceVersion"]))

    async def list(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        limit: int | None = None,
        continue_token: str | None = None,
        **_: Any,
    ) -> KubeObject:
        self.list_calls.append({"limit": limit, "continue": continue_token})
        if self.list_errors:
            raise self.list_errors.pop(0)
        if continue_token and self.expire_continue:
            self.expire_continue = False
            raise errors.Gone("continue token expired", status=410, reason="Expired")
        items = [dict(o) for _, o in sorted(self.objects.items())]
        start = int(continue_token or 0)
        end = start + limit if limit else len(items)
        meta: dict[str, Any] = {"resourceVersion": str(self.rv)}
        if end < len(items):
            meta["continue"] = str(end)
        return {"items": items[start:end], "metadata": meta}

    async def watch(
        self,
        res: Resource,
        namespace: str | None,
        *,
        resource_version: str,
        on_open: Callable[[], None] | None = None,
        **_: Any,
    ) -> AsyncGenerator[KubeObject, None]:
        self.watch_calls.append(resource_version)
        if self.watch_errors:
            raise self.watch_errors.pop(0)
        if on_open is not None:
            on_open()
        while True:
            item = await self.stream.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield cast(KubeObject, item)

    def event(self, kind: str, obj: KubeObject) -> None:
        self.stream.put_nowait({"type": kind, "object": obj})


Seen = list[tuple[str, str, str | None]]


@pytest.fixture
def api() -> ScriptedApi:
    return ScriptedApi()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@contextlib.asynccontextmanager
async def running(informer: Informer) -> AsyncIterator[Seen]:
    """Run ``informer``, recording (event, name, old resourceVersion) per handler call."""
    seen: Seen = []

    def record(kind: str, obj: KubeObject, old: KubeObject | None) -> None:
        old_rv = None if old is None else old["metadata"]["resourceVersion"]
        seen.append((kind, obj["metadata"]["name"], old_rv))

    informer.add_handler(record)
    task = asyncio.create_task(informer.run())
    await settle()
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_lists_in_pages_then_watches_from_the_lists_resource_version(
    api: ScriptedApi, clock: FakeClock
) -> None:
    api.put(*(thing(f"t{i}", 10 + i) for i in range(5)))
    informer = Informer(api, THINGS, namespace="ns", page_size=2, clock=clock)

    async with running(informer) as seen:
        assert informer.synced
        assert await informer.wait_synced(0)
        assert api.list_calls == [
            {"limit": 2, "continue": None},
            {"limit": 2, "continue": "2"},
            {"limit": 2, "continue": "4"},
        ]
        assert seen == [("ADDED", f"t{i}", None) for i in range(5)]
        assert api.watch_calls == ["100"]
        assert informer.healthy
        cached = informer.get("ns", "t3")
        assert cached is not None
        assert cached["kind"] == "Thing"  # list items get their kind back
        assert cached["apiVersion"] == "example.com/v1"
        assert len(informer.list()) == 5


async def test_watch_events_update_the_cache_and_reach_handlers(
    api: ScriptedApi, clock: FakeClock
) -> None:
    api.put(thing("a", 10))
    informer = Informer(api, THINGS, clock=clock)

    async with running(informer) as seen:
        api.event("ADDED", thing("b", 101))
        api.event("MODIFIED", thing("a", 102))
        api.event("MODIFIED", thing("a", 102))  # same resourceVersion: dropped
        api.event("BOOKMARK", {"metadata": {"resourceVersion": "150"}})
        api.event("DELETED", thing("b", 151))
        await settle()

        assert seen == [
            ("ADDED", "a", None),
            ("ADDED", "b", None),
            ("MODIFIED", "a", "10"),
            ("DELETED", "b", "101"),
        ]
        assert informer.get("ns", "b") is None
        assert informer.get("ns", "a") == thing("a", 102) | {
            "kind": "Thing",
            "apiVersion": "example.com/v1",
        }
        assert informer.resource_version == "151"


async def test_a_410_error_event_relists_and_reports_what_changed_meanwhile(
    api: ScriptedApi, clock: FakeClock
) -> None:
    api.put(thing("stays", 10), thing("changes", 11), thing("vanishes", 12))
    informer = Informer(api, THINGS, clock=clock)

    async with running(informer) as seen:
        seen.clear()
        del api.objects["ns/vanishes"]
        api.put(thing("changes", 201), thing("appears", 202))
        api.event(
            "ERROR",
            {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"},
        )
        await settle()

        assert sorted(seen) == [
            ("ADDED", "appears", None),
            ("DELETED", "vanishes", None),
            ("MODIFIED", "changes", "11"),
        ]
        assert sorted(o["metadata"]["name"] for o in informer.list()) == [
            "appears",
            "changes",
            "stays",
        ]
        assert api.watch_calls == ["100", "202"]
        assert informer.relists == 2
        assert informer.healthy


async def test_a_410_on_opening_the_watch_relists(api: ScriptedApi, clock: FakeClock) -> None:
    api.put(thing("a", 10))
    api.watch_errors = [errors.Gone("too old", status=410, reason="Expired")]
    informer = Informer(api, THINGS, clock=clock)

    async with running(informer):
        assert len(api.list_calls) == 2
        assert api.watch_calls == ["100", "100"]
        assert clock.sleepers == 0  # no backoff for a first 410


async def test_other_watch_errors_back_off_and_resume_from_the_last_resource_version(
    api: ScriptedApi, clock: FakeClock
) -> None:
    api.put(thing("a", 10))
    informer = Informer(api, THINGS, clock=clock, backoff_base=1.0, backoff_max=8.0)

    async with running(informer):
        api.event("MODIFIED", thing("a", 120))
        failure = errors.ServerError("etcd leader changed", status=500, reason="InternalError")
        api.stream.put_nowait(failure)
        api.watch_errors = [errors.Unavailable("connection refused", reason="Unavailable")]
        await settle()

        assert not informer.healthy
        assert informer.last_error is failure
        assert api.watch_calls == ["100"]

        await clock.advance(1.0)  # first backoff: at most backoff_base
        assert api.watch_calls == ["100", "120"]
        assert isinstance(informer.last_error, errors.Unavailable)
        assert not informer.healthy

        await clock.advance(2.0)  # second backoff: at most twice that
        assert api.watch_calls == ["100", "120", "120"]
        assert informer.healthy  # the watch opened again
        assert len(api.list_calls) == 1  # resumed, never re-listed


async def test_a_server_ended_watch_is_reopened_at_once(api: ScriptedApi, clock: FakeClock) -> None:
    informer = Informer(api, THINGS, clock=clock)

    async with running(informer):
        api.event("BOOKMARK", {"metadata": {"resourceVersion": "130"}})
        api.stream.put_nowait(_END)
        await settle()

        assert api.watch_calls == ["100", "130"]
        assert len(api.list_calls) == 1


async def test_a_failing_first_list_is_retried_and_sync_waits_for_it(
    api: ScriptedApi, clock: FakeClock
) -> None:
    api.put(thing("a", 10))
    api.list_errors = [errors.Forbidden("no list", status=403, reason="Forbidden")]
    informer = Informer(api, THINGS, clock=clock, backoff_base=1.0)

    async with running(informer):
        assert not informer.synced
        assert not await informer.wait_synced(0.01)
        assert isinstance(informer.last_error, errors.Forbidden)

        await clock.advance(1.0)

        assert informer.synced
        assert informer.healthy
        assert informer.get("ns", "a") is not None


async def test_an_expired_continue_token_restarts_the_list_in_one_page(
    api: ScriptedApi, clock: FakeClock
) -> None:
    api.put(*(thing(f"t{i}", 10 + i) for i in range(3)))
    api.expire_continue = True
    informer = Informer(api, THINGS, page_size=2, clock=clock)

    async with running(informer) as seen:
        assert api.list_calls == [
            {"limit": 2, "continue": None},
            {"limit": 2, "continue": "2"},
            {"limit": None, "continue": None},
        ]
        assert len(seen) == 3


async def test_indexes_follow_every_change(api: ScriptedApi, clock: FakeClock) -> None:
    api.put(thing("a", 10, target="x"), thing("b", 11, target="x"), thing("c", 12, target="y"))

    def by_target(obj: KubeObject) -> list[str]:
        return [obj["spec"]["target"]]

    informer = Informer(api, THINGS, indexers={"target": by_target}, clock=clock)

    def names(value: str) -> list[str]:
        return [o["metadata"]["name"] for o in informer.by_index("target", value)]

    async with running(informer):
        assert names("x") == ["a", "b"]
        assert names("y") == ["c"]

        api.event("MODIFIED", thing("b", 101, target="y"))
        api.event("DELETED", thing("c", 102, target="y"))
        api.event("ADDED", thing("d", 103, target="z"))
        await settle()

        assert names("x") == ["a"]
        assert names("y") == ["b"]
        assert names("z") == ["d"]
        assert names("nothing") == []
        with pytest.raises(KeyError):
            informer.by_index("no-such-index", "x")


async def test_resync_redelivers_every_cached_object_as_modified(
    api: ScriptedApi, clock: FakeClock
) -> None:
    api.put(thing("a", 10), thing("b", 11))
    informer = Informer(api, THINGS, resync_period=30, clock=clock)

    async with running(informer) as seen:
        seen.clear()
        await clock.advance(29)
        assert seen == []

        await clock.advance(1)
        assert sorted(seen) == [("MODIFIED", "a", "10"), ("MODIFIED", "b", "11")]

        await clock.advance(30)
        assert len(seen) == 4


async def test_a_failing_handler_does_not_stop_the_informer(
    api: ScriptedApi, clock: FakeClock
) -> None:
    informer = Informer(api, THINGS, clock=clock)

    def broken(kind: str, obj: KubeObject, old: KubeObject | None) -> None:
        raise RuntimeError("handler bug")

    informer.add_handler(broken)

    async with running(informer) as seen:
        api.event("ADDED", thing("a", 101))
        api.event("ADDED", thing("b", 102))
        await settle()

        assert [name for _, name, _ in seen] == ["a", "b"]


async def test_cluster_scoped_objects_are_keyed_by_name(api: ScriptedApi, clock: FakeClock) -> None:
    node = {"metadata": {"name": "n1", "resourceVersion": "10"}}
    api.put(node)
    informer = Informer(api, Resource("", "v1", "nodes", "Node", namespaced=False), clock=clock)

    async with running(informer):
        assert object_key(node) == "n1"
        assert informer.get(None, "n1") is not None
        assert informer.keys() == ["n1"]


async def test_a_watch_that_ends_at_once_without_events_is_not_reopened_in_a_tight_loop(
    api: ScriptedApi, clock: FakeClock
) -> None:
    informer = Informer(api, THINGS, clock=clock, backoff_base=1.0)

    async with running(informer):
        api.stream.put_nowait(_END)
        api.stream.put_nowait(_END)
        await settle()
        assert api.watch_calls == ["100"]

        await clock.advance(1.0)
        assert api.watch_calls == ["100", "100"]


async def test_repeated_list_failures_back_off_exponentially(
    api: ScriptedApi, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("wfe.kube.informer.random.uniform", lambda low, high: high)
    api.list_errors = [errors.ServerError("down", status=503, reason="ServiceUnavailable")] * 4
    informer = Informer(api, THINGS, clock=clock, backoff_base=1.0, backoff_max=4.0)

    async with running(informer):
        calls = []
        for _ in range(12):
            calls.append(len(api.list_calls))
            await clock.advance(1.0)

        # Failures at t=0, 1, 3, 7 (waits 1, 2, 4 and then the 4 s cap); success at t=11.
        assert calls == [1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5]
        assert informer.synced
