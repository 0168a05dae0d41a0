"""The reconciler: cache → core plan → API writes (SPEC §3 to §7, docs/architecture.md).

`reconcile(key)` is level-triggered and idempotent: it reads the WorkflowExecution once into a
typed record (`core.history.WfeRecord`), asks the pure core for the whole plan of its phase
(`core.pending`, `core.progress`, `core.finished`) and carries it out: the statuses come from
the core, the lock operations from `controller.locks`, the writes from `controller.writes`.
Nothing here builds a status.

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
from wfe.api.models import WorkflowExecutionStatus
from wfe.controller.discovery import KindDiscovery
from wfe.controller.errors import Retry, RetryAfter, Terminal
from wfe.controller.locks import Locks, Taken, is_owned
from wfe.controller.resources import TASK_RUNS
from wfe.controller.writes import Writer
from wfe.core import (
    clearance,
    contention,
    decide,
    finished,
    history,
    kinds,
    pending,
    progress,
    release,
    starting,
)
from wfe.core.errors import InvalidInput
from wfe.core.policy import Policy
from wfe.kube import errors
from wfe.kube.client import Client
from wfe.kube.informer import Informer
from wfe.observability.recorder import Recorder
from wfe.tekton import pipelinerun, status

__all__ = ["TARGET_INDEX", "TASK_RUN_INDEX", "Reconciler", "Result"]

TARGET_INDEX = "target"
TASK_RUN_INDEX = "pipelineRun"
# Bounds on per-object memory (uids of objects deleted meanwhile are never looked up again).
_MAX_WAITING = 10_000
_MAX_REFUSALS = 10_000
_log = structlog.get_logger("wfe.controller")


@dataclass(frozen=True, slots=True)
class Result:
    """What the worker does next with the key: nothing, or look again after a delay."""

    requeue_after: float | None = None

    @staticmethod
    def at(when: datetime, now: datetime) -> Result:
        return Result(requeue_after=max((when - now).total_seconds(), 0.0))


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _remember(memo: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    memo[key] = value
    if len(memo) > limit:
        memo.pop(next(iter(memo)))  # the oldest: at worst its note is written again


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
        self._trs = task_runs
        self._policy = policy
        self._recorder = recorder
        self._now = now
        self._writes = Writer(client)
        self._locks = Locks(client, pipeline_runs, policy=policy, recorder=recorder)
        self._kinds = kind_discovery or KindDiscovery(client)
        # Refused clearances already reported (uid, annotation value), so one is told once.
        self._refusals: dict[tuple[str, str], None] = {}
        # uid -> when deciding or starting it first failed (see _explain_waiting).
        self._waiting_since: dict[str, datetime] = {}

    async def reconcile(self, key: str) -> Result:
        """Bring WorkflowExecution `namespace/name` one step closer to what the core wants."""
        namespace, _, name = key.partition("/")
        cached = self._writes.newest(key, self._wfes.get(namespace, name))
        if cached is None:
            self._recorder.metrics.forget(namespace, name)
            return Result()
        obj: dict[str, Any] = copy.deepcopy(cached)  # cache objects are read-only
        now = self._now()
        try:
            record = history.record_from_object(obj)
        except InvalidInput as exc:
            if obj["metadata"].get("deletionTimestamp"):
                # Never leave it Terminating: without a record there is no lock to find.
                await self._writes.drop_finalizer(obj)
                return Result()
            # Fail closed: a WorkflowExecution we cannot read is never decided on. Its next
            # change (someone fixing it) queues it again.
            self._recorder.metrics.error("validation", "InvalidObject")
            raise Terminal(f"workflowexecution unreadable: {exc}", reason="InvalidObject") from exc
        structlog.contextvars.bind_contextvars(target=record.target, lock=record.lock)
        if record.deleting:
            return await self._delete(obj, record, now)
        self._recorder.metrics.sync_object(
            namespace, name, record.status, created=record.created, now=now, policy=self._policy
        )
        if record.phase in (None, Phase.PENDING):
            try:
                result = await self._pending(obj, record, now)
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

    # --- Pending: plan, then adopt, record, or decide and run ---------------------------------

    def _history(self, record: history.WfeRecord) -> list[history.WfeRecord]:
        if not (self._wfes.synced and self._wfes.healthy):
            raise RetryAfter(
                "WorkflowExecution cache not synced or its watch is failing",
                seconds=1.0,
                reason="CacheNotSynced",
            )
        if record.target is None:
            return []
        try:
            return history.peers_on_target(
                self._wfes.by_index(TARGET_INDEX, record.target), record.target
            )
        except history.UnreadablePeer as exc:
            raise Retry(
                f"cannot read {exc.key} on the same target: {exc.cause}", reason="UnreadablePeer"
            ) from exc

    async def _kind_catalog(self, record: history.WfeRecord) -> kinds.KindCatalog:
        if record.parsed_target is None:
            return kinds.KindCatalog(())  # validation fails first; no catalog needed
        return await self._kinds.catalog_for(record.parsed_target.qualified_kind)

    async def _plan_pending(
        self, record: history.WfeRecord, others: list[history.WfeRecord], now: datetime
    ) -> pending.PendingPlan:
        catalog = await self._kind_catalog(record)
        seen = await self._locks.seen(record, confirm=False)
        plan = pending.plan_pending(
            record, others, seen, now=now, policy=self._policy, kinds=catalog
        )
        if isinstance(plan, pending.ConfirmLock):
            # Concluding "vanished" is irreversible: ask the API server, not the cache.
            seen = await self._locks.seen(record, confirm=True)
            plan = pending.plan_pending(
                record, others, seen, now=now, policy=self._policy, kinds=catalog
            )
        return plan

    async def _pending(
        self, obj: dict[str, Any], record: history.WfeRecord, now: datetime
    ) -> Result:
        others = self._history(record)
        plan = await self._plan_pending(record, others, now)
        if isinstance(plan, pending.AdoptLock):
            await self._writes.ensure_finalizer(obj)
            await self._writes.status(obj, record.status, plan.status)
            self._recorder.started(record, plan.status, now=now)
            return Result(requeue_after=0.0)  # follow at once: it may have finished long ago
        if isinstance(plan, pending.RecordVanished | decide.Fail):
            await self._writes.status(obj, record.status, plan.status)
            self._recorder.finished(record, plan.status, now=now, from_pending=True)
            return Result()
        if isinstance(plan, decide.Skip):
            await self._skip(obj, record, plan.status, now)
            return Result()
        if isinstance(plan, decide.Defer):
            raise RetryAfter(plan.reason, seconds=5.0, reason="DiscoveryIncomplete")
        assert isinstance(plan, decide.Run)
        return await self._run(obj, record, plan, now)

    async def _skip(
        self,
        obj: dict[str, Any],
        record: history.WfeRecord,
        skipped: WorkflowExecutionStatus,
        now: datetime,
    ) -> None:
        await self._writes.status(obj, record.status, skipped)
        self._recorder.skipped(record, skipped, now=now)

    async def _run(
        self, obj: dict[str, Any], record: history.WfeRecord, run: decide.Run, now: datetime
    ) -> Result:
        manifest = pipelinerun.build_pipeline_run(
            run.valid,
            namespace=record.namespace,
            name=record.name,
            uid=record.uid,
            execution_namespace=self._locks.namespace,
        )
        # The lock first, then the finalizer: a WorkflowExecution that loses the race costs
        # one status write and never gets a finalizer, and a finalizer always means a lock was
        # taken (`core.pending`). If it is deleted before the finalizer lands, its lock is an
        # orphan that the next WorkflowExecution on the target releases as stale once it has
        # finished; if the finalizer or status write fails, the next reconcile adopts the lock
        # (it records us as its owner) and finishes the job.
        outcome = await self._locks.take(record, run, manifest, now=now)
        if isinstance(outcome, contention.Busy):
            await self._skip(obj, record, outcome.status, now)
            return Result()
        if isinstance(outcome, decide.Fail):
            await self._writes.status(obj, record.status, outcome.status)
            self._recorder.finished(record, outcome.status, now=now, from_pending=True)
            return Result()
        assert outcome is Taken.TAKEN
        await self._writes.ensure_finalizer(obj)
        await self._writes.status(obj, record.status, run.status, retry_if_unchanged=True)
        self._recorder.started(record, run.status, now=now)
        self._recorder.run_caveats(
            record,
            warnings=run.valid.warnings,
            dropped_parameters=run.valid.dropped_parameters,
            now=now,
        )
        return Result()

    async def _explain_waiting(
        self,
        obj: dict[str, Any],
        record: history.WfeRecord,
        exc: Retry | errors.ApiError,
        now: datetime,
    ) -> None:
        """After `starting.EXPLAIN_AFTER` of failed attempts, write `Pending` with the cause
        (once per cause) and a Warning Event, so `kubectl get/describe` explains it."""
        if not record.uid:
            return
        since = self._waiting_since.get(record.uid)
        if since is None:
            _remember(self._waiting_since, record.uid, now, _MAX_WAITING)
            return
        if now - since < starting.EXPLAIN_AFTER:
            return
        reason = exc.reason if isinstance(exc, Retry) else (exc.reason or "APIError")
        message = f"cannot start yet: {exc}"
        waiting = starting.waiting(record.status, reason=reason, message=message, now=now)
        if waiting is None:
            return
        try:
            await self._writes.status(obj, record.status, waiting)
        except (Retry, Terminal, errors.ApiError) as write_error:
            _log.info("could not record why it waits", error=str(write_error))
            return
        self._recorder.waiting(record, reason=reason, message=message, now=now)

    # --- Running: follow the PipelineRun --------------------------------------------------------

    async def _follow(
        self, obj: dict[str, Any], record: history.WfeRecord, now: datetime
    ) -> Result:
        ref = record.status.pipeline_run_ref
        name = ref.name if ref else record.lock
        pipeline_run = await self._locks.own(record, name) if name else None
        if name and pipeline_run is not None and _deleted_unfinished(pipeline_run):
            # Deleted by someone else before it finished: the lock finalizer kept it until now.
            # Let it go, then record what that means (next: the same as a vanished run).
            await self._locks.release(record, name)
            pipeline_run = None
        evidence = None
        if pipeline_run is not None:
            evidence = status.read_evidence(pipeline_run, self._task_runs(pipeline_run))
            if evidence.succeeded is False:
                # The failure analysis is kept: read the TaskRuns fresh, not from the cache.
                listed = await self._client.list(
                    TASK_RUNS,
                    self._locks.namespace,
                    label_selector=f"{status.PIPELINE_RUN_LABEL}={name}",
                )
                task_runs = [t for t in listed.get("items", []) if _child(t, pipeline_run)]
                evidence = status.read_evidence(pipeline_run, task_runs)
        observation = progress.observe(record.status, evidence, now=now, policy=self._policy)
        await self._writes.status(obj, record.status, observation.status)
        if observation.entered is None:
            return Result()
        self._recorder.finished(record, observation.status, now=now)
        step = release.lock_step(observation.status, now, self._policy)
        if isinstance(step, release.ReleaseNow):
            return Result(requeue_after=0.0)
        if isinstance(step, release.RequeueAt):
            return Result.at(step.when, now)
        return Result()

    def _task_runs(self, pipeline_run: Mapping[str, Any]) -> list[dict[str, Any]]:
        name = pipeline_run["metadata"]["name"]
        return [t for t in self._trs.by_index(TASK_RUN_INDEX, name) if _child(t, pipeline_run)]

    # --- Completed / Failed: clearance, completion time, lock release --------------------------

    async def _finished(
        self, obj: dict[str, Any], record: history.WfeRecord, now: datetime
    ) -> Result:
        ref = record.status.pipeline_run_ref
        completion = None
        if record.status.completion_time is None and ref is not None:
            cached = self._locks.cached(ref.name)
            if cached is not None and is_owned(cached, record):
                completion = status.read_evidence(cached, []).completion_time
        plan = finished.plan_finished(
            record, pipeline_run_completion=completion, now=now, policy=self._policy
        )
        if plan.refused is not None:
            memo = (record.uid, record.annotations.get(clearance.CLEAR_ANNOTATION, ""))
            if memo not in self._refusals:
                _remember(self._refusals, memo, None, _MAX_REFUSALS)
                self._recorder.block_clear_refused(record, str(plan.refused), now=now)
        current = record.status
        if plan.status is not None:
            await self._writes.status(obj, current, plan.status)
            current = plan.status
        if plan.cleared is not None:
            self._recorder.block_cleared(record, plan.cleared, now=now)
        if plan.requeue_at is not None:
            return Result.at(plan.requeue_at, now)
        if plan.release is None:
            return Result()
        await self._locks.release(record, plan.release)
        await self._writes.status(obj, current, finished.released(current, now=now))
        self._recorder.lock_released(record, plan.release, now=now)
        return Result()

    # --- Deletion ---------------------------------------------------------------------------------

    async def _delete(
        self, obj: dict[str, Any], record: history.WfeRecord, now: datetime
    ) -> Result:
        if not record.finalized:
            return Result()
        name = None
        if record.status.lock_released_at is None:
            ref = record.status.pipeline_run_ref
            name = ref.name if ref else record.lock
            if name is not None:
                try:
                    await self._locks.release(record, name)
                except (errors.ApiError, Retry) as exc:
                    # Best-effort: an orphaned run becomes a stale lock that the next
                    # WorkflowExecution on the target releases once it has finished.
                    self._recorder.metrics.error("external", "CleanupFailed")
                    _log.warning("pipelinerun cleanup failed", pipelinerun=name, error=str(exc))
        await self._writes.drop_finalizer(obj)
        self._recorder.deleted(record, lock=name, now=now)
        self._recorder.metrics.forget(record.namespace, record.name)
        return Result()


def _child(task_run: Mapping[str, Any], pipeline_run: Mapping[str, Any]) -> bool:
    """TaskRuns of this very PipelineRun, not of an earlier one with the same name: Tekton
    always sets the owner reference, so one without it is not counted."""
    refs = task_run.get("metadata", {}).get("ownerReferences") or []
    uid = pipeline_run["metadata"].get("uid")
    return not uid or any(r.get("uid") == uid for r in refs)


def _deleted_unfinished(pipeline_run: Mapping[str, Any]) -> bool:
    return bool(pipeline_run["metadata"].get("deletionTimestamp")) and not status.is_finished(
        pipeline_run
    )
