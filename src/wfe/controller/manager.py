"""Wiring: informers → work queue → workers → reconciler, behind leader election (SPEC §9).

Event handlers only turn objects into WorkflowExecution keys: a WorkflowExecution maps to
itself, a PipelineRun to the WorkflowExecution its labels name, a TaskRun to its PipelineRun's
owner. Workers take a key, reconcile, then forget it (success), re-add it after the requested
delay, or re-add it rate-limited (error) — and always mark it done (sample-controller's loop).
Only the Lease holder runs informers and workers; a new leader starts from API state alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from wfe.config import Settings
from wfe.controller import slim
from wfe.controller.errors import Retry, RetryAfter, Terminal
from wfe.controller.reconciler import TARGET_INDEX, TASK_RUN_INDEX, Reconciler
from wfe.controller.resources import PIPELINE_RUNS, TASK_RUNS, WORKFLOW_EXECUTIONS
from wfe.controller.servers import HttpServer
from wfe.core import contention
from wfe.kube import errors
from wfe.kube.client import Client
from wfe.kube.informer import Informer, object_key
from wfe.kube.workqueue import ShutDown, WorkQueue
from wfe.observability.audit import AuditSink, LogAuditSink
from wfe.observability.audit_http import HttpAuditSink, TeeAuditSink
from wfe.observability.events import EventPublisher
from wfe.observability.metrics import Metrics
from wfe.observability.recorder import Recorder
from wfe.tekton import pipelinerun, status

__all__ = ["TEKTON_MISSING", "Controller", "tekton_available"]

TEKTON_MISSING = "Required dependency check failed: Tekton Pipelines not available"
_DRAIN_SECONDS = 2.0
_log = structlog.get_logger("wfe.controller")


async def tekton_available(client: Client) -> bool:
    """Is `tekton.dev/v1` PipelineRun served? (Raises on errors other than "not found".)"""
    return await client.has_api(
        f"{PIPELINE_RUNS.group}/{PIPELINE_RUNS.version}", PIPELINE_RUNS.plural
    )


def _target_of(obj: Mapping[str, Any]) -> list[str]:
    target = (obj.get("spec") or {}).get("targetResource")
    return [target] if isinstance(target, str) else []


def _pipeline_run_of(obj: Mapping[str, Any]) -> list[str]:
    name = ((obj.get("metadata") or {}).get("labels") or {}).get(status.PIPELINE_RUN_LABEL)
    return [name] if isinstance(name, str) else []


def _owner_key(obj: Mapping[str, Any]) -> str | None:
    meta = obj.get("metadata") or {}
    owner = contention.owner_of(meta.get("labels"), meta.get("annotations"))
    return f"{owner[0]}/{owner[1]}" if owner else None


@dataclass(frozen=True, slots=True)
class _Caches:
    wfes: Informer
    prs: Informer
    trs: Informer

    @property
    def all(self) -> tuple[Informer, Informer, Informer]:
        return (self.prs, self.trs, self.wfes)

    def start(self) -> list[asyncio.Task[None]]:
        return [
            asyncio.create_task(i.run(), name=f"informer-{i.resource.plural}") for i in self.all
        ]


async def _stop_all(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


class _QueueMetrics:
    """Feeds the work queue's hooks into the controller's Prometheus series."""

    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics

    def on_add(self) -> None:
        pass

    def on_depth(self, depth: int) -> None:
        self._m.queue_depth.set(depth)

    def on_queue_latency(self, seconds: float) -> None:
        self._m.queue_latency.observe(seconds)

    def on_work_duration(self, seconds: float) -> None:
        pass

    def on_retry(self) -> None:
        self._m.queue_retries.inc()


class Controller:
    """The running controller: servers always; informers and workers while leading."""

    def __init__(
        self,
        settings: Settings,
        client: Client,
        *,
        audit: AuditSink | None = None,
        metrics: Metrics | None = None,
        identity: str | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.policy = settings.policy()
        self.metrics = metrics or Metrics(retention=settings.metric_retention)
        self.audit = audit or self._audit_sink()
        self.identity = identity or f"{socket.gethostname()}-{time.time_ns() % 10**9}"
        self.events = EventPublisher(client, on_drop=self.metrics.events_failed.inc)
        self.recorder = Recorder(metrics=self.metrics, events=self.events, audit=self.audit)
        self.leading = False
        self.metrics_server = HttpServer.metrics(self.metrics.registry, settings.metrics_address)
        self.probe_server = HttpServer.probes(self._not_ready, settings.health_address)
        self.wfes: Informer | None = None
        self.queue: WorkQueue[str] | None = None
        self._warm: _Caches | None = None
        """A standby's informers, kept synced while it follows (docs/architecture.md, HA)."""
        self.working = False
        """True while this replica's caches are synced and its workers run."""

    def _audit_sink(self) -> AuditSink:
        """Logs always; the Data Storage batch endpoint too when one is configured."""
        s = self.settings
        if s.audit_endpoint is None:
            return LogAuditSink()
        http = HttpAuditSink(
            s.audit_endpoint,
            metrics=self.metrics,
            buffer_size=s.audit_buffer_size,
            batch_size=s.audit_batch_size,
            backoff_max=s.audit_retry_max.total_seconds(),
        )
        return TeeAuditSink(LogAuditSink(), http)

    # --- readiness ----------------------------------------------------------------------------

    async def _not_ready(self) -> str | None:
        try:
            if not await tekton_available(self.client):
                return "Tekton Pipelines API (tekton.dev/v1 pipelineruns) is not served"
        except errors.ApiError as exc:
            return f"cannot reach the API server to check Tekton: {exc}"
        if self.leading and self.wfes is not None and not self.wfes.healthy:
            return f"WorkflowExecution watch failing: {self.wfes.last_error}"
        return None

    # --- leading ------------------------------------------------------------------------------

    def _caches(self) -> _Caches:
        """The three informers, their handlers feeding whichever queue is current."""
        s = self.settings
        wfes = Informer(
            self.client,
            WORKFLOW_EXECUTIONS,
            namespace=s.watch_namespace,
            indexers={TARGET_INDEX: _target_of},
            transform=slim.slim_object,
            resync_period=600,
        )
        prs = Informer(
            self.client,
            PIPELINE_RUNS,
            namespace=s.execution_namespace,
            label_selector=f"app.kubernetes.io/managed-by={pipelinerun.MANAGED_BY}",
            transform=slim.slim_pipeline_run,
        )
        trs = Informer(
            self.client,
            TASK_RUNS,
            namespace=s.execution_namespace,
            indexers={TASK_RUN_INDEX: _pipeline_run_of},
            transform=slim.slim_task_run,
        )

        def enqueue(key: str | None) -> None:
            # A follower's caches stay warm but nobody works: its events go nowhere, and a
            # new leader queues every cached key when its term starts.
            if key is not None and self.queue is not None:
                self.queue.add(key)

        wfes.add_handler(lambda _t, obj, _old: enqueue(object_key(obj)))
        prs.add_handler(lambda _t, obj, _old: enqueue(_owner_key(obj)))

        def on_task_run(_t: str, obj: Mapping[str, Any], _old: object) -> None:
            for name in _pipeline_run_of(obj):
                owner = prs.get(s.execution_namespace, name)
                enqueue(_owner_key(owner) if owner is not None else None)

        trs.add_handler(on_task_run)
        return _Caches(wfes=wfes, prs=prs, trs=trs)

    async def lead(self) -> None:
        """Run workers (and the informers, unless a warm standby already runs them) until
        cancelled (the leader's work)."""
        if self._warm is not None:
            await self._term(self._warm)
            return
        caches = self._caches()
        tasks = caches.start()
        try:
            await self._term(caches)
        finally:
            await _stop_all(tasks)

    async def _term(self, caches: _Caches) -> None:
        """One leadership term over running informers: workers until cancelled, then drain."""
        s = self.settings
        queue: WorkQueue[str] = WorkQueue(
            name="workflowexecutions", metrics=_QueueMetrics(self.metrics)
        )
        reconciler = Reconciler(
            client=self.client,
            workflow_executions=caches.wfes,
            pipeline_runs=caches.prs,
            task_runs=caches.trs,
            policy=self.policy,
            recorder=self.recorder,
        )
        self.wfes, self.queue = caches.wfes, queue
        workers: list[asyncio.Task[None]] = []
        try:
            # Workers start only once every cache is complete: deciding from a partial cache
            # could miss the WorkflowExecution that holds a target.
            for informer in caches.all:
                await informer.wait_synced()
            # Everything the caches hold is this term's work (a warm standby's caches filled
            # while nobody worked; the queue dedups what the handlers add meanwhile).
            for obj in caches.wfes.list():
                queue.add(object_key(obj))
            _log.info("caches synced; starting workers", workers=s.workers)
            workers = [
                asyncio.create_task(self._worker(queue, reconciler), name=f"worker-{n}")
                for n in range(s.workers)
            ]
            self.working = True
            # `wait`, not `gather`: cancelling this task must not cancel the workers mid-write
            # before they had the chance to finish (see the drain below).
            await asyncio.wait(workers)
        finally:
            self.working = False
            self.queue = None
            queue.shutdown()
            # Drain: workers finish the reconcile they are in (each is a few API round trips)
            # and take no new key; what is still queued is the next leader's (API state is the
            # whole state). Bounded, to stay well inside the Lease's renew deadline.
            if workers:
                await asyncio.wait(workers, timeout=_DRAIN_SECONDS)
            await _stop_all(workers)
            if self._warm is None:
                self.wfes = None
            # A demoted replica must not keep exporting Running/lock series it no longer
            # maintains (they would fire Stuck/LockStuck alerts); the new leader exports them.
            self.metrics.forget_all()

    async def _worker(self, queue: WorkQueue[str], reconciler: Reconciler) -> None:
        """Take keys until the queue shuts down; each key is handled by one worker at a time."""
        while True:
            try:
                key = await queue.get()
            except ShutDown:
                return
            try:
                await self._handle(queue, reconciler, key)
            finally:
                queue.done(key)

    async def _handle(self, queue: WorkQueue[str], reconciler: Reconciler, key: str) -> None:
        """Reconcile `key` and act on the outcome — the one switch of the worker loop.

        done → forget its backoff; requeue after → forget, look again then; deferred (a cause
        that will pass, or a 429 with Retry-After) → look again after that delay without
        growing the backoff; retry → rate-limited; terminal → logged and counted, not retried.
        """
        structlog.contextvars.bind_contextvars(wfe=key, reconcile_id=secrets.token_hex(4))
        started = time.monotonic()
        outcome = "error"
        try:
            result = await reconciler.reconcile(key)
        except RetryAfter as exc:
            outcome = "requeue"
            _log.info("reconcile deferred", reason=str(exc), wait_reason=exc.reason)
            queue.forget(key)
            queue.add_after(key, exc.seconds)
        except errors.TooManyRequests as exc:
            _log.info("reconcile throttled by the API server", retry_after=exc.retry_after)
            if exc.retry_after is not None:
                queue.add_after(key, exc.retry_after)  # the server's word, backoff unchanged
            else:
                queue.add_rate_limited(key)
        except Terminal as exc:
            self.metrics.error("validation", exc.reason)
            _log.error("reconcile failed for good; not retrying", error=str(exc))
            queue.forget(key)
        except (Retry, errors.ApiError) as exc:
            _log.warning(
                "reconcile failed; retrying", error=str(exc), error_type=type(exc).__name__
            )
            queue.add_rate_limited(key)
        except Exception:
            _log.exception("reconcile crashed; retrying")
            queue.add_rate_limited(key)
        else:
            queue.forget(key)
            outcome = "success"
            if result.requeue_after is not None:
                outcome = "requeue"
                queue.add_after(key, result.requeue_after)
        finally:
            structlog.contextvars.clear_contextvars()
        self.metrics.reconciles.labels(result=outcome).inc()
        self.metrics.reconcile_duration.observe(time.monotonic() - started)

    # --- whole process ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve probes and metrics; lead (or wait to lead) until `stop` is set."""
        await self.audit.start()
        await self.metrics_server.start()
        await self.probe_server.start()
        _log.info(
            "controller started",
            metrics_port=self.metrics_server.port,
            health_port=self.probe_server.port,
            identity=self.identity,
        )
        work = asyncio.create_task(self._contend(), name="leader")
        stopper = asyncio.create_task(stop.wait(), name="stop")
        failure: BaseException | None = None
        try:
            await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (work, stopper):
                task.cancel()
            for task in (work, stopper):
                with contextlib.suppress(asyncio.CancelledError):
                    try:
                        await task
                    except Exception as exc:
                        failure = exc
            await self.events.close()
            await self.audit.close()
            await self.probe_server.stop()
            await self.metrics_server.stop()
            _log.info("controller stopped")
        if failure is not None:
            # Crash the process: Kubernetes restarts it, and the restart is visible.
            _log.error("controller work failed", error=repr(failure))
            raise failure

    def _set_leading(self, leading: bool) -> None:
        self.leading = leading
        self.metrics.leader.set(1 if leading else 0)
        _log.info("leadership changed", leading=leading, identity=self.identity)

    async def _contend(self) -> None:
        if not self.settings.leader_election:
            self._set_leading(True)
            try:
                await self.lead()
            finally:
                self._set_leading(False)
            return
        from wfe.kube.leader import LeaderElector

        s = self.settings
        elector = LeaderElector(
            self.client,
            name=s.lease_name,
            namespace=s.lease_namespace,
            identity=self.identity,
            lease_duration=s.lease_duration.total_seconds(),
            renew_deadline=s.renew_deadline.total_seconds(),
            retry_period=s.retry_period.total_seconds(),
            on_change=self._set_leading,
        )
        # Warm standby: a follower keeps its caches synced, so when it takes the Lease its
        # workers start at once instead of after a full list of every WorkflowExecution.
        self._warm = self._caches()
        tasks = self._warm.start()
        self.wfes = self._warm.wfes
        try:
            await elector.run(self.lead)
        finally:
            self.wfes = None
            self._warm = None
            await _stop_all(tasks)
