"""The per-target lock's name and the label value that identifies a target (SPEC §3).

The lock is the PipelineRun named `lock_name(target)` in the execution namespace; the API
server's name uniqueness makes creating it an atomic test-and-set. The name must equal what the
runbooks compute by hand:

    echo -n "$TARGET" | sha256sum | cut -c1-16 | xargs printf "wfe-%s"
"""

from __future__ import annotations

import hashlib
import re
from typing import NewType

__all__ = ["LOCK_NAME_PATTERN", "LockName", "label_value", "lock_name", "target_label_value"]

LockName = NewType("LockName", str)
LOCK_NAME_PATTERN = re.compile(r"^wfe-[0-9a-f]{16}$")

_LABEL_MAX = 63
_NOT_LABEL_CHAR = re.compile(r"[^A-Za-z0-9_.-]")


def _digest(target: str) -> str:
    return hashlib.sha256(target.encode("utf-8")).hexdigest()


def lock_name(target: str) -> LockName:
    """`wfe-` + the first 16 hex characters of SHA-256 of the exact target bytes (UTF-8)."""
    return LockName("wfe-" + _digest(target)[:16])


def target_label_value(target: str) -> str:
    """A valid Kubernetes label value that reads like the target (`/` becomes `.`)."""
    return label_value(target.replace("/", "."), key=target)


def label_value(text: str, *, key: str | None = None) -> str:
    """A valid Kubernetes label value that reads like `text`.

    Characters a label value may not hold become `-`. When that changed anything, or the value
    is too long, a 16-character hash of `key` (default: `text`) is appended so distinct inputs
    stay distinct; annotations keep the raw values either way.
    """
    cleaned = _NOT_LABEL_CHAR.sub("-", text)
    if cleaned == text and len(cleaned) <= _LABEL_MAX and _edges_ok(cleaned):
        return cleaned
    suffix = _digest(text if key is None else key)[:16]
    head = cleaned[: _LABEL_MAX - len(suffix) - 1].strip("-_.")
    return f"{head}-{suffix}" if head else suffix


def _edges_ok(value: str) -> bool:
    return value == "" or (value[0].isalnum() and value[-1].isalnum())
