"""Target resources: `namespace/Kind/name` (namespaced) or `Kind/name` (cluster-scoped).

The raw string is the lock key and is compared exactly as written (SPEC §2): parsing only
checks the format and exposes the parts for messages; it never normalises. The format is the
CRD's rule (`wfe.api.formats.TARGET_PATTERN`, docs/api.md), checked again here because objects
may predate it: namespace and name are lowercase Kubernetes names, the kind an identifier,
optionally qualified by its API group (`Certificate.cert-manager.io`). Whether the kind is one
the API server serves, spelled as it spells it, is not a question of format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wfe.api.formats import MAX_NAME_LENGTH, TARGET_PATTERN
from wfe.api.spec import TARGET_MESSAGE
from wfe.core.errors import InvalidInput, Problem

__all__ = ["FIELD", "Target", "parse_target"]

FIELD = "spec.targetResource"
_TARGET = re.compile(TARGET_PATTERN)
_MAX_LENGTH = 600


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed target; `raw` is the exact string the lock is derived from.

    `kind` is the kind alone (`Certificate`); `group` the API group when the target names one
    (`cert-manager.io` in `payment/Certificate.cert-manager.io/web`).
    """

    raw: str
    kind: str
    name: str
    namespace: str | None = None
    group: str | None = None

    @property
    def cluster_scoped(self) -> bool:
        return self.namespace is None

    @property
    def qualified_kind(self) -> str:
        """The kind part as written: `Kind` or `Kind.group`."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


def parse_target(raw: object) -> Target:
    """Parse and check a target string.

    Raises:
        InvalidInput: naming `spec.targetResource`, when the value is not a string of the form
            `namespace/Kind/name` or `Kind/name` with valid parts.
    """
    if not isinstance(raw, str):
        raise InvalidInput([Problem(FIELD, f"must be a string, got {type(raw).__name__}")])
    if len(raw) > _MAX_LENGTH:
        raise InvalidInput([Problem(FIELD, f"longer than {_MAX_LENGTH} characters")])
    if not _TARGET.fullmatch(raw):
        raise InvalidInput([Problem(FIELD, f"{TARGET_MESSAGE} (got {raw[:80]!r})")])
    parts = raw.split("/")
    if any(len(part) > MAX_NAME_LENGTH for part in parts):
        raise InvalidInput(
            [Problem(FIELD, f"{TARGET_MESSAGE}; each part at most {MAX_NAME_LENGTH} characters")]
        )
    namespace = parts[0] if len(parts) == 3 else None
    kind, _, group = parts[-2].partition(".")
    return Target(raw=raw, namespace=namespace, kind=kind, group=group or None, name=parts[-1])
