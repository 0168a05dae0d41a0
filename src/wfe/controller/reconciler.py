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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from wfe.api.enums import Phase
from wfe.api.models import LocalObjectReference, SkipDetails, WorkflowExecutionStatus
from wfe.controller.errors import Retry, RetryAfter
from wfe.controller.resources import FINALIZER, PIPELINE_RUNS, TASK_RUNS, WORKFLOW_EXECUTIONS
from wfe.controller.writes import Writer
from wfe.core import clearance, contention, decide, history, lock, progress, release
from wfe.core.errors import InvalidInput, Problem
from wfe.core.policy import Policy
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
_ADOPT = object()
_RETRY = object()
_log = structlog.get_logger("wfe.controller")


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
            return await self._decide(obj, record, now)
        if record.phase is Phase.RUNNING:
            return await self._follow(obj, record, now)
        if record.phase in (Phase.COMPLETED, Phase.FAILED):
            return await self._finished(obj, record, now)
        return Result()

    # --- Pending: decide, then lock and run -------------------------------------------------

    def _history(self, target: str | None) -> list[history.WfeRecord]:
        if not (self._wfes.synced and self._wfes.healthy):
            raise RetryAfter(
                "WorkflowExecution cache not synced or its watch is failing", seconds=1.0
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
                    f"target: {exc}"
                ) from exc
        return out

    async def _decide(
        self, obj: dict[str, Any], record: history.WfeRecord, now: datetime
    ) -> Result:
        spec = obj.get("spec")
        raw_target = spec.get("targetResource") if isinstance(spec, Mapping) else None
        target = raw_target if isinstance(raw_target, str) else None
        others = self._history(target)
        candidate = decide.Candidate(
            namespace=record.namespace,
            name=record.name,
            uid=record.uid,
            spec=spec if isinstance(spec, Mapping) else None,
        )
        decision = decide.decide(candidate, others, now=now, policy=self._policy)
        # A PipelineRun of ours already there means a previous status write was lost: adopt it
        # whatever the cache now suggests, or it would run on with an undecided owner.
        lock_name = lock.lock_name(target) if target is not None else None
        existing = self._prs.get(self._ns, lock_name) if lock_name else None
        if existing is not None and self._owned(existing, record):
            return await self._adopt(obj, record, existing, others, now)
        if isinstance(decision, decide.Run):
            return await self._run(obj, record, decision, now)
        # Only after an interrupted attempt does an undecided object carry our finalizer.
        await self._writes.drop_finalizer(obj)
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

    async def _adopt(
        self,
        obj: dict[str, Any],
        record: history.WfeRecord,
        pipeline_run: Mapping[str, Any],
        others: list[history.WfeRecord],
        now: datetime,
    ) -> Result:
        target = record.target or ""
        running = WorkflowExecutionStatus(
            phase=Phase.RUNNING,
            start_time=now,
            pipeline_run_ref=LocalObjectReference(name=pipeline_run["metadata"]["name"]),
            consecutive_failures=decide.prior_failures(
                history.most_recent_terminal(others, target)
            ),
        )
        await self._writes.ensure_finalizer(obj)
        await self._writes.status(obj, record.status, running)
        await self._recorder.started(record, running, now=now)
        return Result()

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
        # The lock first: a WorkflowExecution that loses the race then costs one status write
        # and never gets a finalizer. If it is deleted before the finalizer lands, its lock is
        # an orphan that the next WorkflowExecution on the target releases as stale once it
        # has finished; if the finalizer or status write fails, the next reconcile adopts the
        # lock (its labels name us) and finishes the job.
        busy = await self._take_lock(record, decision, manifest, now)
        if busy is not None:
            skipped = WorkflowExecutionStatus(phase=Phase.SKIPPED, skip_details=busy)
            await self._writes.drop_finalizer(obj)  # only after an interrupted earlier attempt
            await self._writes.status(obj, record.status, skipped)
            await self._recorder.skipped(record, skipped, now=now)
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
    ) -> SkipDetails | None:
        """Create (or adopt) the lock; the ResourceBusy details if another holds it."""
        for _ in range(_CREATE_ATTEMPTS):
            try:
                await self._client.create(PIPELINE_RUNS, self._ns, manifest)
                return None
            except errors.AlreadyExists:
                outcome = await self._contend(record, decision, now)
                if outcome is _ADOPT:
                    return None
                if isinstance(outcome, SkipDetails):
                    return outcome
            except errors.NotFound as exc:
                self._recorder.metrics.error("external", "TektonUnavailable")
                raise Retry("the Tekton PipelineRun API is not served") from exc
            except errors.Forbidden as exc:
                self._recorder.metrics.error("permission", "Forbidden")
                raise Retry(f"not allowed to create PipelineRuns: {exc}") from exc
            except errors.Unavailable as exc:
                self._recorder.metrics.error("external", "APIUnavailable")
                raise Retry(str(exc)) from exc
        raise Retry("lock contention did not settle")

    async def _contend(
        self, record: history.WfeRecord, decision: decide.Run, now: datetime
    ) -> object:
        """The lock exists: `_ADOPT`, the busy details, or `_RETRY` after releasing a stale one."""
        try:
            existing = await self._client.get(PIPELINE_RUNS, self._ns, decision.lock)
        except errors.NotFound:
            return _RETRY  # released between our create and our read
        labels = _labels(existing)
        owner = await self._read_owner(labels)
        resolution = contention.resolve_existing(
            namespace=record.namespace,
            name=record.name,
            target=decision.valid.target.raw,
            labels=labels,
            finished=status.is_finished(existing),
            owner=owner,
            now=now,
            policy=self._policy,
            annotations=existing["metadata"].get("annotations") or {},
            uid=record.uid,
        )
        if isinstance(resolution, contention.Adopt):
            return _ADOPT
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
            )
        except (errors.NotFound, errors.Conflict):
            return _RETRY  # it changed under us: look again
        owner_key = f"{resolution.owner_namespace}/{resolution.owner_name}"
        await self._recorder.stale_lock_released(
            record, decision.lock, owner=owner_key, why=resolution.why, now=now
        )
        return _RETRY

    async def _read_owner(self, labels: Mapping[str, str]) -> history.WfeRecord | None:
        namespace = labels.get(contention.OWNER_NAMESPACE_LABEL)
        name = labels.get(contention.OWNER_LABEL)
        if not namespace or not name:
            return None
        try:
            owner = await self._client.get(WORKFLOW_EXECUTIONS, namespace, name)
        except errors.NotFound:
            return None
        try:
            return history.record_from_object(owner)
        except InvalidInput as exc:
            raise Retry(f"cannot read lock owner {namespace}/{name}: {exc}") from exc

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
