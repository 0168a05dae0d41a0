"""Snapshots of WorkflowExecutions as the core sees them: the candidate and its target's past.

The shell turns API objects (informer cache or a fresh read) into `WfeRecord`s once, at the
edge; the core never touches raw objects beyond this module, and never mutates them. A record
carries what every decision needs already worked out: the parsed target (None if malformed),
its lock name, whether our finalizer is on it (which proves a lock was taken), and the
annotations a person writes (clearance).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from wfe.api.enums import Phase
from wfe.api.models import WorkflowExecutionStatus
from wfe.core.errors import InvalidInput, Problem, problems_from_validation
from wfe.core.lock import LockName, lock_name
from wfe.core.target import Target, parse_target

__all__ = [
    "FINALIZER",
    "HISTORY_PHASES",
    "UnreadablePeer",
    "WfeRecord",
    "most_recent_terminal",
    "peers_on_target",
    "record_from_object",
    "running_on_target",
]

# The phases in which a WorkflowExecution can hold, cool or block its target: the only ones a
# decision reads (a storm's Skipped objects are passed over unparsed).
HISTORY_PHASES = frozenset({Phase.RUNNING.value, Phase.COMPLETED.value, Phase.FAILED.value})
# Added only after the lock was taken (docs/architecture.md, "No run without a trace").
FINALIZER = "kubernaut.ai/workflowexecution-cleanup"

_TIME = TypeAdapter(datetime)


@dataclass(frozen=True, slots=True, kw_only=True)
class WfeRecord:
    """What the core needs to know about one WorkflowExecution."""

    namespace: str
    name: str
    uid: str
    target: str | None
    workflow_id: str | None
    created: datetime | None
    deleting: bool
    status: WorkflowExecutionStatus
    parsed_target: Target | None = None
    """The target, parsed; None when `target` is missing or malformed."""
    lock: LockName | None = None
    """The lock name of a well-formed target."""
    finalized: bool = False
    """Our finalizer is on it: a lock was taken for it."""
    spec: Mapping[str, Any] | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def phase(self) -> Phase | None:
        return self.status.phase

    @property
    def finished_at(self) -> datetime | None:
        return self.status.completion_time or self.status.start_time or self.created

    @property
    def block_cleared(self) -> bool:
        return self.status.block_clearance is not None


def record_from_object(obj: Mapping[str, Any]) -> WfeRecord:
    """Build a record from a WorkflowExecution object (a dict as the API returns it).

    Raises:
        InvalidInput: naming the field (`metadata.name`, `status.phase`, ...) that is missing
            or malformed.
    """
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        raise InvalidInput([Problem("metadata", "missing or not an object")])
    problems = [
        Problem(f"metadata.{field}", "missing or not a non-empty string")
        for field in ("namespace", "name")
        if not isinstance(meta.get(field), str) or not meta.get(field)
    ]
    try:
        status = WorkflowExecutionStatus.model_validate(obj.get("status") or {})
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc, prefix="status"))
        status = WorkflowExecutionStatus()
    created: datetime | None = None
    if meta.get("creationTimestamp") is not None:
        try:
            created = _TIME.validate_python(meta["creationTimestamp"])
        except ValidationError:
            problems.append(Problem("metadata.creationTimestamp", "not a timestamp"))
    if problems:
        raise InvalidInput(problems)
    spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
    assert isinstance(spec, Mapping)
    workflow_ref = spec.get("workflowRef")
    target = spec.get("targetResource")
    workflow_id = workflow_ref.get("workflowId") if isinstance(workflow_ref, Mapping) else None
    parsed: Target | None = None
    with contextlib.suppress(InvalidInput):  # reported by validation when it is decided
        parsed = parse_target(target)
    annotations = meta.get("annotations")
    return WfeRecord(
        namespace=meta["namespace"],
        name=meta["name"],
        uid=str(meta.get("uid") or ""),
        target=target if isinstance(target, str) else None,
        workflow_id=workflow_id if isinstance(workflow_id, str) else None,
        created=created,
        deleting=meta.get("deletionTimestamp") is not None,
        status=status,
        parsed_target=parsed,
        lock=lock_name(parsed.raw) if parsed is not None else None,
        finalized=FINALIZER in (meta.get("finalizers") or ()),
        spec=obj.get("spec") if isinstance(obj.get("spec"), Mapping) else None,
        annotations=dict(annotations) if isinstance(annotations, Mapping) else {},
    )


class UnreadablePeer(InvalidInput):
    """A WorkflowExecution on the target that cannot be read: deciding without it could miss
    the one that holds or blocks the target, so the caller must not decide (fail closed)."""

    def __init__(self, key: str, cause: InvalidInput) -> None:
        super().__init__(cause.problems)
        self.key = key
        self.cause = cause


def peers_on_target(objects: Iterable[Mapping[str, Any]], target: str) -> list[WfeRecord]:
    """The records of `objects` that can hold, cool or block exactly `target` (Running,
    Completed, Failed); the rest are passed over unparsed, so a storm's Skipped objects cost
    nothing.

    Raises:
        UnreadablePeer: one of them cannot be read.
    """
    out = []
    for obj in objects:
        if (obj.get("spec") or {}).get("targetResource") != target:
            continue
        if (obj.get("status") or {}).get("phase") not in HISTORY_PHASES:
            continue
        try:
            out.append(record_from_object(obj))
        except InvalidInput as exc:
            meta = obj.get("metadata") or {}
            raise UnreadablePeer(f"{meta.get('namespace')}/{meta.get('name')}", exc) from exc
    return out


def running_on_target(records: Iterable[WfeRecord], target: str) -> WfeRecord | None:
    """The earliest-started Running WorkflowExecution on exactly this target, if any."""
    running = [r for r in records if r.target == target and r.phase is Phase.RUNNING]
    return min(running, key=_start_order, default=None)


def most_recent_terminal(records: Iterable[WfeRecord], target: str) -> WfeRecord | None:
    """The last Completed or Failed WorkflowExecution on exactly this target (Skipped ignored).

    "Last" is by completion time, then creation time, then name, so the choice is
    deterministic even when clocks tie.
    """
    finished = [
        r for r in records if r.target == target and r.phase in (Phase.COMPLETED, Phase.FAILED)
    ]
    return max(finished, key=_finish_order, default=None)


def _start_order(record: WfeRecord) -> tuple[float, str]:
    started = record.status.start_time or record.created
    return (started.timestamp() if started else 0.0, record.key)


def _finish_order(record: WfeRecord) -> tuple[float, float, str]:
    finished = record.finished_at
    created = record.created
    return (
        finished.timestamp() if finished else 0.0,
        created.timestamp() if created else 0.0,
        record.key,
    )
