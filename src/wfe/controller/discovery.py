"""The kinds the cluster serves, from API discovery, for the one-spelling rule (docs/targets.md).

`core.kinds` decides whether a target spells its Kind as discovery does; this module keeps the
catalog it decides from. Discovery is read once when first needed and again when a target names
a kind the catalog does not know exactly (a CRD installed since), at most once per
`min_refresh_seconds`, so a storm of misspelled targets costs one discovery per interval, not
one per WorkflowExecution. A discovery that fails leaves the last catalog in place; with none
at all the reconcile is retried (fail closed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import structlog

from wfe.controller.errors import Retry
from wfe.core.kinds import KindCatalog, ServedKind
from wfe.kube import errors
from wfe.kube.client import Client
from wfe.kube.discovery import Discovery

__all__ = ["KindDiscovery", "catalog_from_discovery"]

_log = structlog.get_logger("wfe.controller")


def _group_of(group_version: str) -> str:
    group, _, _version = group_version.rpartition("/")
    return group


def _served(resource_list: Mapping[str, Any]) -> Iterable[ServedKind]:
    group = _group_of(str(resource_list.get("groupVersion") or ""))
    for res in resource_list.get("resources") or []:
        name, kind = res.get("name"), res.get("kind")
        if not isinstance(name, str) or not isinstance(kind, str) or "/" in name:
            continue  # subresources (deployments/scale) are not objects of their own
        yield ServedKind(
            kind=kind,
            group=group,
            namespaced=bool(res.get("namespaced")),
            plural=name,
            singular=str(res.get("singularName") or ""),
            short_names=tuple(str(s) for s in res.get("shortNames") or ()),
        )


def catalog_from_discovery(discovery: Discovery) -> KindCatalog:
    """The core's catalog of what discovery listed; incomplete if any listing failed."""
    kinds = [k for listing in discovery.resource_lists for k in _served(listing)]
    return KindCatalog.of(kinds, complete=not discovery.failed)


class KindDiscovery:
    """A refreshed-on-demand catalog of served kinds."""

    def __init__(
        self,
        client: Client,
        *,
        min_refresh_seconds: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._min_refresh = min_refresh_seconds
        self._monotonic = monotonic
        self._catalog: KindCatalog | None = None
        self._fetched_at = 0.0

    async def catalog_for(self, kind_part: str) -> KindCatalog:
        """A catalog to judge `kind_part` (`Kind` or `Kind.group` as a target writes it) with.

        Raises:
            Retry: discovery failed and there is no earlier catalog to judge with.
        """
        catalog = self._catalog
        if catalog is not None and catalog.complete and catalog.knows(kind_part):
            return catalog
        if catalog is None or self._monotonic() - self._fetched_at >= self._min_refresh:
            catalog = await self._refresh()
        return catalog

    async def _refresh(self) -> KindCatalog:
        self._fetched_at = self._monotonic()  # a failed attempt counts too (rate limit)
        try:
            discovery = await self._client.discover()
        except errors.ApiError as exc:
            if self._catalog is None:
                raise Retry(f"API discovery failed: {exc}") from exc
            _log.warning("api discovery failed; using the previous catalog", error=str(exc))
            return self._catalog
        self._catalog = catalog_from_discovery(discovery)
        if discovery.failed:
            _log.warning("api discovery incomplete", failed=list(discovery.failed))
        return self._catalog
