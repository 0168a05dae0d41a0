"""Read-your-writes over an informer cache that lags the controller's own writes.

After the controller patches a WorkflowExecution, the watch event for that change arrives a
little later; a reconcile in between would read the old version from the cache, decide again
and meet a Conflict (harmless, but wasted API calls under a storm). This remembers the object
each write returned and which resourceVersions it superseded: while the cache still shows one of
those, the written object is the truth. Anything else in the cache — including a change made by
someone else — wins, so this can never hide a foreign change. Only equality of resourceVersions
is used, never their order (they are opaque).
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["OwnWrites"]


def _rv(obj: dict[str, Any] | None) -> str | None:
    if obj is None:
        return None
    value = (obj.get("metadata") or {}).get("resourceVersion")
    return str(value) if value is not None else None


class OwnWrites:
    """Per-key memory of the last object this controller wrote."""

    def __init__(self) -> None:
        self._written: dict[str, tuple[frozenset[str], dict[str, Any]]] = {}

    def newest(self, key: str, cached: dict[str, Any] | None) -> dict[str, Any] | None:
        """The cached object, or our newer write when the cache still shows what it replaced."""
        entry = self._written.get(key)
        if entry is None or cached is None:
            self._written.pop(key, None)
            return cached
        superseded, latest = entry
        if _rv(cached) in superseded:
            return latest
        self._written.pop(key, None)
        return cached

    def wrote(self, key: str, before: str, written: dict[str, Any]) -> None:
        """Record that a write replaced resourceVersion `before` with `written`."""
        entry = self._written.get(key)
        superseded = {before}
        if entry is not None and _rv(entry[1]) == before:
            superseded |= entry[0]
        self._written[key] = (frozenset(superseded), copy.deepcopy(written))

    def __len__(self) -> int:
        return len(self._written)
