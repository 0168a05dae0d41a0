"""What to do when the lock's PipelineRun already exists (SPEC §4 step 4, §3).

Creating the PipelineRun is the atomic test-and-set; `AlreadyExists` means someone holds the
name. Three answers: it is ours (a previous status write was lost: adopt it); another
WorkflowExecution legitimately holds it (skip as ResourceBusy); or it is a stale lock left by a
controller that was down or a release that failed (release it on the owner's behalf, then retry
the create). Ownership is read from the PipelineRun's labels — never assumed from the name,
which is how upstream deleted another WorkflowExecution's run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from wfe.api.enums import Phase, SkipReason
from wfe.api.models import ConflictingWorkflow, SkipDetails, WorkflowExecutionStatus
from wfe.core.conditions import settle
from wfe.core.history import WfeRecord
from wfe.core.policy import Policy
from wfe.core.release import release_due

__all__ = [
    "LOCK_FINALIZER",
    "OWNER_LABEL",
    "OWNER_NAMESPACE_ANNOTATION",
    "OWNER_NAMESPACE_LABEL",
    "OWNER_NAME_ANNOTATION",
    "OWNER_UID_ANNOTATION",
    "Adopt",
    "Busy",
    "ExistingLock",
    "ReleaseStale",
    "Resolution",
    "owned_by",
    "owner_of",
    "resolve_existing",
]

OWNER_LABEL = "kubernaut.ai/workflow-execution"
OWNER_NAMESPACE_LABEL = "kubernaut.ai/source-namespace"
# The owner's exact name and namespace. Labels carry them as valid label values (a name may be
# 253 characters, a label value 63), so ownership is read from these annotations; runs written
# before they existed fall back to the labels.
OWNER_NAME_ANNOTATION = "kubernaut.ai/workflow-execution"
# On every lock PipelineRun from its creation: it cannot vanish before the controller has
# recorded what became of its run (docs/architecture.md, "No run without a trace"). A person's
# or a pruner's delete only marks it; the controller records the run, then removes this.
LOCK_FINALIZER = "kubernaut.ai/workflowexecution-lock"
OWNER_NAMESPACE_ANNOTATION = "kubernaut.ai/source-namespace"
# The owner's uid: a WorkflowExecution deleted and re-created under the same name is another
# object, and must neither adopt nor release its predecessor's run as its own.
OWNER_UID_ANNOTATION = "kubernaut.ai/workflow-execution-uid"


@dataclass(frozen=True, slots=True)
class Adopt:
    """The PipelineRun is this WorkflowExecution's own."""


@dataclass(frozen=True, slots=True)
class Busy:
    """Another WorkflowExecution holds the lock: skip."""

    details: SkipDetails

    @property
    def status(self) -> WorkflowExecutionStatus:
        """The status to write: Skipped, ResourceBusy."""
        skipped = WorkflowExecutionStatus(phase=Phase.SKIPPED, skip_details=self.details)
        return settle(skipped, now=self.details.skipped_at)


@dataclass(frozen=True, slots=True)
class ReleaseStale:
    """The holder is gone or past its release time: delete the lock on its behalf."""

    owner_namespace: str | None
    owner_name: str | None
    why: str

    @property
    def owner_key(self) -> str:
        if self.owner_namespace and self.owner_name:
            return f"{self.owner_namespace}/{self.owner_name}"
        return "a WorkflowExecution it does not record"


Resolution = Adopt | Busy | ReleaseStale


@dataclass(frozen=True, slots=True, kw_only=True)
class ExistingLock:
    """A lock PipelineRun as read from the API server."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    finished: bool
    """Its `Succeeded` condition is True or False."""
    deleting: bool = False
    """Someone deleted it; it stays (our finalizer) until its owner has recorded the run."""

    @property
    def owner(self) -> tuple[str, str] | None:
        return owner_of(self.labels, self.annotations)


def owned_by(
    labels: Mapping[str, str] | None,
    *,
    namespace: str,
    name: str,
    annotations: Mapping[str, str] | None = None,
    uid: str | None = None,
) -> bool:
    """True only when the run's recorded owner is exactly this WorkflowExecution — and, when
    the run records its owner's uid and `uid` is given, that uid is this object's."""
    if owner_of(labels, annotations) != (namespace, name):
        return False
    recorded = (annotations or {}).get(OWNER_UID_ANNOTATION)
    return not (uid and recorded and recorded != uid)


def owner_of(
    labels: Mapping[str, str] | None, annotations: Mapping[str, str] | None
) -> tuple[str, str] | None:
    """The (namespace, name) of the WorkflowExecution a lock PipelineRun records as its owner.

    The annotations hold the exact names; the labels only valid label values (a long name is
    shortened and hashed there), so they are read only from runs that predate the annotations.
    """
    annotations = annotations or {}
    namespace = annotations.get(OWNER_NAMESPACE_ANNOTATION)
    name = annotations.get(OWNER_NAME_ANNOTATION)
    if not (namespace and name):
        labels = labels or {}
        namespace, name = labels.get(OWNER_NAMESPACE_LABEL), labels.get(OWNER_LABEL)
    return (namespace, name) if namespace and name else None


def resolve_existing(
    candidate: WfeRecord,
    existing: ExistingLock,
    owner: WfeRecord | None,
    *,
    now: datetime,
    policy: Policy,
) -> Resolution:
    """Decide about an existing lock PipelineRun for `candidate`, a valid-target WFE.

    Args:
        owner: the WorkflowExecution the lock records as its owner, read from the API server,
            or None if that object does not exist (or the lock names nobody).
    """
    if owned_by(
        existing.labels,
        namespace=candidate.namespace,
        name=candidate.name,
        annotations=existing.annotations,
        uid=candidate.uid,
    ):
        return Adopt()
    target = candidate.target or ""
    recorded = existing.annotations.get(OWNER_UID_ANNOTATION)
    if owner is not None and recorded and owner.uid and owner.uid != recorded:
        owner = None  # the object of that name is a later incarnation: the owner is gone
    owner_ns, owner_name = existing.owner or (None, None)
    if existing.deleting and owner is None:
        # Deleted, and nobody is left to record it: nothing more to wait for.
        return ReleaseStale(owner_ns, owner_name, "it was deleted and its owner no longer exists")
    if not existing.finished:
        # Still running: the target is being changed whether or not its owner still exists.
        return Busy(_busy(target, owner_ns, owner_name, owner, now, "still running"))
    if owner is None:
        return ReleaseStale(owner_ns, owner_name, "its WorkflowExecution no longer exists")
    due = release_due(owner.status, policy)
    if due is not None and due <= now:
        return ReleaseStale(owner_ns, owner_name, "it is past its release time")
    return Busy(_busy(target, owner_ns, owner_name, owner, now, "holding the lock"))


def _busy(
    target: str,
    owner_ns: str | None,
    owner_name: str | None,
    owner: WfeRecord | None,
    now: datetime,
    state: str,
) -> SkipDetails:
    who = f"{owner_ns}/{owner_name}" if owner_ns and owner_name else "another WorkflowExecution"
    return SkipDetails(
        reason=SkipReason.RESOURCE_BUSY,
        message=f"{target} is locked by {who} ({state})",
        skipped_at=now,
        conflicting_workflow=ConflictingWorkflow(
            name=owner_name or "unknown",
            workflow_id=owner.workflow_id if owner else None,
            started_at=owner.status.start_time if owner else None,
            target_resource=target,
        ),
    )
