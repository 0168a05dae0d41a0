"""An informer: a local cache of one resource type, kept current by list + watch (STYLE §2, §12).

:meth:`Informer.run` lists the collection in pages (``limit``/``continue``), then watches from
the list's resourceVersion with bookmarks, so a quiet watch still advances its resourceVersion.
When the server says that resourceVersion is too old (410 Gone, as an HTTP error or as an ERROR
event) it lists again and replaces the cache, telling handlers what changed meanwhile: DELETED
for objects that vanished, ADDED for new ones, MODIFIED for changed ones. Any other error is
logged, marks the informer unhealthy, and is retried after a capped, jittered exponential
backoff — resuming the watch from the last resourceVersion seen, not re-listing everything.

Handlers receive ``(event_type, obj, old)`` and should only enqueue keys (controller-runtime
and sample-controller do the same): all decisions read the cache again later. A MODIFIED whose
resourceVersion did not change is dropped, except for the periodic resync, which re-delivers
MODIFIED for every cached object with ``old is obj``.

**Cached objects are shared and read-only.** ``get``, ``list``, ``by_index`` and the handlers
hand out the cache's own dicts, without copying, to keep 10,000 objects cheap; mutating one
corrupts the cache for everyone. Deep-copy before changing anything.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import random
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import structlog

from wfe.kube.client import Client, KubeObject, Resource
from wfe.kube.clock import Clock, SystemClock
from wfe.kube.errors import ApiError, Gone, error_from_status

__all__ = ["Handler", "Indexer", "Informer", "object_key"]

Handler = Callable[[str, KubeObject, KubeObject | None], None]
"""``handler(event_type, obj, old)``: event_type is ADDED, MODIFIED or DELETED."""

Indexer = Callable[[KubeObject], list[str]]
"""Index values of an object (e.g. its target resource); objects may have several or none."""

_log = structlog.get_logger(__name__)


def object_key(obj: Mapping[str, Any]) -> str:
    """``namespace/name`` of an object, or ``name`` when it is cluster-scoped."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta['name']}" if namespace else str(meta["name"])


def _rv(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class _WatchExpired(Exception):
    """The watch's resourceVersion is too old: list again."""


class Informer:
    """Cache of one resource type (optionally one namespace / label selector), see the module.

    Args:
        client: the API client.
        resource: what to cache.
        namespace: one namespace, or None for all.
        label_selector: only objects matching it.
        resync_period: seconds between re-deliveries of every cached object, None for never.
        page_size: list page size (``limit``).
        indexers: named functions giving an object's index values, for :meth:`by_index`.
        transform: applied to every object before it is cached and handed to handlers (like
            client-go's SetTransform): drop what the controller never reads to save memory.
        clock: time source for backoff and resync (tests pass a fake one).
        watch_timeout: seconds the server keeps one watch open before we re-open it.
        backoff_base, backoff_max: the retry backoff after errors, in seconds.
    """

    def __init__(
        self,
        client: Client,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        resync_period: float | None = None,
        page_size: int = 500,
        indexers: Mapping[str, Indexer] | None = None,
        transform: Callable[[KubeObject], KubeObject] | None = None,
        clock: Clock | None = None,
        watch_timeout: int = 300,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.resync_period = resync_period
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._handlers: list[Handler] = []
        self._store: dict[str, KubeObject] = {}
        self._indexers: dict[str, Indexer] = dict(indexers or {})
        self._transform = transform
        self._indices: dict[str, dict[str, set[str]]] = {n: {} for n in self._indexers}
        self._index_values: dict[str, dict[str, list[str]]] = {n: {} for n in self._indexers}
        self._synced = asyncio.Event()
        self.healthy = False
        """False after an error until the next list or watch event succeeds (readiness)."""
        self.last_error: ApiError | None = None
        """The most recent list or watch error, kept after recovery for diagnostics."""
        self.resource_version = ""
        """The resourceVersion the cache is current to."""
        self.relists = 0
        """How many times the cache was listed (the first list included)."""
        self._watch_events = 0

    # -- reading the cache -------------------------------------------------------------------

    @property
    def synced(self) -> bool:
        """Whether the first list has completed."""
        return self._synced.is_set()

    async def wait_synced(self, timeout: float | None = None) -> bool:
        """Wait for the first list to complete; False if ``timeout`` seconds pass first."""
        if self._synced.is_set():
            return True
        try:
            await asyncio.wait_for(self._synced.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def get(self, namespace: str | None, name: str) -> KubeObject | None:
        """The cached object (read-only!), or None."""
        return self._store.get(f"{namespace}/{name}" if namespace else name)

    def list(self) -> list[KubeObject]:
        """All cached objects (read-only!)."""
        return list(self._store.values())

    def keys(self) -> builtins.list[str]:
        """The keys (``namespace/name``) of all cached objects."""
        return list(self._store)

    def by_index(self, index_name: str, value: str) -> builtins.list[KubeObject]:
        """Cached objects whose indexer ``index_name`` yields ``value`` (read-only!).

        Raises:
            KeyError: no indexer of that name.
        """
        keys = self._indices[index_name].get(value, ())
        return [self._store[k] for k in sorted(keys)]

    def add_handler(self, fn: Handler) -> None:
        """Call ``fn(event_type, obj, old)`` on every change; it should only enqueue keys."""
        self._handlers.append(fn)

    # -- the store ---------------------------------------------------------------------------

    def _put(self, key: str, obj: KubeObject) -> KubeObject:
        """Store `obj` (transformed, if a transform is set); the stored object."""
        if self._transform is not None:
            obj = self._transform(obj)
        self._store[key] = obj
        for name, indexer in self._indexers.items():
            self._unindex(name, key)
            values = list(dict.fromkeys(indexer(obj)))
            self._index_values[name][key] = values
            for value in values:
                self._indices[name].setdefault(value, set()).add(key)
        return obj

    def _remove(self, key: str) -> KubeObject | None:
        for name in self._indexers:
            self._unindex(name, key)
        return self._store.pop(key, None)

    def _unindex(self, name: str, key: str) -> None:
        index = self._indices[name]
        for value in self._index_values[name].pop(key, ()):
            keys = index.get(value)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del index[value]

    def _emit(self, event_type: str, obj: KubeObject, old: KubeObject | None) -> None:
        for handler in self._handlers:
            try:
                handler(event_type, obj, old)
            except Exception:
                # A broken handler must not stop the cache; it is a bug, so log it loudly.
                _log.exception(
                    "informer handler failed", kind=self.resource.kind, event_type=event_type
                )

    # -- running -----------------------------------------------------------------------------

    async def run(self) -> None:
        """List, watch, re-list on 410, retry on errors; runs until cancelled."""
        resync = None
        if self.resync_period:
            resync = asyncio.create_task(self._resync_loop(self.resync_period))
        try:
            await self._list_watch_loop()
        finally:
            if resync is not None:
                resync.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await resync

    async def _list_watch_loop(self) -> None:
        failures = 0
        must_list = True
        while True:
            self._watch_events = 0
            try:
                if must_list:
                    await self._relist()
                    must_list = False
                    self._mark_healthy()
                # Progress is kept in self.resource_version event by event, so after an error
                # the watch resumes from the last event seen.
                started = self._clock.now()
                await self._watch_once(self.resource_version)
                if not self._watch_events and self._clock.now() - started < 1.0:
                    # Ended at once with nothing to say: don't spin on a broken server.
                    await self._clock.sleep(self._backoff(1))
                failures = 0
            except (Gone, _WatchExpired):
                # Re-list at once; only a second 410 in a row (right after a fresh list) waits.
                _log.info("watch expired, listing again", kind=self.resource.kind)
                must_list = True
                failures = 1 if self._watch_events else failures + 1
                if failures > 1:
                    await self._clock.sleep(self._backoff(failures - 1))
            except ApiError as exc:
                failures = 1 if self._watch_events else failures + 1
                delay = self._backoff(failures)
                self.healthy = False
                self.last_error = exc
                _log.warning(
                    "list or watch failed, retrying",
                    kind=self.resource.kind,
                    error=str(exc),
                    failures=failures,
                    retry_in=round(delay, 3),
                )
                await self._clock.sleep(delay)

    def _backoff(self, failures: int) -> float:
        delay = min(self._backoff_base * float(2 ** min(failures - 1, 30)), self._backoff_max)
        return delay * random.uniform(0.5, 1.0)  # jitter, not cryptography

    def _mark_healthy(self) -> None:
        self.healthy = True

    async def _list_all(self) -> tuple[builtins.list[KubeObject], str]:
        items: builtins.list[KubeObject] = []
        token: str | None = None
        limit: int | None = self.page_size
        while True:
            try:
                page = await self.client.list(
                    self.resource,
                    self.namespace,
                    label_selector=self.label_selector,
                    limit=limit,
                    continue_token=token,
                )
            except Gone:
                if token is None:
                    raise
                # The continue token expired mid-way: start over, in one page (as client-go).
                items, token, limit = [], None, None
                continue
            meta = page.get("metadata") or {}
            items.extend(_with_kind(page.get("items") or [], self.resource))
            token = meta.get("continue") or None
            if token is None:
                return items, str(meta.get("resourceVersion") or "")

    async def _relist(self) -> None:
        items, rv = await self._list_all()
        self.relists += 1
        fresh = {object_key(obj): obj for obj in items}
        for key in [k for k in self._store if k not in fresh]:
            gone = self._remove(key)
            if gone is not None:
                self._emit("DELETED", gone, None)
        for key, obj in fresh.items():
            old = self._store.get(key)
            if old is not None and _rv(old) == _rv(obj):
                continue
            obj = self._put(key, obj)
            self._emit("ADDED" if old is None else "MODIFIED", obj, old)
        self.resource_version = rv
        if not self._synced.is_set():
            _log.info("informer synced", kind=self.resource.kind, objects=len(self._store))
            self._synced.set()

    async def _watch_once(self, rv: str) -> None:
        """One watch from ``rv`` until the server ends it (or it fails).

        Counts its events in ``_watch_events``: a watch that delivered any made progress, so
        the failure count (and the backoff) starts again after it.
        """
        events = self.client.watch(
            self.resource,
            self.namespace,
            resource_version=rv,
            timeout_seconds=self.watch_timeout,
            label_selector=self.label_selector,
            on_open=self._mark_healthy,
        )
        async with contextlib.aclosing(events):
            async for event in events:
                self.resource_version = self._apply(event) or self.resource_version
                self._watch_events += 1

    def _apply(self, event: Mapping[str, Any]) -> str:
        """Apply one watch event to the cache; its resourceVersion."""
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise _WatchExpired(obj.get("message", ""))
            raise error_from_status(obj, kind=self.resource.kind, namespace=self.namespace)
        rv = _rv(obj)
        if kind == "BOOKMARK":
            return rv
        obj.setdefault("kind", self.resource.kind)
        obj.setdefault("apiVersion", self.resource.api_version)
        key = object_key(obj)
        if kind == "DELETED":
            old = self._remove(key)
            self._emit("DELETED", obj, old)
        elif kind in ("ADDED", "MODIFIED"):
            old = self._store.get(key)
            if old is not None and _rv(old) == rv:
                return rv
            obj = self._put(key, obj)
            self._emit("ADDED" if old is None else "MODIFIED", obj, old)
        else:
            _log.warning("unknown watch event type", kind=self.resource.kind, type=kind)
        return rv

    async def _resync_loop(self, period: float) -> None:
        while True:
            await self._clock.sleep(period)
            if not self.synced:
                continue
            for obj in list(self._store.values()):
                self._emit("MODIFIED", obj, obj)


def _with_kind(items: Iterable[KubeObject], resource: Resource) -> list[KubeObject]:
    # List items come without apiVersion/kind; set them so cached objects look like watched ones.
    out = []
    for item in items:
        item.setdefault("kind", resource.kind)
        item.setdefault("apiVersion", resource.api_version)
        out.append(item)
    return out
