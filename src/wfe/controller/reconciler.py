"""The reconciler: cache → core decision → API writes (SPEC §3 to §7).

`reconcile(key)` is level-triggered and idempotent: it reads the WorkflowExecution and its
PipelineRun as they are now, asks the pure core what should be true, and writes the difference.
It never trusts the cache for an irreversible step it can check cheaply at the API server:
deleting a lock re-reads the PipelineRun and deletes it with uid + resourceVersion
preconditions, so only the very object whose labels were checked can go; concluding that a
PipelineRun vanished re-reads it first.

Why deciding from the cache is safe: the lock PipelineRun exists for the whole Running phase
and through the cooldown or backoff after it, and creating it is atomic at the API server, so a
stale cache can at worst meet `AlreadyExists` (handled by `core.contention`). The only rule the
lock does not carry is the block after a failure that ran (it outlives the cooldown); its
status write is minutes old by then, and an unhealthy watch makes every decision fail closed.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from wfe.api.enums import Phase
from wfe.api.models import SkipDetails, WorkflowExecutionStatus
from wfe.controller.discovery import KindDiscovery
from wfe.controller.errors import Retry, RetryAfter
from wfe.controller.resources import FINALIZER, PIPELINE_RUNS, TASK_RUNS, WORKFLOW_EXECUTIONS
from wfe.controller.writes import Writer
from wfe.core import (
    clearance,
    contention,
    decide,
    history,
    kinds,
    lock,
    progress,
    release,
    starting,
)
from wfe.core.errors import InvalidInput, Problem
from wfe.core.policy import Policy
from wfe.core.target import parse_target
from wfe.kube import errors
from wfe.kube.client import Client
from wfe.kube.informer import Informer
from wfe.observability.recorder import Recorder
from wfe.tekton import pipelinerun, status

__all__ = ["TARGET_INDEX", "TASK_RUN_INDEX", "Reconciler", "Result"]

TARGET_INDEX = "target"
TASK_RUN_INDEX = "pipelineRun"
_CREATE_ATTEMPTS = 3
_HISTORY_PHASES = frozenset({Phase.RUNNING.value, Phase.COMPLETED.value, Phase.FAILED.value})
_MAX_WAITING = 10_000
# Deleting a lock deletes its TaskRuns (and their pods) before the next run can reuse the name.
_PROPAGATION = "Background"
_log = structlog.get_logger("wfe.controller")


class _Taken(enum.Enum):
    TAKEN = "taken"


class _Contention(enum.Enum):
    RELEASED = "released"


_LockOutcome = _Taken | SkipDetails | decide.Fail


@dataclass(frozen=True, slots=True)
class Result:
    """What the worker does next with the key: nothing, or look again after a delay."""

    requeue_after: float | None = None


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    labels = obj.get("metadata", {}).get("labels")
    return labels if isinstance(labels, Mapping) else {}


class Reconciler:
    """Reconciles one WorkflowExecution per call."""

    def __init__(
        self,
        *,
        client: Client,
        workflow_executions: Informer,
        pipeline_runs: Informer,
        task_runs: Informer,
        policy: Policy,
        recorder: Recorder,
        kind_discovery: KindDiscovery | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._client = client
        self._wfes = workflow_executions
        self._prs = pipeline_runs
        self._trs = task_runs
        self._policy = policy
        self._recorder = recorder
        self._now = now
        self._refusals: set[tuple[str, str]] = set()
        self._writes = Writer(client)
        self._kinds = kind_discovery or KindDiscovery(client)
        # uid -> when deciding or starting it first failed (bounded: see _note_waiting).
        self._waiting_since: dict[str, datetime] = {}

    @property
    def _ns(self) -> str:
        return self._policy.execution_namespace

    async def reconcile(self, key: str) -> Result:
        """Bring WorkflowExecution `namespace/name` one step closer to what the core wants."""
        namespace, _, name = key.partition("/")
        cached = self._writes.newest(key, self._wfes.get(namespace, name))
        if cached is None:
            self._recorder.metrics.forget(namespace, name)
            return Result()
        obj: dict[str, Any] = copy.deepcopy(cached)  # cache objects are read-only
        now = self._now()
        structlog.contextvars.bind_contextvars(wfe=key)
        if obj["metadata"].get("deletionTimestamp"):
            return await self._delete(obj, now)
        try:
            record = history.record_from_object(obj)
        except InvalidInput as exc:
            # Fail closed: a WorkflowExecution we cannot read is never decided on.
            self._recorder.metrics.error("validation", "InvalidObject")
            _log.error("workflowexecution unreadable", error=str(exc))
            return Result(requeue_after=300)
        self._recorder.metrics.sync_object(
            namespace, name, record.status, created=record.created, now=now, policy=self._policy
        )
        structlog.contextvars.bind_contextvars(target=record.target)
        if record.phase in (None, Phase.PENDING):
            try:
                result = await self._decide(obj, record, now)
            except (Retry, errors.ApiError) as exc:
                await self._explain_waiting(obj, record, exc, now)
                raise
            self._waiting_since.pop(record.uid, None)
            return result
        if record.phase is Phase.RUNNING:
            return await self._follow(obj, record, now)
        if record.phase in (Phase.COMPLETED, Phase.FAILED):
            return await self._finished(obj, record, now)
        return Result()

    # --- Pending: decide, then lock and run -------------------------------------------------

    def _history(self, target: str | None) -> list[history.WfeRecord]:
        if not (self._wfes.synced and self._wfes.healthy):
            raise RetryAfter(
                "WorkflowExecution cache not synced or its watch is failing",
                seconds=1.0,
                reason="CacheNotSynced",
            )
        if target is None:
            return []
        out = []
        for other in self._wfes.by_index(TARGET_INDEX, target):
            # Only Running, Completed and Failed ones can hold, cool or block the target;
            # skipping the rest unparsed keeps a storm of Skipped objects from making each
            # decision cost O(storm).
            if (other.get("status") or {}).get("phase") not in _HISTORY_PHASES:
                continue
            try:
                out.append(history.record_from_object(other))
            except InvalidInput as exc:
                meta = other.get("metadata", {})
                raise Retry(
                    f"cannot read {meta.get('namespace')}/{meta.get('name')} on the same "
                    f"target: {exc}",
                    reason="UnreadablePeer",
                ) from exc
        return out

    async def _kind_catalog(self, target: str | None) -> kinds.KindCatalog:
        try:
            parsed = parse_target(target)
        except InvalidInput:
            return kinds.KindCatalog(())  # validation fails first; no catalog needed
        return await self._kinds.catalog_for(parsed.kind)

    async def _decide(
        self, obj: dict[str, Any], record: history.WfeRecord, now: datetime
    ) -> Result:
        spec = obj.get("spec")
        raw_target = spec.get("targetResource") if isinstance(spec, Mapping) else None
        target = raw_target if isinstance(raw_target, str) else None
        others = self._history(target)
        # A PipelineRun of ours already there means a previous status write was lost: adopt it
        # whatever the cache now suggests, or it would run on with an undecided owner.
        lock_name = lock.lock_name(target) if target is not None else None
        existing = self._prs.get(self._ns, lock_name) if lock_name else None
        if existing is not None and self._owned(existing, record):
            return await self._adopt(obj, record, existing, others, now)
        if lock_name is not None and FINALIZER in (obj["metadata"].get("finalizers") or []):
            # The finalizer is added only after the lock was taken: this one ran, or may have.
            return await self._took_lock_earlier(obj, record, lock_name, others, now)
        candidate = decide.Candidate(
            namespace=record.namespace,
            name=record.name,
            uid=record.uid,
            spec=spec if isinstance(spec, Mapping) else None,
        )
        catalog = await self._kind_catalog(target)
        decision = decide.decide(candidate, others, now=now, policy=self._policy, kinds=catalog)
        if isinstance(decision, decide.Defer):
            raise RetryAfter(decision.reason, seconds=5.0, reason="DiscoveryIncomplete")
        if isinstance(decision, decide.Run):
            return await self._run(obj, record, decision, now)
        await self._writes.status(obj, record.status, decision.status)
        if isinstance(decision, decide.Fail):
            await self._recorder.finished(record, decision.status, now=now, from_pending=True)
        else:
            await self._recorder.skipped(record, decision.status, now=now)
        return Result()

    def _owned(self, pipeline_run: Mapping[str, Any], record: history.WfeRecord) -> bool:
        annotations = pipeline_run.get("metadata", {}).get("annotations") or {}
        return contention.owned_by(
            _labels(pipeline_run),
            namespace=record.namespace,
            name=record.name,
            annotations=annotations,
            uid=record.uid,
        )

    async def _took_lock_earlier(
        self,
        obj: dict[str, Any],
        record: history.WfeRecord,
        lock_name: lock.LockName,
        others: list[history.WfeRecord],
        now: datetime,
    ) -> Result:
        """Our finalizer, no recorded run, and no PipelineRun of ours in the cache."""
        # Concluding "vanished" is irreversible: ask the API server, not the cache.
        try:
            current = await self._client.get(PIPELINE_RUNS, self._ns, lock_name)
        except errors.NotFound:
            current = None
        if current is not None and self._owned(current, record):
            return await self._adopt(obj, record, current, others, now)
        target = record.target or ""
        failed = starting.vanished_before_start(
            record.status,
            lock=lock_name,
            prior_failures=decide.prior_failures(history.most_recent_terminal(others, target)),
            now=now,
        )
        await self._writes.status(obj, record.status, failed)
        await self._recorder.finished(record, failed, now=now, from_pending=True)
        return Result()

    async def _adopt(
        self,
        obj: dict[str, Any],
        record: history.WfeRecord,
        pipeline_run: Mapping[str, Any],
        others: list[history.WfeRecord],
        now: datetime,
    ) -> Result:
        target = record.target or ""
        running = starting.adopted(
            lock=lock.LockName(pipeline_run["metadata"]["name"]),
            started=status.read_evidence(pipeline_run, []).start_time,
            prior_failures=decide.prior_failures(history.most_recent_terminal(others, target)),
            now=now,
        )
        await self._writes.ensure_finalizer(obj)
        await self._writes.status(obj, record.status, running)
        await self._recorder.started(record, running, now=now)
        # Follow at once: an adopted run may have finished long ago.
        return Result(requeue_after=0.0)

    async def _run(
        self, obj: dict[str, Any], record: history.WfeRecord, decision: decide.Run, now: datetime
    ) -> Result:
        structlog.contextvars.bind_contextvars(lock=decision.lock)
        manifest = pipelinerun.build_pipeline_run(
            decision.valid,
            namespace=record.namespace,
            name=record.name,
            uid=record.uid,
            execution_namespace=self._ns,
        )
        # The lock first, then the finalizer: a WorkflowExecution that loses the race costs
        # one status write and never gets a finalizer, and a finalizer always means a lock was
        # taken (`_took_lock_earlier`). If it is deleted before the finalizer lands, its lock is
        # an orphan that the next WorkflowExecution on the target releases as stale once it
        # has finished; if the finalizer or status write fails, the next reconcile adopts the
        # lock (it records us as its owner) and finishes the job.
        outcome = await self._take_lock(record, decision, manifest, now)
        if isinstance(outcome, SkipDetails):
            skipped = WorkflowExecutionStatus(phase=Phase.SKIPPED, skip_details=outcome)
            await self._writes.status(obj, record.status, skipped)
            await self._recorder.skipped(record, skipped, now=now)
            return Result()
        if isinstance(outcome, decide.Fail):
            await self._writes.status(obj, record.status, outcome.status)
            await self._recorder.finished(record, outcome.status, now=now, from_pending=True)
            return Result()
        await self._writes.ensure_finalizer(obj)
        await self._writes.status(obj, record.status, decision.status, retry_if_unchanged=True)
        await self._recorder.started(record, decision.status, now=now)
        return Result()

    async def _take_lock(
        self,
        record: history.WfeRecord,
        decision: decide.Run,
        manifest: dict[str, Any],
        now: datetime,
    ) -> _LockOutcome:
        """Create (or adopt) the lock: TAKEN, the ResourceBusy details if another holds it, or
        the Failed decision when the API server refuses the PipelineRun for good."""
        for _ in range(_CREATE_ATTEMPTS):
            try:
                await self._client.create(PIPELINE_RUNS, self._ns, manifest)
                return _Taken.TAKEN
            except errors.AlreadyExists:
                outcome = await self._contend(record, decision, now)
                if outcome is not _Contention.RELEASED:
                    return outcome
            except (errors.Invalid, errors.BadRequest) as exc:
                # Permanent: the same manifest will be refused every time (docs/architecture.md,
                # "Deciding"). Fail with the server's words instead of retrying forever.
                self._recorder.metrics.error("validation", "ConfigurationError")
                prior = decision.status.consecutive_failures or 0
                return decide.lock_refused(str(exc), prior, now=now, policy=self._policy)
            except errors.NotFound as exc:
                if exc.details.get("kind") == "namespaces":
                    self._recorder.metrics.error("external", "ExecutionNamespaceMissing")
                    raise Retry(
                        f"the execution namespace {self._ns} does not exist: {exc}",
                        reason="ExecutionNamespaceMissing",
                    ) from exc
                self._recorder.metrics.error("external", "TektonUnavailable")
                raise Retry(
                    f"the Tekton PipelineRun API is not served: {exc}", reason="TektonUnavailable"
                ) from exc
            except errors.Forbidden as exc:
                self._recorder.metrics.error("permission", "Forbidden")
                raise Retry(
                    f"not allowed to create PipelineRuns: {exc}", reason="Forbidden"
                ) from exc
            except errors.Unavailable as exc:
                self._recorder.metrics.error("external", "APIUnavailable")
                raise Retry(str(exc), reason="APIUnavailable") from exc
        raise Retry("lock contention did not settle", reason="LockContention")

    async def _contend(
        self, record: history.WfeRecord, decision: decide.Run, now: datetime
    ) -> _Taken | SkipDetails | _Contention:
        """The lock exists: ours (TAKEN), the busy details, or RELEASED (a stale one was
        released, or it went away meanwhile): create again."""
        try:
            existing = await self._client.get(PIPELINE_RUNS, self._ns, decision.lock)
        except errors.NotFound:
            return _Contention.RELEASED  # released between our create and our read
        labels = _labels(existing)
        annotations = existing["metadata"].get("annotations") or {}
        owner = await self._read_owner(labels, annotations)
        resolution = contention.resolve_existing(
            namespace=record.namespace,
            name=record.name,
            target=decision.valid.target.raw,
            labels=labels,
            finished=status.is_finished(existing),
            owner=owner,
            now=now,
            policy=self._policy,
            annotations=annotations,
            uid=record.uid,
        )
        if isinstance(resolution, contention.Adopt):
            return _Taken.TAKEN
        if isinstance(resolution, contention.Busy):
            return resolution.details
        meta = existing["metadata"]
        try:
            await self._client.delete(
                PIPELINE_RUNS,
                self._ns,
                decision.lock,
                uid=meta.get("uid"),
                resource_version=meta.get("resourceVersion"),
                propagation_policy=_PROPAGATION,
            )
        except (errors.NotFound, errors.Conflict):
            return _Contention.RELEASED  # it changed under us: look again
        owner_key = f"{resolution.owner_namespace}/{resolution.owner_name}"
        await self._recorder.stale_lock_released(
            record, decision.lock, owner=owner_key, why=resolution.why, now=now
        )
        return _Contention.RELEASED

    async def _read_owner(
        self, labels: Mapping[str, str], annotations: Mapping[str, str]
    ) -> history.WfeRecord | None:
        owner = contention.owner_of(labels, annotations)
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

    # --- Pending for a while: say why ---------------------------------------------------------

    async def _explain_waiting(
        self,
        obj: dict[str, Any],
        record: history.WfeRecord,
        exc: Retry | errors.ApiError,
        now: datetime,
    ) -> None:
        """After EXPLAIN_AFTER of failed attempts, write `Pending` with the cause (once per
        cause) and a Warning Event, so `kubectl get/describe` explains it without logs."""
        if not record.uid:
            return
        since = self._waiting_since.setdefault(record.uid, now)
        if len(self._waiting_since) > _MAX_WAITING:
            # Bounded memory: forget the oldest entry (it only delays its explanation).
            self._waiting_since.pop(next(iter(self._waiting_since)))
        if now - since < starting.EXPLAIN_AFTER:
            return
        reason = exc.reason if isinstance(exc, Retry) else (exc.reason or "APIError")
        message = f"cannot start yet: {exc}"
        pending = starting.waiting(record.status, reason=reason, message=message, now=now)
        if pending is None:
            return
        try:
            await self._writes.status(obj, record.status, pending)
        except (Retry, errors.ApiError) as write_error:
            _log.info("could not record why it waits", error=str(write_error))
            return
        await self._recorder.waiting(record, reason=reason, message=message, now=now)

    # --- Running: follow the PipelineRun --------------------------------------------------------

    async def _follow(
        self, obj: dict[str, Any], record: history.WfeRecord, now: datetime
    ) -> Result:
        ref = record.status.pipeline_run_ref
        lock_name = ref.name if ref else lock.lock_name(record.target or "")
        pipeline_run = self._prs.get(self._ns, lock_name)
        if pipeline_run is None or not self._owned(pipeline_run, record):
            # Concluding "deleted" is irreversible: ask the API server, not the cache.
            try:
                pipeline_run = await self._client.get(PIPELINE_RUNS, self._ns, lock_name)
            except errors.NotFound:
                pipeline_run = None
            if pipeline_run is not None and not self._owned(pipeline_run, record):
                pipeline_run = None
        evidence = None
        if pipeline_run is not None:
            evidence = status.read_evidence(pipeline_run, self._task_runs(pipeline_run))
            if evidence.succeeded is False:
                fresh = await self._client.list(
                    TASK_RUNS, self._ns, label_selector=f"{status.PIPELINE_RUN_LABEL}={lock_name}"
                )
                task_runs = [t for t in fresh.get("items", []) if self._child(t, pipeline_run)]
                evidence = status.read_evidence(pipeline_run, task_runs)
        observation = progress.observe(record.status, evidence, now=now, policy=self._policy)
        await self._writes.status(obj, record.status, observation.status)
        if observation.entered is not None:
            await self._recorder.finished(record, observation.status, now=now)
            return self._after_finish(observation.status, now)
        return Result()

    def _task_runs(self, pipeline_run: Mapping[str, Any]) -> list[dict[str, Any]]:
        name = pipeline_run["metadata"]["name"]
        return [t for t in self._trs.by_index(TASK_RUN_INDEX, name) if self._child(t, pipeline_run)]

    @staticmethod
    def _child(task_run: Mapping[str, Any], pipeline_run: Mapping[str, Any]) -> bool:
        """TaskRuns of this very PipelineRun, not of an earlier one with the same name."""
        refs = task_run.get("metadata", {}).get("ownerReferences") or []
        uid = pipeline_run["metadata"].get("uid")
        return not refs or not uid or any(r.get("uid") == uid for r in refs)

    def _after_finish(self, new_status: WorkflowExecutionStatus, now: datetime) -> Result:
        step = release.lock_step(new_status, now, self._policy)
        if isinstance(step, release.RequeueAt):
            return Result(requeue_after=max((step.when - now).total_seconds(), 0.0))
        if isinstance(step, release.ReleaseNow):
            return Result(requeue_after=0.0)
        return Result()

    # --- Completed / Failed: clearance and lock release ---------------------------------------

    async def _finished(
        self, obj: dict[str, Any], record: history.WfeRecord, now: datetime
    ) -> Result:
        annotations = obj["metadata"].get("annotations") or {}
        requested = clearance.requested_clearance(
            annotations, record.status, now=now, policy=self._policy
        )
        if isinstance(requested, Problem):
            memo = (record.uid, annotations.get(clearance.CLEAR_ANNOTATION, ""))
            if memo not in self._refusals:
                self._refusals.add(memo)
                await self._recorder.block_clear_refused(record, str(requested), now=now)
        elif requested is not None:
            cleared = record.status.model_copy(update={"block_clearance": requested})
            await self._writes.status(obj, record.status, cleared)
            await self._recorder.block_cleared(record, requested, now=now)
            record = history.record_from_object({**obj, "status": cleared.to_wire()})
        completed = await self._completion_time(record, now)
        if completed is not None:
            await self._writes.status(obj, record.status, completed)
            record = history.record_from_object({**obj, "status": completed.to_wire()})
        step = release.lock_step(record.status, now, self._policy)
        if isinstance(step, release.RequeueAt):
            return Result(requeue_after=max((step.when - now).total_seconds(), 0.0))
        if step is None:
            return Result()
        assert record.status.pipeline_run_ref is not None
        name = record.status.pipeline_run_ref.name
        await self._delete_own_pipeline_run(name, record)
        released = record.status.model_copy(update={"lock_released_at": now})
        await self._writes.status(obj, record.status, released)
        await self._recorder.lock_released(record, name, now=now)
        return Result()

    async def _completion_time(
        self, record: history.WfeRecord, now: datetime
    ) -> WorkflowExecutionStatus | None:
        """A terminal status someone wrote without `completionTime` gets one (else its lock
        would never be released): the PipelineRun's own, or now."""
        if record.status.completion_time is not None:
            return None
        ref = record.status.pipeline_run_ref
        pipeline_run = self._prs.get(self._ns, ref.name) if ref else None
        finished = None
        if pipeline_run is not None and self._owned(pipeline_run, record):
            finished = status.read_evidence(pipeline_run, []).completion_time
        return release.with_completion_time(
            record.status, pipeline_run_completion=finished, now=now
        )

    async def _delete_own_pipeline_run(self, name: str, record: history.WfeRecord) -> bool:
        """Delete PipelineRun `name` only if it is this WorkflowExecution's (SPEC §3)."""
        try:
            current = await self._client.get(PIPELINE_RUNS, self._ns, name)
        except errors.NotFound:
            return False
        if not self._owned(current, record):
            _log.info(
                "pipelinerun belongs to another workflowexecution; not deleting", pipelinerun=name
            )
            return False
        meta = current["metadata"]
        try:
            await self._client.delete(
                PIPELINE_RUNS,
                self._ns,
                name,
                uid=meta.get("uid"),
                resource_version=meta.get("resourceVersion"),
                propagation_policy=_PROPAGATION,
            )
        except errors.NotFound:
            return False
        except errors.Conflict as exc:
            raise Retry(f"PipelineRun {name} changed while releasing it") from exc
        return True

    # --- Deletion ---------------------------------------------------------------------------------

    async def _delete(self, obj: dict[str, Any], now: datetime) -> Result:
        meta = obj["metadata"]
        if FINALIZER not in (meta.get("finalizers") or []):
            return Result()
        try:
            record = history.record_from_object(obj)
        except InvalidInput:
            record = None
        name = None
        if record is not None and record.status.lock_released_at is None:
            ref = record.status.pipeline_run_ref
            name = ref.name if ref else (lock.lock_name(record.target) if record.target else None)
            if name is not None:
                try:
                    await self._delete_own_pipeline_run(name, record)
                except (errors.ApiError, Retry) as exc:
                    # Best-effort: an orphaned run becomes a stale lock that the next
                    # WorkflowExecution on the target releases once it has finished.
                    self._recorder.metrics.error("external", "CleanupFailed")
                    _log.warning("pipelinerun cleanup failed", pipelinerun=name, error=str(exc))
        await self._writes.drop_finalizer(obj)
        if record is not None:
            await self._recorder.deleted(record, lock=name, now=now)
        self._recorder.metrics.forget(meta["namespace"], meta["name"])
        return Result()
