"""Tekton simulator: the list-and-watch loop that outlives the API server (a test tool).

The simulator (:mod:`wfe.dev.tekton_sim`) must keep driving its runs through everything the
controller's tests rehearse (docs/testenv.md, "The Tekton simulator"): an expired
resourceVersion (``410 Gone``), a dropped connection, the API server restarting, and Tekton's
CRDs deleted and created again ("Tekton API not served"). :class:`ListWatch` lists, then
watches from the list's resourceVersion (bookmarks on); a watch that ends is resumed from the
last resourceVersion; ``410 Gone`` re-lists at once; anything else re-lists after
``retry_delay``. A ``404`` means the resource is not served (its CRD is gone): that is said
once, ``on_not_served`` is called (nothing of that kind exists any more) and the loop polls
quietly until the resource is back, then says so. It never ends on its own, and logs one
line per failure, never a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
from kubernetes_asyncio import watch
from kubernetes_asyncio.client.exceptions import ApiException

from wfe.dev.tekton_shapes import Json

__all__ = ["ListWatch"]

_log = structlog.get_logger(__name__)

GROUP, VERSION = "tekton.dev", "v1"
_WATCH_SECONDS = 300  # the server ends each watch after this; it is resumed
# A client-side bound a little past the server's: a connection that died without a word (no
# FIN, no RST) still ends, and the loop re-lists.
_WATCH_CLIENT_TIMEOUT = _WATCH_SECONDS + 30
_REQUEST_TIMEOUT = 30.0


class ListWatch:
    """Lists and watches one ``tekton.dev/v1`` resource of a namespace until cancelled.

    ``on_listing(items)`` gets every list's items (the complete current state);
    ``on_event(type, object)`` every watch event but bookmarks; ``on_not_served()`` is called
    when the resource stops being served.
    """

    def __init__(
        self,
        api: Any,  # CustomObjectsApi; Any because tests pass a fake
        namespace: str,
        plural: str,
        *,
        on_listing: Callable[[list[Json]], None],
        on_event: Callable[[str, Json], None],
        on_not_served: Callable[[], None],
        retry_delay: float,
    ) -> None:
        self._api = api
        self._namespace = namespace
        self._plural = plural
        self._on_listing = on_listing
        self._on_event = on_event
        self._on_not_served = on_not_served
        self._retry_delay = retry_delay
        self.served = True
        """False from a ``404`` until a list succeeds again."""

    async def run(self) -> None:
        """List and watch, forever (see the module doc)."""
        what = f"{GROUP}/{VERSION} {self._plural}"
        while True:
            try:
                version = await self.list()
                if not self.served:
                    self.served = True
                    _log.info("tekton simulator: served again, carrying on", resource=what)
                await self.watch(version)
            except ApiException as exc:
                if exc.status == 410:
                    _log.info("tekton simulator: watch expired, re-listing", resource=what)
                    continue
                if exc.status == 404:
                    if self.served:
                        self.served = False
                        _log.warning(
                            "tekton simulator: not served (CRD deleted?); waiting for it",
                            resource=what,
                        )
                        self._on_not_served()
                else:
                    _log.warning(
                        "tekton simulator: list/watch failed", resource=what, status=exc.status
                    )
            except Exception as exc:
                # Deliberately broad. Transport errors (aiohttp, OSError, TimeoutError) and what
                # kubernetes_asyncio raises for a watch line cut off mid-way (a bare Exception,
                # or a str for an event): all of them mean "list again"; none may end it.
                _log.warning(
                    "tekton simulator: list/watch failed",
                    resource=what,
                    error=f"{type(exc).__name__}: {exc}",
                )
            await asyncio.sleep(self._retry_delay)

    async def list(self) -> str:
        """One list: hand its items over; return its resourceVersion."""
        listing = await self._api.list_namespaced_custom_object(
            GROUP, VERSION, self._namespace, self._plural, _request_timeout=_REQUEST_TIMEOUT
        )
        self._on_listing(list(listing.get("items") or []))
        return str(listing["metadata"]["resourceVersion"])

    async def watch(self, version: str) -> None:
        """Watch from ``version``, resuming each watch the server ends, until an error."""
        while True:
            stream = watch.Watch()
            async with stream:
                async for event in stream.stream(
                    self._api.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    self._namespace,
                    self._plural,
                    resource_version=version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=_WATCH_SECONDS,
                    _request_timeout=_WATCH_CLIENT_TIMEOUT,
                ):
                    if not isinstance(event, dict):
                        raise ValueError(f"not a watch event: {event!r:.200}")
                    if event["type"] != "BOOKMARK":
                        self._on_event(str(event["type"]), event["raw_object"])
                version = stream.resource_version or version
