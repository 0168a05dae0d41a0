"""The per-target lock protocol against the API server (docs/architecture.md, "The safety rules").

The lock is the PipelineRun named `record.lock` in the execution namespace; creating it is the
API server's atomic test-and-set. Each operation here carries its own ownership check and
preconditions, and reads top to bottom against the rules:

- `take`: create it. `AlreadyExists` → read it from the API server and let
  `core.contention.resolve_existing` judge: ours (adopt), another's that still holds it (busy),
  or stale (delete it on its owner's behalf — uid and resourceVersion preconditions, so only
  the very object judged can go — and create again). A permanent refusal (400/422) is a
  `Failed` decision, never retried; transient errors raise `Retry` with the cause.
- `seen`: what is known of a WorkflowExecution's own lock (the cache, or the API server when a
  conclusion would be irreversible).
- `own`: the lock if it is this WorkflowExecution's, cache first, API server before concluding
  it is gone.
- `release`: read it from the API server, check that it records this WorkflowExecution as its
  owner, remove the lock finalizer (resourceVersion precondition) and delete it (uid
  precondition, background propagation: its TaskRuns and pods go with it before the name can
  be taken again).

Every lock carries `contention.LOCK_FINALIZER` from its creation, so a delete by anyone else
(a person, Tekton's pruning) only marks it: the name stays taken, and the run is recorded by
its WorkflowExecution before the lock really goes. Removing the finalizer is the controller's
own last step of a release.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import structlog

from wfe.controller.errors import Retry
from wfe.controller.resources import PIPELINE_RUNS, WORKFLOW_EXECUTIONS
from wfe.core import contention, decide, history
from wfe.core.errors import InvalidInput
from wfe.core.lock import LockName
from wfe.core.pending import LockSeen
from wfe.core.policy import Policy
from wfe.kube import errors
from wfe.kube.client import Client
from wfe.kube.informer import Informer
from wfe.observability.recorder import Recorder
from wfe.tekton import status

__all__ = ["PROPAGATION", "Locks", "Taken", "existing_lock", "is_owned", "lock_seen"]

PROPAGATION = "Background"
_CREATE_ATTEMPTS = 3
_log = structlog.get_logger("wfe.controller")


class Taken(enum.Enum):
    """The lock is this WorkflowExecution's (created now, or found to be its own)."""

    TAKEN = "taken"


class _Again(enum.Enum):
    AGAIN = "again"


def existing_lock(pipeline_run: Mapping[str, Any]) -> contention.ExistingLock:
    """The core's view of a lock PipelineRun (owner, finished, being deleted)."""
    meta = pipeline_run.get("metadata") or {}
    return contention.ExistingLock(
        labels=meta.get("labels") or {},
        annotations=meta.get("annotations") or {},
        finished=status.is_finished(pipeline_run),
        deleting=bool(meta.get("deletionTimestamp")),
    )


def is_owned(pipeline_run: Mapping[str, Any], record: history.WfeRecord) -> bool:
    """Whether `pipeline_run` records `record` (name, namespace, uid) as its owner."""
    lock = existing_lock(pipeline_run)
    return contention.owned_by(
        lock.labels,
        namespace=record.namespace,
        name=record.name,
        annotations=lock.annotations,
        uid=record.uid,
    )


def lock_seen(
    found: Mapping[str, Any] | None, record: history.WfeRecord, *, confirmed: bool
) -> LockSeen:
    """What `found` (the record's lock as read, None if absent) tells `core.pending`."""
    if found is None or not is_owned(found, record):
        return LockSeen(ours=False, confirmed=confirmed)
    return LockSeen(
        ours=True, started=status.read_evidence(found, []).start_time, confirmed=confirmed
    )


class Locks:
    """Lock operations for one execution namespace."""

    def __init__(
        self,
        client: Client,
        pipeline_runs: Informer,
        *,
        policy: Policy,
        recorder: Recorder,
    ) -> None:
        self._client = client
        self._prs = pipeline_runs
        self._policy = policy
        self._recorder = recorder
        self.namespace = policy.execution_namespace

    async def _read(self, name: str) -> dict[str, Any] | None:
        try:
            return await self._client.get(PIPELINE_RUNS, self.namespace, name)
        except errors.NotFound:
            return None

    def cached(self, name: str) -> Mapping[str, Any] | None:
        """The PipelineRun `name` as the cache has it."""
        return self._prs.get(self.namespace, name)

    async def seen(self, record: history.WfeRecord, *, confirm: bool) -> LockSeen:
        """What is known of `record`'s lock: from the cache, or the API server if `confirm`."""
        if record.lock is None:
            return LockSeen(ours=False, confirmed=confirm)
        found = await self._read(record.lock) if confirm else self.cached(record.lock)
        return lock_seen(found, record, confirmed=confirm)

    async def own(self, record: history.WfeRecord, name: str) -> Mapping[str, Any] | None:
        """PipelineRun `name` if it is `record`'s; the API server is asked before "gone"."""
        found = self.cached(name)
        if found is not None and is_owned(found, record):
            return found
        fresh = await self._read(name)
        return fresh if fresh is not None and is_owned(fresh, record) else None

    async def take(
        self,
        record: history.WfeRecord,
        run: decide.Run,
        manifest: dict[str, Any],
        *,
        now: datetime,
    ) -> Taken | contention.Busy | decide.Fail:
        """Create (or adopt) the lock; Busy if another holds it; Fail if refused for good.

        Raises:
            Retry: a transient error (its `reason` names the cause).
        """
        for _ in range(_CREATE_ATTEMPTS):
            try:
                await self._client.create(PIPELINE_RUNS, self.namespace, manifest)
                return Taken.TAKEN
            except errors.AlreadyExists:
                outcome = await self._contend(record, run, now)
                if outcome is not _Again.AGAIN:
                    return outcome
            except (errors.Invalid, errors.BadRequest) as exc:
                # The same manifest would be refused every time: fail with the server's words.
                # (Counted once, as the ConfigurationError failure it is recorded as.)
                prior = run.status.consecutive_failures or 0
                return decide.lock_refused(str(exc), prior, now=now, policy=self._policy)
            except errors.NotFound as exc:
                raise self._not_found(exc) from exc
            except errors.Forbidden as exc:
                self._recorder.metrics.error("permission", "Forbidden")
                raise Retry(
                    f"not allowed to create PipelineRuns: {exc}", reason="Forbidden"
                ) from exc
            except errors.Unavailable as exc:
                self._recorder.metrics.error("external", "APIUnavailable")
                raise Retry(str(exc), reason="APIUnavailable") from exc
        raise Retry("lock contention did not settle", reason="LockContention")

    def _not_found(self, exc: errors.NotFound) -> Retry:
        if exc.details.get("kind") == "namespaces":
            self._recorder.metrics.error("external", "ExecutionNamespaceMissing")
            return Retry(
                f"the execution namespace {self.namespace} does not exist: {exc}",
                reason="ExecutionNamespaceMissing",
            )
        self._recorder.metrics.error("external", "TektonUnavailable")
        return Retry(f"the Tekton PipelineRun API is not served: {exc}", reason="TektonUnavailable")

    async def _contend(
        self, record: history.WfeRecord, run: decide.Run, now: datetime
    ) -> Taken | contention.Busy | _Again:
        found = await self._read(run.lock)
        if found is None:
            return _Again.AGAIN  # released between our create and our read
        existing = existing_lock(found)
        owner = await self._read_owner(existing)
        resolution = contention.resolve_existing(
            record, existing, owner, now=now, policy=self._policy
        )
        if isinstance(resolution, contention.Adopt):
            return Taken.TAKEN
        if isinstance(resolution, contention.Busy):
            return resolution
        try:
            await self._remove(found)
        except (errors.NotFound, errors.Conflict):
            return _Again.AGAIN  # it changed under us: look again
        self._recorder.stale_lock_released(
            record, run.lock, owner=resolution.owner_key, why=resolution.why, now=now
        )
        return _Again.AGAIN

    async def _read_owner(self, existing: contention.ExistingLock) -> history.WfeRecord | None:
        owner = existing.owner
        if owner is None:
            return None
        namespace, name = owner
        try:
            found = await self._client.get(WORKFLOW_EXECUTIONS, namespace, name)
        except errors.NotFound:
            return None
        try:
            return history.record_from_object(found)
        except InvalidInput as exc:
            raise Retry(
                f"cannot read lock owner {namespace}/{name}: {exc}", reason="UnreadablePeer"
            ) from exc

    async def release(self, record: history.WfeRecord, name: LockName | str) -> bool:
        """Delete lock `name` only if it is `record`'s (SPEC §3); False if it was not there
        or is not ours.

        Raises:
            Retry: it changed between the read and the delete.
        """
        current = await self._read(name)
        if current is None:
            return False
        if not is_owned(current, record):
            _log.info(
                "pipelinerun belongs to another workflowexecution; not deleting", pipelinerun=name
            )
            return False
        try:
            await self._remove(current)
        except errors.NotFound:
            return False
        except errors.Conflict as exc:
            raise Retry(
                f"PipelineRun {name} changed while releasing it", reason="LockChanged"
            ) from exc
        return True

    async def _remove(self, pipeline_run: Mapping[str, Any]) -> None:
        """Remove the lock finalizer, then delete (unless already being deleted: then the
        finalizer was all that held it). Each step is guarded by what was read and checked.

        Raises:
            NotFound: it is gone already. Conflict: it changed since it was read.
        """
        meta = pipeline_run["metadata"]
        name = meta["name"]
        finalizers = list(meta.get("finalizers") or [])
        if contention.LOCK_FINALIZER in finalizers:
            patch = {
                "metadata": {
                    "finalizers": [f for f in finalizers if f != contention.LOCK_FINALIZER],
                    "resourceVersion": meta.get("resourceVersion"),
                }
            }
            updated = await self._client.patch(PIPELINE_RUNS, self.namespace, name, patch)
            meta = updated["metadata"]
            if meta.get("deletionTimestamp") and not meta.get("finalizers"):
                return  # being deleted already: without the finalizer it is gone now
        if meta.get("deletionTimestamp"):
            return  # another finalizer (not ours) holds it; it goes when that is removed
        await self._client.delete(
            PIPELINE_RUNS,
            self.namespace,
            name,
            uid=meta.get("uid"),
            resource_version=meta.get("resourceVersion"),
            propagation_policy=PROPAGATION,
        )
