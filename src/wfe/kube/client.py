"""A thin, generic async Kubernetes client over ``kubernetes_asyncio``'s ApiClient.

Objects are plain dicts exactly as the API server sends them (no model round trip that could
drop unknown fields). Every call goes through ``ApiClient.call_api`` with the resource's URL, so
core and custom resources take the same path, and every failure is raised as a
:mod:`wfe.kube.errors` type — nothing above ``wfe.kube`` sees ``ApiException``.

Traps handled here, once:

- kubernetes_asyncio sends a dict PATCH body as JSON-patch; :meth:`Client.patch` and
  :meth:`Client.patch_status` send ``application/merge-patch+json``.
- ``Watch`` deserialises into models and retries in ways we do not control;
  :meth:`Client.watch` reads the raw stream line by line and yields the events as dicts.
- without a request timeout an unanswered call hangs forever; every call has one.

:attr:`Client.writes` counts write calls by verb (``create``, ``replace``, ``delete``,
``patch``, ``patch_status``, ``event``), attempted, whether or not they succeed: the benchmark's
"API writes per WFE".
"""

from __future__ import annotations

import builtins
import collections
import json
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

import aiohttp
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.client.exceptions import ApiException

from wfe.kube import discovery
from wfe.kube.errors import ApiError, api_error, error_from_response

__all__ = [
    "EVENTS",
    "LEASES",
    "MERGE_PATCH",
    "Client",
    "KubeObject",
    "Resource",
]

KubeObject = dict[str, Any]
"""An API object as the server sends it (``apiVersion``, ``kind``, ``metadata``, …)."""

MERGE_PATCH = "application/merge-patch+json"

_CONNECTION_ERRORS = (ApiException, aiohttp.ClientError, TimeoutError, OSError)
_JSON = {200: "object", 201: "object", 202: "object"}


@dataclass(frozen=True)
class Resource:
    """An API resource type: ``group`` ``""`` is the core group (``/api/v1``)."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        """``apiVersion`` of its objects: ``v1`` or ``group/version``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str = ""
    ) -> str:
        """The URL path of the collection, or of one object (and its subresource).

        Raises:
            ValueError: a namespaced object without a namespace, or a namespace for a
                cluster-scoped resource.
        """
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace and not self.namespaced:
            raise ValueError(f"{self.kind} is cluster-scoped: no namespace")
        if name is not None and self.namespaced and not namespace:
            raise ValueError(f"{self.kind} is namespaced: a namespace is required")
        parts = [base]
        if namespace:
            parts.append(f"namespaces/{quote(namespace, safe='')}")
        parts.append(self.plural)
        if name is not None:
            parts.append(quote(name, safe=""))
            if subresource:
                parts.append(subresource)
        return "/".join(parts)


EVENTS = Resource("", "v1", "events", "Event")
LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease")


class Client:
    """Async CRUD, merge patches, watches and discovery; raises only :mod:`wfe.kube.errors`.

    Args:
        api: a configured ``kubernetes_asyncio`` ApiClient (the caller closes it).
        request_timeout: seconds any one non-watch call may take before it fails as
            :class:`~wfe.kube.errors.Unavailable`.
    """

    def __init__(self, api: ApiClient, *, request_timeout: float = 30.0) -> None:
        self.api = api
        self.request_timeout = request_timeout
        self.writes: collections.Counter[str] = collections.Counter()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        query: builtins.list[tuple[str, str]] | None = None,
        body: object = None,
        content_type: str = "application/json",
        res: Resource | None = None,
        namespace: str | None = None,
        name: str | None = None,
    ) -> Any:
        """One request; the decoded JSON response. Maps every failure to ApiError."""
        # call_api is untyped; going through Any keeps mypy --strict honest about it.
        api = cast(Any, self.api)
        try:
            return await api.call_api(
                path,
                method,
                query_params=query or [],
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body,
                response_types_map=_JSON,
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
                _request_timeout=self.request_timeout,
            )
        except _CONNECTION_ERRORS as exc:
            kind = res.kind if res is not None else ""
            raise api_error(exc, kind=kind, namespace=namespace, name=name) from exc

    # -- reads -------------------------------------------------------------------------------

    async def get(self, res: Resource, namespace: str | None, name: str) -> KubeObject:
        """The object ``namespace/name``.

        Raises:
            NotFound: it does not exist. Other :class:`~wfe.kube.errors.ApiError` as they come.
        """
        obj: KubeObject = await self._call(
            "GET", res.path(namespace, name), res=res, namespace=namespace, name=name
        )
        return obj

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
        """One page of the collection (all namespaces when ``namespace`` is None), raw.

        The result is the list object: ``items`` plus ``metadata.resourceVersion`` and, when
        ``limit`` cut it short, ``metadata.continue``.

        Raises:
            Gone: ``continue_token`` expired (list again from the start).
        """
        query: builtins.list[tuple[str, str]] = []
        for key, value in (
            ("labelSelector", label_selector),
            ("fieldSelector", field_selector),
            ("limit", str(limit) if limit else None),
            ("continue", continue_token),
            ("resourceVersion", resource_version),
        ):
            if value:
                query.append((key, value))
        result: KubeObject = await self._call(
            "GET", res.path(namespace), query=query, res=res, namespace=namespace
        )
        return result

    # -- writes ------------------------------------------------------------------------------

    async def create(self, res: Resource, namespace: str | None, body: KubeObject) -> KubeObject:
        """Create ``body``; the stored object.

        Raises:
            AlreadyExists: an object of that name exists. Invalid: the schema rejected it.
        """
        self.writes["create"] += 1
        name = body.get("metadata", {}).get("name")
        obj: KubeObject = await self._call(
            "POST", res.path(namespace), body=body, res=res, namespace=namespace, name=name
        )
        return obj

    async def replace(
        self, res: Resource, namespace: str | None, name: str, body: KubeObject
    ) -> KubeObject:
        """PUT ``body`` over the object; ``metadata.resourceVersion`` in it makes it conditional.

        Raises:
            Conflict: the resourceVersion is stale. NotFound: the object is gone.
        """
        self.writes["replace"] += 1
        obj: KubeObject = await self._call(
            "PUT", res.path(namespace, name), body=body, res=res, namespace=namespace, name=name
        )
        return obj

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
        """Delete the object — only the one with this ``uid`` / ``resource_version`` if given.

        The preconditions make the API server refuse to delete a different object that took the
        name meanwhile (a re-created PipelineRun, say).

        Raises:
            NotFound: nothing by that name. Conflict: a precondition did not match.
        """
        self.writes["delete"] += 1
        options: KubeObject = {"apiVersion": "v1", "kind": "DeleteOptions"}
        preconditions = {
            k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v
        }
        if preconditions:
            options["preconditions"] = preconditions
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        await self._call(
            "DELETE",
            res.path(namespace, name),
            body=options,
            res=res,
            namespace=namespace,
            name=name,
        )

    async def patch(
        self, res: Resource, namespace: str | None, name: str, patch: Mapping[str, Any]
    ) -> KubeObject:
        """JSON merge patch (RFC 7386) of the object; the patched object.

        A ``metadata.resourceVersion`` in ``patch`` makes the server check it (→ Conflict).
        ``None`` values delete keys; lists are replaced whole.
        """
        self.writes["patch"] += 1
        return await self._merge_patch(res, namespace, name, patch, subresource="")

    async def patch_status(
        self, res: Resource, namespace: str | None, name: str, patch: Mapping[str, Any]
    ) -> KubeObject:
        """JSON merge patch of the ``status`` subresource; the patched object.

        With ``metadata.resourceVersion`` in ``patch`` the server enforces optimistic
        concurrency: a concurrent write makes this raise Conflict.
        """
        self.writes["patch_status"] += 1
        return await self._merge_patch(res, namespace, name, patch, subresource="status")

    async def _merge_patch(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        patch: Mapping[str, Any],
        *,
        subresource: str,
    ) -> KubeObject:
        if not patch:
            # call_api drops a falsy body, and the server rejects an empty PATCH; an empty
            # merge patch changes nothing, so read instead.
            return await self.get(res, namespace, name)
        obj: KubeObject = await self._call(
            "PATCH",
            res.path(namespace, name, subresource),
            body=dict(patch),
            content_type=MERGE_PATCH,
            res=res,
            namespace=namespace,
            name=name,
        )
        return obj

    async def create_event(self, namespace: str, body: KubeObject) -> None:
        """Create a core/v1 Event in ``namespace``."""
        self.writes["event"] += 1
        await self._call("POST", EVENTS.path(namespace), body=body, res=EVENTS, namespace=namespace)

    # -- watch -------------------------------------------------------------------------------

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
        """Watch events after ``resource_version``, raw: ``{"type": ..., "object": {...}}``.

        Types are ADDED, MODIFIED, DELETED, BOOKMARK (only ``metadata.resourceVersion`` is
        meaningful) and ERROR (``object`` is a Status; code 410 means the resourceVersion is
        too old — list again). The iteration ends when the server closes the watch (after
        about ``timeout_seconds``). ``on_open`` is called once the server accepted the watch.
        Close the iterator (``contextlib.aclosing``) when stopping early.

        Raises:
            Gone: the server refused ``resource_version`` as too old.
            ApiError: the watch could not be opened, or the stream broke.
        """
        query = [
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("timeoutSeconds", str(timeout_seconds)),
        ]
        if allow_bookmarks:
            query.append(("allowWatchBookmarks", "true"))
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        # No total timeout; a read timeout a little past the server's own close catches a
        # connection that died silently.
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.request_timeout, sock_read=timeout_seconds + 30
        )
        api = cast(Any, self.api)
        try:
            response: aiohttp.ClientResponse = await api.call_api(
                res.path(namespace),
                "GET",
                query_params=query,
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=timeout,
            )
        except _CONNECTION_ERRORS as exc:
            raise api_error(exc, kind=res.kind, namespace=namespace) from exc
        try:
            if response.status != 200:
                body = await response.read()
                raise error_from_response(
                    response.status,
                    body,
                    kind=res.kind,
                    namespace=namespace,
                    retry_after=response.headers.get("Retry-After"),
                )
            if on_open is not None:
                on_open()
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield _decode_event(line)
            if buffer.strip():
                yield _decode_event(buffer)
        except ApiError:
            raise
        except _CONNECTION_ERRORS as exc:
            raise api_error(exc, kind=res.kind, namespace=namespace) from exc
        finally:
            response.release()

    # -- discovery ---------------------------------------------------------------------------

    async def discover(self) -> discovery.Discovery:
        """Every resource list the server serves (core and every group version, concurrently).

        Raises:
            ApiError: the group listing itself failed (one group version failing is reported
                in :attr:`Discovery.failed` instead).
        """
        return await discovery.discover(self)

    async def has_api(self, group_version: str, plural: str) -> bool:
        """Whether the server serves ``plural`` in ``group_version`` (``tekton.dev/v1``, ``v1``).

        Raises:
            ApiError: discovery failed other than with 404.
        """
        path = f"/apis/{group_version}" if "/" in group_version else f"/api/{group_version}"
        try:
            listing = await self._call("GET", path)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        resources = listing.get("resources", []) if isinstance(listing, dict) else []
        return any(r.get("name") == plural for r in resources)


def _decode_event(line: bytes) -> KubeObject:
    try:
        event = json.loads(line)
    except ValueError as exc:
        raise ApiError(f"undecodable watch event: {line[:200]!r}", reason="BadWatchEvent") from exc
    if not isinstance(event, dict) or "type" not in event:
        raise ApiError(f"malformed watch event: {line[:200]!r}", reason="BadWatchEvent")
    return event
