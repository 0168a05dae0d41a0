"""An in-memory API server for the controller shell's unit tests (sample-controller style).

`FakeClient` implements the part of `wfe.kube.client.Client` the controller calls, with the API
server's rules that the controller relies on: uids and resourceVersions assigned on every
write, `AlreadyExists` on a create of an existing name, `NotFound` (also for a missing
namespace, with `details.kind == "namespaces"`), JSON merge patches guarded by
`metadata.resourceVersion` (`Conflict` on a mismatch), the status subresource (a patch of the
object ignores `status`, a status patch changes only `status`), delete preconditions on uid and
resourceVersion, finalizers (a delete of an object with finalizers only sets
`deletionTimestamp`; dropping the last finalizer removes it), and garbage collection of owned
objects unless a delete orphans them. Watches replay the change log from a resourceVersion, so
the real `Informer` can run against it.

Every call is recorded as an `Action` (verb, resource plural, namespace, name, body); a test
asserts on `client.write_calls()`. `client.fail(verb, resource, error, times=n)` makes the next `n`
calls of that verb on that resource raise `error` (recorded too, with the error).

`SeededInformer` is the real `Informer` whose cache a test loads from the fake store by hand
(`load()`), so the cache can lag the API server exactly as a test needs.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from kubernetes_asyncio.client import ApiClient

from wfe.api.models import format_time
from wfe.core.kinds import BUILTIN_KINDS, ServedKind
from wfe.kube import errors
from wfe.kube.client import Client, KubeObject, Resource
from wfe.kube.discovery import Discovery
from wfe.kube.informer import Informer, object_key
from wfe.observability.audit import AuditEvent
from wfe.observability.events import EventPublisher

__all__ = [
    "WRITE_VERBS",
    "Action",
    "CapturedAudit",
    "CapturedEvents",
    "FakeClient",
    "SeededInformer",
    "apply_merge_patch",
    "discovery_of",
    "matches_selector",
]

WRITE_VERBS = frozenset({"create", "delete", "patch", "patch_status", "replace"})
# Resources whose `status` is a subresource (the CRD, Tekton's runs).
_STATUS_SUBRESOURCE = frozenset({"workflowexecutions", "pipelineruns", "taskruns"})


@dataclass(frozen=True, slots=True)
class Action:
    """One call the controller made. `body` is what it sent: the object of a create, the
    patch of a patch, the DeleteOptions of a delete, the query of a list."""

    verb: str
    resource: str
    namespace: str | None = None
    name: str | None = None
    body: Any = None
    error: errors.ApiError | None = None

    @property
    def summary(self) -> tuple[str, str, str | None]:
        """(verb, resource, name): enough for most order assertions."""
        return (self.verb, self.resource, self.name)


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: `patch` applied to `target` (neither is modified)."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out: dict[str, Any] = dict(copy.deepcopy(target)) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = apply_merge_patch(out.get(key), value)
    return out


def matches_selector(labels: Mapping[str, str] | None, selector: str | None) -> bool:
    """Equality-based label selectors: `k=v`, `k==v`, `k!=v`, `k`, `!k`, comma-separated."""
    labels = labels or {}
    for term in (t.strip() for t in (selector or "").split(",")):
        if not term:
            continue
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def _resource_entry(kind: ServedKind) -> dict[str, Any]:
    return {
        "name": kind.plural,
        "singularName": kind.singular,
        "namespaced": kind.namespaced,
        "kind": kind.kind,
        "shortNames": list(kind.short_names),
        "verbs": ["get", "list", "watch", "create", "delete", "patch"],
    }


_TEKTON_KINDS = (
    ServedKind(kind="PipelineRun", group="tekton.dev", namespaced=True, plural="pipelineruns"),
    ServedKind(kind="TaskRun", group="tekton.dev", namespaced=True, plural="taskruns"),
)
_VERSIONS = {"autoscaling": "v2"}


def discovery_of(
    kinds: Iterable[ServedKind] = (*BUILTIN_KINDS, *_TEKTON_KINDS),
    *,
    failed: Sequence[str] = (),
) -> Discovery:
    """What `Client.discover` returns for a cluster serving `kinds` (one version per group),
    with the group versions in `failed` unreadable. Deployments get their `scale`
    subresource, as a real cluster lists it."""
    by_gv: dict[str, list[dict[str, Any]]] = {}
    for kind in kinds:
        version = _VERSIONS.get(kind.group, "v1")
        gv = f"{kind.group}/{version}" if kind.group else version
        entries = by_gv.setdefault(gv, [])
        entries.append(_resource_entry(kind))
        if kind.plural == "deployments":
            entries.append({"name": "deployments/scale", "kind": "Scale", "namespaced": True})
    lists = tuple(
        {"kind": "APIResourceList", "groupVersion": gv, "resources": resources}
        for gv, resources in sorted(by_gv.items())
    )
    return Discovery(resource_lists=lists, failed=tuple(failed))


def _meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


class FakeClient(Client):
    """An in-memory API server behind the `Client` interface (see the module docstring).

    Args:
        namespaces: the namespaces that exist; None means every namespace does.
        discovery: what `discover()` returns (default: the built-in kinds and Tekton's).
        clock: `creationTimestamp` / `deletionTimestamp` of the objects it stores.
    """

    def __init__(
        self,
        *,
        namespaces: Iterable[str] | None = None,
        discovery: Discovery | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(cast(ApiClient, None))
        self.namespaces: set[str] | None = set(namespaces) if namespaces is not None else None
        self.discovery = discovery if discovery is not None else discovery_of()
        self.clock = clock
        self.actions: list[Action] = []
        self.hooks: list[Callable[[Action], None]] = []
        """Called with every call's Action as it is made (to change the world mid-reconcile)."""
        self.events: list[KubeObject] = []
        self.resources: dict[str, Resource] = {}
        self._objects: dict[tuple[str, str | None, str], KubeObject] = {}
        self._failures: dict[tuple[str, str], deque[errors.ApiError]] = {}
        self._rv = itertools.count(101)
        self._uids = itertools.count(1)
        self.resource_version = "100"
        # The change log watches replay: (resourceVersion, plural, namespace, type, object).
        self._log: list[tuple[int, str, str | None, str, KubeObject]] = []
        self._waiters: list[asyncio.Future[None]] = []

    # --- seeding and inspecting (not recorded) -----------------------------------------------

    def put(self, res: Resource, obj: KubeObject) -> KubeObject:
        """Store `obj` as it is (status included) with a new resourceVersion, as if someone
        else had written it; a uid and creationTimestamp are assigned if missing."""
        self.resources[res.plural] = res
        obj = copy.deepcopy(obj)
        obj.setdefault("apiVersion", res.api_version)
        obj.setdefault("kind", res.kind)
        meta = obj.setdefault("metadata", {})
        key = (res.plural, meta.get("namespace"), meta["name"])
        existing = self._objects.get(key)
        if existing is not None:
            meta.setdefault("uid", _meta(existing)["uid"])
        meta.setdefault("uid", f"uid-{next(self._uids)}")
        self._stamp_created(meta)
        self._store(res, key, obj, "MODIFIED" if existing is not None else "ADDED")
        return copy.deepcopy(obj)

    def remove(self, res: Resource, namespace: str | None, name: str) -> None:
        """Delete the object outright (finalizers ignored), as if someone else had."""
        obj = self._objects.pop((res.plural, namespace, name), None)
        if obj is not None:
            self._record_change(res.plural, namespace, "DELETED", obj)

    def stored(self, res: Resource, namespace: str | None, name: str) -> KubeObject | None:
        """A copy of the stored object, or None."""
        obj = self._objects.get((res.plural, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def snapshot(
        self, res: Resource, namespace: str | None = None, label_selector: str | None = None
    ) -> list[KubeObject]:
        """Copies of the stored objects of `res` (in `namespace`, matching the selector)."""
        return [
            copy.deepcopy(obj)
            for (plural, ns, _), obj in sorted(
                self._objects.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2])
            )
            if plural == res.plural
            and (namespace is None or ns == namespace)
            and matches_selector(_meta(obj).get("labels"), label_selector)
        ]

    def write_calls(self, *, resource: str | None = None) -> list[Action]:
        """The write calls made (attempted), in order, optionally of one resource."""
        return [
            a
            for a in self.actions
            if a.verb in WRITE_VERBS and (resource is None or a.resource == resource)
        ]

    def calls(self, verb: str, resource: str | None = None) -> list[Action]:
        """The calls of one verb (optionally on one resource), in order."""
        return [
            a
            for a in self.actions
            if a.verb == verb and (resource is None or a.resource == resource)
        ]

    def fail(
        self, verb: str, res: Resource | str, error: errors.ApiError, *, times: int = 1
    ) -> None:
        """Make the next `times` calls of `verb` on `res` raise `error`."""
        plural = res if isinstance(res, str) else res.plural
        queue = self._failures.setdefault((verb, plural), deque())
        queue.extend([error] * times)

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait until `predicate()` holds, re-checked after every change to the store."""
        while not predicate():
            await self._next_change()

    # --- internals ---------------------------------------------------------------------------

    def _record(
        self, verb: str, plural: str, namespace: str | None, name: str | None, body: Any
    ) -> None:
        """Record the call; raise an injected failure if one is due."""
        queue = self._failures.get((verb, plural))
        error = queue.popleft() if queue else None
        action = Action(verb, plural, namespace, name, copy.deepcopy(body), error)
        if verb in WRITE_VERBS or verb == "create_event":
            self.writes["event" if verb == "create_event" else verb] += 1
        self.actions.append(action)
        for hook in list(self.hooks):
            hook(action)
        if error is not None:
            raise error

    async def _next_change(self) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter

    def _stamp_created(self, meta: dict[str, Any]) -> None:
        if "creationTimestamp" not in meta and self.clock is not None:
            meta["creationTimestamp"] = format_time(self.clock())

    def _next_rv(self) -> str:
        self.resource_version = str(next(self._rv))
        return self.resource_version

    def _store(
        self, res: Resource, key: tuple[str, str | None, str], obj: KubeObject, event: str
    ) -> None:
        _meta(obj)["resourceVersion"] = self._next_rv()
        self._objects[key] = obj
        self._record_change(res.plural, key[1], event, obj)

    def _record_change(
        self, plural: str, namespace: str | None, event: str, obj: KubeObject
    ) -> None:
        if event == "DELETED":
            obj = copy.deepcopy(obj)
            _meta(obj)["resourceVersion"] = self._next_rv()
        self._log.append((int(self.resource_version), plural, namespace, event, copy.deepcopy(obj)))
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _not_found(self, res: Resource, namespace: str | None, name: str) -> errors.NotFound:
        return errors.NotFound(
            f'{res.plural}.{res.group} "{name}" not found',
            status=404,
            reason="NotFound",
            kind=res.kind,
            namespace=namespace,
            name=name,
            details={"name": name, "group": res.group, "kind": res.plural},
        )

    def _existing(self, res: Resource, namespace: str | None, name: str) -> KubeObject:
        obj = self._objects.get((res.plural, namespace, name))
        if obj is None:
            raise self._not_found(res, namespace, name)
        return obj

    def _conflict(
        self, res: Resource, namespace: str | None, name: str, why: str
    ) -> errors.Conflict:
        return errors.Conflict(
            f'Operation cannot be fulfilled on {res.plural}.{res.group} "{name}": {why}',
            status=409,
            reason="Conflict",
            kind=res.kind,
            namespace=namespace,
            name=name,
        )

    def _check_rv(self, res: Resource, current: KubeObject, wanted: object) -> None:
        if wanted is not None and str(wanted) != _meta(current).get("resourceVersion"):
            meta = _meta(current)
            raise self._conflict(
                res,
                meta.get("namespace"),
                meta["name"],
                "the object has been modified; please apply your changes to the latest "
                "version and try again",
            )

    def _finish_if_finalized(self, res: Resource, obj: KubeObject) -> None:
        meta = _meta(obj)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._purge(res.plural, meta.get("namespace"), meta["name"], orphan=False)

    def _purge(self, plural: str, namespace: str | None, name: str, *, orphan: bool) -> None:
        obj = self._objects.pop((plural, namespace, name), None)
        if obj is None:
            return
        self._record_change(plural, namespace, "DELETED", obj)
        if orphan:
            return
        uid = _meta(obj).get("uid")
        # The garbage collector: dependents go with their owner (background propagation).
        for (dep_plural, dep_ns, dep_name), dep in list(self._objects.items()):
            refs = _meta(dep).get("ownerReferences") or []
            if any(r.get("uid") == uid for r in refs):
                self._purge(dep_plural, dep_ns, dep_name, orphan=False)

    # --- the Client interface ----------------------------------------------------------------

    async def get(self, res: Resource, namespace: str | None, name: str) -> KubeObject:
        self._record("get", res.plural, namespace, name, None)
        return copy.deepcopy(self._existing(res, namespace, name))

    async def list(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
    ) -> KubeObject:
        query = {"labelSelector": label_selector} if label_selector else {}
        self._record("list", res.plural, namespace, None, query)
        items = self.snapshot(res, namespace, label_selector)
        for item in items:  # list items come without apiVersion and kind
            item.pop("apiVersion", None)
            item.pop("kind", None)
        return {
            "apiVersion": res.api_version,
            "kind": f"{res.kind}List",
            "metadata": {"resourceVersion": self.resource_version},
            "items": items,
        }

    async def create(self, res: Resource, namespace: str | None, body: KubeObject) -> KubeObject:
        name = _meta(body).get("name")
        self._record("create", res.plural, namespace, name, body)
        self.resources[res.plural] = res
        if res.namespaced and self.namespaces is not None and namespace not in self.namespaces:
            raise errors.NotFound(
                f'namespaces "{namespace}" not found',
                status=404,
                reason="NotFound",
                kind=res.kind,
                namespace=namespace,
                name=name,
                details={"name": namespace, "kind": "namespaces"},
            )
        if not name:
            raise errors.Invalid("metadata.name: Required value", status=422, reason="Invalid")
        key = (res.plural, namespace, name)
        if key in self._objects:
            raise errors.AlreadyExists(
                f'{res.plural}.{res.group} "{name}" already exists',
                status=409,
                reason="AlreadyExists",
                kind=res.kind,
                namespace=namespace,
                name=name,
                details={"name": name, "group": res.group, "kind": res.plural},
            )
        obj = copy.deepcopy(body)
        obj.setdefault("apiVersion", res.api_version)
        obj.setdefault("kind", res.kind)
        if res.plural in _STATUS_SUBRESOURCE:
            obj.pop("status", None)  # a create ignores the status subresource
        meta = obj.setdefault("metadata", {})
        meta["namespace"] = namespace
        meta["uid"] = f"uid-{next(self._uids)}"
        meta["generation"] = 1
        meta.pop("deletionTimestamp", None)
        self._stamp_created(meta)
        self._store(res, key, obj, "ADDED")
        return copy.deepcopy(obj)

    async def replace(
        self, res: Resource, namespace: str | None, name: str, body: KubeObject
    ) -> KubeObject:
        self._record("replace", res.plural, namespace, name, body)
        current = self._existing(res, namespace, name)
        self._check_rv(res, current, _meta(body).get("resourceVersion"))
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        for kept in ("uid", "creationTimestamp", "namespace", "name"):
            if kept in _meta(current):
                meta[kept] = _meta(current)[kept]
        self._store(res, (res.plural, namespace, name), obj, "MODIFIED")
        return copy.deepcopy(obj)

    async def delete(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        *,
        uid: str | None = None,
        resource_version: str | None = None,
        propagation_policy: str | None = None,
    ) -> None:
        options: dict[str, Any] = {}
        preconditions = {
            k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v
        }
        if preconditions:
            options["preconditions"] = preconditions
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        self._record("delete", res.plural, namespace, name, options)
        current = self._existing(res, namespace, name)
        meta = _meta(current)
        if uid and meta.get("uid") != uid:
            raise self._conflict(
                res,
                namespace,
                name,
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                f"{meta.get('uid')}",
            )
        if resource_version and meta.get("resourceVersion") != resource_version:
            raise self._conflict(
                res,
                namespace,
                name,
                f"Precondition failed: ResourceVersion in precondition: {resource_version}, "
                f"ResourceVersion in object meta: {meta.get('resourceVersion')}",
            )
        if meta.get("finalizers"):
            if not meta.get("deletionTimestamp"):
                obj = copy.deepcopy(current)
                stamp = self.clock() if self.clock is not None else None
                _meta(obj)["deletionTimestamp"] = (
                    format_time(stamp) if stamp is not None else "2026-01-01T00:00:00Z"
                )
                self._store(res, (res.plural, namespace, name), obj, "MODIFIED")
            return
        self._purge(res.plural, namespace, name, orphan=propagation_policy == "Orphan")

    async def patch(
        self, res: Resource, namespace: str | None, name: str, patch: Mapping[str, Any]
    ) -> KubeObject:
        self._record("patch", res.plural, namespace, name, patch)
        return self._merge(res, namespace, name, patch, status=False)

    async def patch_status(
        self, res: Resource, namespace: str | None, name: str, patch: Mapping[str, Any]
    ) -> KubeObject:
        self._record("patch_status", res.plural, namespace, name, patch)
        return self._merge(res, namespace, name, patch, status=True)

    def _merge(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        patch: Mapping[str, Any],
        *,
        status: bool,
    ) -> KubeObject:
        current = self._existing(res, namespace, name)
        body: dict[str, Any] = copy.deepcopy(dict(patch))
        patch_meta = body.get("metadata")
        if isinstance(patch_meta, dict):
            self._check_rv(res, current, patch_meta.pop("resourceVersion", None))
            for fixed in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp"):
                patch_meta.pop(fixed, None)
        if status:
            body = {"status": body["status"]} if "status" in body else {}
        elif res.plural in _STATUS_SUBRESOURCE:
            body.pop("status", None)
        updated = apply_merge_patch(current, body)
        if updated == current:
            return copy.deepcopy(current)  # a no-op patch does not bump the resourceVersion
        self._store(res, (res.plural, namespace, name), updated, "MODIFIED")
        self._finish_if_finalized(res, updated)
        return copy.deepcopy(updated)

    async def create_event(self, namespace: str, body: KubeObject) -> None:
        self._record("create_event", "events", namespace, _meta(body).get("name"), body)
        self.events.append(copy.deepcopy(body))

    async def discover(self) -> Discovery:
        self._record("discover", "", None, None, None)
        return self.discovery

    async def has_api(self, group_version: str, plural: str) -> bool:
        self._record("has_api", "", None, group_version, plural)
        return any(
            listing.get("groupVersion") == group_version
            and any(r.get("name") == plural for r in listing.get("resources") or [])
            for listing in self.discovery.resource_lists
        )

    async def watch(
        self,
        res: Resource,
        namespace: str | None,
        *,
        resource_version: str,
        timeout_seconds: int = 300,
        label_selector: str | None = None,
        field_selector: str | None = None,
        allow_bookmarks: bool = True,
        on_open: Callable[[], None] | None = None,
    ) -> AsyncGenerator[KubeObject, None]:
        self._record("watch", res.plural, namespace, None, {"resourceVersion": resource_version})
        if on_open is not None:
            on_open()
        after = int(resource_version or 0)
        seen = 0
        while True:
            while seen < len(self._log):
                rv, plural, ns, event, obj = self._log[seen]
                seen += 1
                if rv <= after or plural != res.plural:
                    continue
                if namespace is not None and ns != namespace:
                    continue
                if not matches_selector(_meta(obj).get("labels"), label_selector):
                    continue
                yield {"type": event, "object": copy.deepcopy(obj)}
            await self._next_change()


class SeededInformer(Informer):
    """The real Informer (its indexes, transform and read API), its cache loaded by hand."""

    def load(self, objects: Iterable[KubeObject] | None = None) -> None:
        """Replace the cache with `objects` (default: what the fake store holds now, in the
        informer's namespace and matching its label selector) and mark it synced and healthy."""
        if objects is None:
            client = self.client
            assert isinstance(client, FakeClient)
            objects = client.snapshot(self.resource, self.namespace, self.label_selector)
        for key in list(self._store):
            self._remove(key)
        for obj in objects:
            obj = copy.deepcopy(obj)
            obj.setdefault("kind", self.resource.kind)
            obj.setdefault("apiVersion", self.resource.api_version)
            self._put(object_key(obj), obj)
        self._synced.set()
        self.healthy = True

    def forget(self, namespace: str | None, name: str) -> None:
        """Drop one object from the cache (a lagging watch)."""
        self._remove(f"{namespace}/{name}" if namespace else name)

    def unsync(self, *, healthy: bool = False) -> None:
        """The first list has not completed (or, with `healthy`, the watch is failing)."""
        self._synced.clear()
        self.healthy = healthy


class CapturedEvents(EventPublisher):
    """An EventPublisher that keeps the Events instead of sending them."""

    def __init__(self) -> None:
        super().__init__(_NoWriter(), on_drop=lambda: None)
        self.published: list[tuple[str, KubeObject]] = []

    def publish(self, namespace: str, body: dict[str, Any]) -> None:
        self.published.append((namespace, copy.deepcopy(body)))

    def reasons(self, name: str | None = None) -> list[str]:
        """The reasons of the Events published (about WorkflowExecution `name`), in order."""
        return [
            str(body["reason"])
            for _, body in self.published
            if name is None or body["involvedObject"]["name"] == name
        ]


class _NoWriter:
    async def create_event(self, namespace: str, body: dict[str, Any]) -> None:
        raise AssertionError("CapturedEvents never sends")


class CapturedAudit:
    """An audit sink that keeps the records."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def emit(self, event: AuditEvent) -> None:
        self.events.append(event)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def types(self) -> list[str]:
        return [str(e.event_type) for e in self.events]
