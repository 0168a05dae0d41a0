"""The records of an explanation (`wfe explain`, `wfe locks`): what was observed, what decides,
and plain-data output of them. The reasoning that fills them is `core.explain`'s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wfe.api.base import format_time
from wfe.core import contention, kinds, pending
from wfe.core.history import WfeRecord

__all__ = ["Cause", "Explanation", "LockView", "Observed", "iso", "plain", "to_rfc3339"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Observed:
    """Everything the controller would look at, as the shell read it."""

    record: WfeRecord
    others: Sequence[WfeRecord]
    """The other WorkflowExecutions on the record's exact target (Running/Completed/Failed)."""
    seen: pending.LockSeen
    """The record's own lock as `controller.locks` sees it (confirmed: read from the server)."""
    existing: contention.ExistingLock | None
    """The target's lock PipelineRun, None when absent."""
    lock_name: str | None
    owner: WfeRecord | None = None
    """The WorkflowExecution the lock records as its owner, None if it names none or is gone."""
    lock_created: datetime | None = None
    lock_completion: datetime | None = None
    kinds: kinds.KindCatalog


@dataclass(frozen=True, slots=True, kw_only=True)
class Cause:
    """The object that causes the decision: a holder, or the target's last remediation."""

    name: str
    phase: str | None = None
    workflow_id: str | None = None
    started: datetime | None = None
    completed: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LockView:
    """The target's lock PipelineRun."""

    name: str
    state: str
    """absent | running | finished | deleting"""
    holder: str | None = None
    holder_exists: bool = False
    created: datetime | None = None
    release_due: datetime | None = None
    """When its holder may let it go (`release.release_due`), None while it runs."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Explanation:
    """The decision the controller would take now, and why."""

    subject: str
    target: str | None
    phase: str | None
    decision: str
    """Run | Skip | Fail | Defer | Adopt | Wait | HoldLock | ReleaseLock | Done"""
    rule: str
    message: str
    cause: Cause | None = None
    allowed: str = "now"
    """For a new WorkflowExecution on the target: now | at | never without a clearance |
    after the running one finishes | unknown"""
    allowed_at: datetime | None = None
    clear_command: str | None = None
    lock: LockView | None = None
    recorded: str | None = None
    """What the status already records (a Skipped or finished one)."""
    new_on_target: Explanation | None = None
    """What a new WorkflowExecution on the same target would get now."""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for json/yaml output (times as RFC 3339 UTC)."""
        out: dict[str, Any] = plain(dataclasses.asdict(self))
        return out


def to_rfc3339(when: datetime) -> str:
    """UTC, RFC 3339, as the API writes times."""
    return format_time(when)


def iso(when: datetime | None) -> str:
    """RFC 3339 UTC, or "-" when there is no time."""
    return format_time(when) if when else "-"


def plain(value: Any) -> Any:
    """Plain data for output: times as RFC 3339 UTC."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    return value
