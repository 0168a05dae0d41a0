"""API discovery: every resource list the server serves (`GET /api`, `/apis`, each group
version), with the group versions whose listing failed kept apart, so a caller can tell "not
served" from "could not ask" (docs/targets.md, "Discovery")."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wfe.kube.errors import ApiError

if TYPE_CHECKING:
    from wfe.kube.client import Client

__all__ = ["Discovery", "discover"]

KubeObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Discovery:
    """What the server serves: one APIResourceList per group version, and the group versions
    whose listing failed (an aggregated API that is down), so a caller can tell "not served"
    from "could not ask"."""

    resource_lists: tuple[KubeObject, ...]
    failed: tuple[str, ...]


async def discover(client: Client) -> Discovery:
    core = await client._call("GET", "/api")
    group_versions = [f"{v}" for v in (core.get("versions") or []) if isinstance(v, str)]
    groups = await client._call("GET", "/apis")
    for group in groups.get("groups") or []:
        for version in group.get("versions") or []:
            gv = version.get("groupVersion")
            if isinstance(gv, str):
                group_versions.append(gv)

    async def listing(gv: str) -> KubeObject | None:
        path = f"/apis/{gv}" if "/" in gv else f"/api/{gv}"
        try:
            found: KubeObject = await client._call("GET", path)
        except ApiError:
            return None
        return found

    found = await asyncio.gather(*(listing(gv) for gv in group_versions))
    lists = tuple(f for f in found if isinstance(f, dict))
    failed = tuple(gv for gv, f in zip(group_versions, found, strict=True) if f is None)
    return Discovery(resource_lists=lists, failed=failed)
