"""Target resources: `namespace/Kind/name` (namespaced) or `Kind/name` (cluster-scoped).

The raw string is the lock key and is compared exactly as written (SPEC §2): parsing only
checks the format and exposes the parts for messages; it never normalises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wfe.api.models import TARGET_PATTERN
from wfe.core.errors import InvalidInput, Problem

__all__ = ["FIELD", "Target", "parse_target"]

FIELD = "spec.targetResource"
_TARGET = re.compile(TARGET_PATTERN)
_MAX_LENGTH = 600


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed target; `raw` is the exact string the lock is derived from."""

    raw: str
    kind: str
    name: str
    namespace: str | None = None

    @property
    def cluster_scoped(self) -> bool:
        return self.namespace is None


def parse_target(raw: object) -> Target:
    """Parse and check a target string.

    Raises:
        InvalidInput: naming `spec.targetResource`, when the value is not a string of the form
            `namespace/Kind/name` or `Kind/name`.
    """
    if not isinstance(raw, str):
        raise InvalidInput([Problem(FIELD, f"must be a string, got {type(raw).__name__}")])
    if len(raw) > _MAX_LENGTH:
        raise InvalidInput([Problem(FIELD, f"longer than {_MAX_LENGTH} characters")])
    if not _TARGET.fullmatch(raw):
        raise InvalidInput(
            [Problem(FIELD, f"must be namespace/Kind/name or Kind/name (got {raw[:80]!r})")]
        )
    parts = raw.split("/")
    if len(parts) == 3:
        return Target(raw=raw, namespace=parts[0], kind=parts[1], name=parts[2])
    return Target(raw=raw, kind=parts[0], name=parts[1])
