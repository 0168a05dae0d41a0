"""JSON merge patches (RFC 7386) computed from an old and a new document.

Status writes send only what changed, with `null` for what was removed, plus the object's
`resourceVersion` so the API server rejects a write based on a stale read (Conflict) — the
controller then re-reads, re-decides and retries instead of overwriting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["merge_diff", "status_patch"]


def merge_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The merge patch that turns `old` into `new` (lists are replaced whole)."""
    patch: dict[str, Any] = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            nested = merge_diff(before, value)
            if nested:
                patch[key] = nested
        elif key not in old or before != value:
            patch[key] = value
    return patch


def status_patch(
    old_status: Mapping[str, Any], new_status: Mapping[str, Any], resource_version: str
) -> dict[str, Any] | None:
    """A status-subresource patch guarded by `resource_version`; None when nothing changed."""
    diff = merge_diff(old_status, new_status)
    if not diff:
        return None
    return {"metadata": {"resourceVersion": resource_version}, "status": diff}
