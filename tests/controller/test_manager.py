"""The manager: the worker loop's outcome switch, the event → key mapping, readiness, and the
leader's work (`lead`, `run`) in-process against the fake API server."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import aiohttp
import pytest
import structlog
from fakes import CapturedAudit, FakeClient, SeededInformer, discovery_of
from world import EXEC_NS, NS, finished_run, lock_for, task_run, wfe_object

from wfe.config import Settings
from wfe.controller.errors import Retry, RetryAfter, Terminal
from wfe.controller.manager import (
    Controller,
    _owner_key,
    _pipeline_run_of,
    _QueueMetrics,
    _target_of,
    tekton_available,
)
from wfe.controller.reconciler import Reconciler, Result
from wfe.controller.resources import PIPELINE_RUNS, TASK_RUNS, WORKFLOW_EXECUTIONS
from wfe.core.contention import (
    OWNER_LABEL,
    OWNER_NAME_ANNOTATION,
    OWNER_NAMESPACE_ANNOTATION,
    OWNER_NAMESPACE_LABEL,
)
from wfe.core.kinds import BUILTIN_KINDS
from wfe.core.lock import lock_name
from wfe.kube import errors
from wfe.kube.client import LEASES, KubeObject
from wfe.kube.clock import FakeClock, settle
from wfe.kube.workqueue import WorkQueue
from wfe.observability.audit import LogAuditSink
from wfe.observability.audit_http import HttpAuditSink, TeeAuditSink
from wfe.observability.metrics import Metrics

from builders import TARGET

KEY = "default/a"


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "metrics_address": "127.0.0.1:0",
        "health_address": "127.0.0.1:0",
        "execution_namespace": EXEC_NS,
        "leader_election": False,
        "workers": 2,
        "log_format": "console",
    }
    values.update(overrides)
    return Settings.model_validate(values)


def controller(client: FakeClient | None = None, **overrides: Any) -> Controller:
    return Controller(
        settings(**overrides), client or FakeClient(), audit=CapturedAudit(), metrics=Metrics()
    )


# --- event → key mapping ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("meta", "key"),
    [
        pytest.param(
            {"annotations": {OWNER_NAMESPACE_ANNOTATION: "ns", OWNER_NAME_ANNOTATION: "exact"}},
            "ns/exact",
            id="annotations",
        ),
        pytest.param(
            {"labels": {OWNER_NAMESPACE_LABEL: "ns", OWNER_LABEL: "labelled"}},
            "ns/labelled",
            id="labels-of-a-run-that-predates-the-annotations",
        ),
        pytest.param(
            {
                "annotations": {
                    OWNER_NAMESPACE_ANNOTATION: "ns",
                    OWNER_NAME_ANNOTATION: "a-very-long-name-" + "x" * 60,
                },
                "labels": {OWNER_NAMESPACE_LABEL: "ns", OWNER_LABEL: "a-very-long-name-0123abcd"},
            },
            "ns/a-very-long-name-" + "x" * 60,
            id="annotations-win-over-shortened-labels",
        ),
        pytest.param(
            {
                "annotations": {OWNER_NAMESPACE_ANNOTATION: "ns"},
                "labels": {OWNER_NAMESPACE_LABEL: "other", OWNER_LABEL: "labelled"},
            },
            "other/labelled",
            id="half-an-annotation-falls-back-to-the-labels",
        ),
        pytest.param({"labels": {OWNER_LABEL: "no-namespace"}}, None, id="half-a-label"),
        pytest.param({}, None, id="no-owner"),
    ],
)
def test_a_pipelinerun_maps_to_the_workflowexecution_it_records(
    meta: dict[str, Any], key: str | None
) -> None:
    assert _owner_key({"metadata": meta}) == key


def test_an_object_without_metadata_maps_to_nothing() -> None:
    assert _owner_key({}) is None


@pytest.mark.parametrize(
    ("obj", "values"),
    [
        pytest.param({"spec": {"targetResource": TARGET}}, [TARGET], id="target"),
        pytest.param({"spec": {"targetResource": 7}}, [], id="not-a-string"),
        pytest.param({"spec": None}, [], id="no-spec"),
    ],
)
def test_the_target_index(obj: KubeObject, values: list[str]) -> None:
    assert _target_of(obj) == values


@pytest.mark.parametrize(
    ("obj", "values"),
    [
        pytest.param(
            {"metadata": {"labels": {"tekton.dev/pipelineRun": "wfe-1"}}}, ["wfe-1"], id="label"
        ),
        pytest.param({"metadata": {"labels": None}}, [], id="no-labels"),
        pytest.param({}, [], id="no-metadata"),
    ],
)
def test_the_task_run_index(obj: KubeObject, values: list[str]) -> None:
    assert _pipeline_run_of(obj) == values


def test_queue_hooks_feed_the_metrics() -> None:
    metrics = Metrics()
    hooks = _QueueMetrics(metrics)
    hooks.on_add()
    hooks.on_work_duration(0.5)
    hooks.on_depth(3)
    hooks.on_queue_latency(0.25)
    hooks.on_retry()
    sample = metrics.registry.get_sample_value
    assert sample("workflowexecution_workqueue_depth") == 3.0
    assert sample("workflowexecution_workqueue_queue_duration_seconds_sum") == 0.25
    assert sample("workflowexecution_workqueue_retries_total") == 1.0


# --- the worker loop's outcome switch ----------------------------------------------------------


class RecordingQueue(WorkQueue[str]):
    """A real work queue (on a fake clock) that records the calls the worker makes."""

    def __init__(self) -> None:
        super().__init__(name="test", clock=FakeClock())
        self.calls: list[tuple[Any, ...]] = []
        self._inside = False

    def forget(self, key: str) -> None:
        self.calls.append(("forget", key))
        super().forget(key)

    def add_after(self, key: str, delay: float) -> None:
        if not self._inside:
            self.calls.append(("add_after", key, delay))
        super().add_after(key, delay)

    def add_rate_limited(self, key: str) -> None:
        self.calls.append(("add_rate_limited", key))
        self._inside = True
        try:
            super().add_rate_limited(key)
        finally:
            self._inside = False


class StubReconciler:
    """Answers each reconcile with the next outcome; remembers the log context it ran in."""

    def __init__(self, *outcomes: Result | BaseException) -> None:
        self.outcomes = list(outcomes)
        self.keys: list[str] = []
        self.contexts: list[dict[str, Any]] = []
        self.called = asyncio.Event()

    async def reconcile(self, key: str) -> Result:
        self.keys.append(key)
        self.contexts.append(structlog.contextvars.get_contextvars())
        self.called.set()
        outcome = self.outcomes.pop(0) if self.outcomes else Result()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def _reconciles(c: Controller, result: str) -> float:
    value = c.metrics.registry.get_sample_value(
        "workflowexecution_reconcile_total", {"result": result}
    )
    return value or 0.0


async def _handle(
    outcome: Result | BaseException, *, earlier_failures: int = 0
) -> tuple[Controller, RecordingQueue, StubReconciler]:
    c = controller()
    queue = RecordingQueue()
    for _ in range(earlier_failures):
        queue.add_rate_limited(KEY)
    queue.calls.clear()
    stub = StubReconciler(outcome)
    try:
        await c._handle(queue, cast(Reconciler, stub), KEY)
    finally:
        queue.shutdown()
        await settle()
    return c, queue, stub


@pytest.mark.parametrize(
    ("outcome", "calls", "result"),
    [
        pytest.param(Result(), [("forget", KEY)], "success", id="done-forgets-the-backoff"),
        pytest.param(
            Result(requeue_after=7.5),
            [("forget", KEY), ("add_after", KEY, 7.5)],
            "requeue",
            id="requeue-after-the-delay-asked",
        ),
        pytest.param(
            Result(requeue_after=0.0),
            [("forget", KEY), ("add_after", KEY, 0.0)],
            "requeue",
            id="requeue-at-once",
        ),
        pytest.param(
            RetryAfter("cache syncing", seconds=5.0, reason="CacheNotSynced"),
            [("forget", KEY), ("add_after", KEY, 5.0)],
            "requeue",
            id="deferred-by-its-delay-not-the-backoff",
        ),
        pytest.param(
            errors.TooManyRequests(
                "slow down", status=429, reason="TooManyRequests", details={"retryAfterSeconds": 3}
            ),
            [("add_after", KEY, 3.0)],
            "error",
            id="429-waits-its-retry-after",
        ),
        pytest.param(
            Terminal("unreadable", reason="InvalidObject"),
            [("forget", KEY)],
            "error",
            id="terminal-is-not-retried",
        ),
        pytest.param(
            Retry("conflict"), [("add_rate_limited", KEY)], "error", id="retry-is-rate-limited"
        ),
        pytest.param(
            errors.Unavailable("connection refused"),
            [("add_rate_limited", KEY)],
            "error",
            id="api-error-is-rate-limited",
        ),
        pytest.param(
            RuntimeError("bug"), [("add_rate_limited", KEY)], "error", id="a-crash-is-rate-limited"
        ),
    ],
)
async def test_each_outcome_makes_its_queue_call(
    outcome: Result | BaseException, calls: list[tuple[Any, ...]], result: str
) -> None:
    c, queue, stub = await _handle(outcome)
    assert queue.calls == calls
    assert stub.keys == [KEY]
    assert _reconciles(c, result) == 1.0
    assert sum(_reconciles(c, r) for r in ("success", "error", "requeue")) == 1.0


async def test_a_429_does_not_grow_the_backoff() -> None:
    throttled = errors.TooManyRequests(
        "slow down", status=429, reason="TooManyRequests", details={"retryAfterSeconds": 3}
    )
    _, queue, _ = await _handle(throttled, earlier_failures=2)
    assert queue.calls == [("add_after", KEY, 3.0)]
    assert queue.num_requeues(KEY) == 2


async def test_a_429_without_retry_after_backs_off_like_any_error() -> None:
    throttled = errors.TooManyRequests("slow down", status=429, reason="TooManyRequests")
    _, queue, _ = await _handle(throttled, earlier_failures=3)
    assert queue.calls == [("add_rate_limited", KEY)]
    assert queue.num_requeues(KEY) == 4


async def test_repeated_429s_without_retry_after_back_off() -> None:
    c = controller()
    queue = RecordingQueue()
    throttled = errors.TooManyRequests("slow down", status=429, reason="TooManyRequests")
    stub = StubReconciler(throttled, throttled, throttled)
    try:
        for _ in range(3):
            await c._handle(queue, cast(Reconciler, stub), KEY)
    finally:
        queue.shutdown()
        await settle()
    assert queue.calls == [("add_rate_limited", KEY)] * 3
    assert queue.num_requeues(KEY) == 3  # so each next delay doubles


async def test_a_terminal_outcome_is_counted_as_an_error() -> None:
    c, _, _ = await _handle(Terminal("unreadable", reason="InvalidObject"))
    assert (
        c.metrics.registry.get_sample_value(
            "workflowexecution_errors_total", {"category": "validation", "reason": "InvalidObject"}
        )
        == 1.0
    )


@pytest.mark.parametrize(
    "outcome",
    [pytest.param(Result(), id="after-success"), pytest.param(Retry("x"), id="after-an-error")],
)
async def test_the_reconcile_id_is_bound_during_the_reconcile_and_cleared_after(
    outcome: Result | BaseException,
) -> None:
    structlog.contextvars.clear_contextvars()
    _, _, stub = await _handle(outcome)
    (context,) = stub.contexts
    assert context["wfe"] == KEY
    assert len(context["reconcile_id"]) == 8
    int(context["reconcile_id"], 16)
    assert structlog.contextvars.get_contextvars() == {}


async def test_each_reconcile_gets_its_own_id() -> None:
    c = controller()
    queue = RecordingQueue()
    stub = StubReconciler(Result(), Result())
    try:
        await c._handle(queue, cast(Reconciler, stub), KEY)
        await c._handle(queue, cast(Reconciler, stub), KEY)
    finally:
        queue.shutdown()
    first, second = (ctx["reconcile_id"] for ctx in stub.contexts)
    assert first != second


async def test_the_worker_takes_keys_marks_them_done_and_stops_at_shutdown() -> None:
    c = controller()
    queue: WorkQueue[str] = WorkQueue(name="test", clock=FakeClock())
    stub = StubReconciler(Result(), Retry("again"))
    queue.add("default/a")
    queue.add("default/b")
    worker = asyncio.create_task(c._worker(queue, cast(Reconciler, stub)))
    await settle()
    assert stub.keys == ["default/a", "default/b"]
    assert queue.processing == 0  # done() was called for both
    assert queue.num_requeues("default/b") == 1
    queue.shutdown()
    async with asyncio.timeout(5):
        await worker  # returns on ShutDown


# --- readiness and wiring ---------------------------------------------------------------------


async def test_tekton_available_asks_for_pipelineruns_in_tekton_v1() -> None:
    client = FakeClient()
    assert await tekton_available(client)
    assert client.calls("has_api")[0].name == "tekton.dev/v1"
    client.discovery = discovery_of(BUILTIN_KINDS)
    assert not await tekton_available(client)


async def test_ready_when_tekton_is_served_and_the_watch_is_healthy() -> None:
    c = controller()
    assert await c._not_ready() is None


async def test_not_ready_while_tekton_is_not_served() -> None:
    client = FakeClient(discovery=discovery_of(BUILTIN_KINDS))
    reason = await controller(client)._not_ready()
    assert reason is not None
    assert "tekton.dev/v1 pipelineruns" in reason


async def test_not_ready_while_the_api_server_does_not_answer() -> None:
    client = FakeClient()
    client.fail("has_api", "", errors.Unavailable("connection refused"))
    reason = await controller(client)._not_ready()
    assert reason is not None
    assert reason.startswith("cannot reach the API server")


async def test_not_ready_while_leading_with_a_failing_watch() -> None:
    client = FakeClient()
    c = controller(client)
    wfes = SeededInformer(client, WORKFLOW_EXECUTIONS)
    wfes.load([])
    wfes.healthy = False
    wfes.last_error = errors.Forbidden("cannot watch", status=403, reason="Forbidden")
    c.wfes = wfes
    assert await c._not_ready() is None  # a follower does not watch
    c.leading = True
    reason = await c._not_ready()
    assert reason is not None
    assert "cannot watch" in reason


def test_audit_goes_to_the_logs_and_to_data_storage_when_configured() -> None:
    c = Controller(
        settings(audit_endpoint="http://data-storage:8080"), FakeClient(), metrics=Metrics()
    )
    assert isinstance(c.audit, TeeAuditSink)
    assert any(isinstance(s, HttpAuditSink) for s in c.audit.sinks)


def test_audit_goes_to_the_logs_alone_by_default() -> None:
    c = Controller(settings(), FakeClient(), metrics=Metrics())
    assert isinstance(c.audit, LogAuditSink)


# --- the leader's work, in-process ----------------------------------------------------------


def wfe_object_with_uid(name: str, namespace: str) -> KubeObject:
    obj = wfe_object(name)
    obj["metadata"].update(namespace=namespace, uid=f"uid-{namespace}-{name}")
    return obj


def _phase(client: FakeClient, name: str) -> str | None:
    obj = client.stored(WORKFLOW_EXECUTIONS, NS, name)
    return ((obj or {}).get("status") or {}).get("phase")


async def test_lead_reconciles_from_watch_events_and_winds_down_when_cancelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = FakeClient()
    client.put(WORKFLOW_EXECUTIONS, wfe_object("a"))
    c = controller(client)
    leading = asyncio.create_task(c.lead())
    try:
        async with asyncio.timeout(10):
            await client.wait_for(lambda: _phase(client, "a") == "Running")
        assert c.working
        assert c.queue is not None
        queue = c.queue

        # Events of runs are mapped to the WorkflowExecution the run records as its owner; a
        # TaskRun's through its PipelineRun (from the cache).
        added: list[str] = []
        changed = asyncio.Event()
        original = queue.add

        def spy(key: str) -> None:
            added.append(key)
            changed.set()
            original(key)

        async def queued(key: str) -> None:
            async with asyncio.timeout(10):
                while key not in added:
                    changed.clear()
                    await changed.wait()

        monkeypatch.setattr(queue, "add", spy)
        foreign = lock_for(wfe_object_with_uid("x", "elsewhere"))
        ownerless = lock_for(wfe_object_with_uid("y", "elsewhere"))
        ownerless["metadata"].update(name="wfe-ownerless", annotations={})
        for label in (OWNER_LABEL, OWNER_NAMESPACE_LABEL):
            del ownerless["metadata"]["labels"][label]
        ownerless = client.put(PIPELINE_RUNS, ownerless)  # maps to no key
        foreign["metadata"]["name"] = "wfe-foreign"
        foreign = client.put(PIPELINE_RUNS, foreign)
        await queued("elsewhere/x")  # the PipelineRun's own event (after the ownerless one's)
        assert [k for k in added if k != KEY] == ["elsewhere/x"]
        added.clear()
        unknown = task_run(foreign)
        unknown["metadata"]["name"] = "of-an-unknown-run"
        unknown["metadata"]["labels"]["tekton.dev/pipelineRun"] = "wfe-unknown"
        client.put(TASK_RUNS, unknown)  # maps to no key
        client.put(TASK_RUNS, task_run(ownerless))  # its run names no owner: no key
        client.put(TASK_RUNS, task_run(foreign))
        await queued("elsewhere/x")  # only the TaskRun's event can have queued it again
        assert [k for k in added if k != KEY] == ["elsewhere/x"]

        lock = client.stored(PIPELINE_RUNS, EXEC_NS, lock_name(TARGET))
        assert lock is not None
        # The PipelineRun's own event brings its WorkflowExecution to its end.
        now = datetime.now(UTC).replace(microsecond=0)
        client.put(
            PIPELINE_RUNS,
            finished_run(lock, succeeded=True, started=now - timedelta(seconds=2), completed=now),
        )
        async with asyncio.timeout(10):
            await client.wait_for(lambda: _phase(client, "a") == "Completed")
        assert c.metrics.tracked_objects == 1
    finally:
        leading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await leading
    assert not c.working
    assert c.wfes is None
    assert c.metrics.tracked_objects == 0  # a demoted replica exports no per-object series
    assert queue.shutting_down


async def _get(session: aiohttp.ClientSession, port: int, path: str) -> tuple[int, str]:
    async with session.get(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, await response.text()


async def test_run_serves_probes_and_metrics_while_it_leads_and_stops_cleanly() -> None:
    client = FakeClient()
    client.put(WORKFLOW_EXECUTIONS, wfe_object("a"))
    c = controller(client)
    stop = asyncio.Event()
    running = asyncio.create_task(c.run(stop))
    async with asyncio.timeout(10):
        await client.wait_for(lambda: _phase(client, "a") == "Running")
    assert c.leading
    async with aiohttp.ClientSession() as session:
        assert await _get(session, c.probe_server.port, "/healthz") == (200, "ok\n")
        assert await _get(session, c.probe_server.port, "/readyz") == (200, "ok\n")
        status, body = await _get(session, c.metrics_server.port, "/metrics")
    assert status == 200
    assert "workflowexecution_leader 1.0" in body
    assert "workflowexecution_pipelinerun_creation_total 1.0" in body
    stop.set()
    async with asyncio.timeout(10):
        await running
    assert not c.leading
    assert c.metrics.registry.get_sample_value("workflowexecution_leader") == 0.0


async def test_run_with_leader_election_takes_the_lease_and_releases_it_on_stop() -> None:
    client = FakeClient()
    client.put(WORKFLOW_EXECUTIONS, wfe_object("a"))
    c = controller(client, leader_election=True)
    stop = asyncio.Event()
    running = asyncio.create_task(c.run(stop))
    async with asyncio.timeout(10):
        await client.wait_for(lambda: _phase(client, "a") == "Running")
    lease = client.stored(LEASES, "kubernaut-system", "workflowexecution.kubernaut.ai")
    assert lease is not None
    assert lease["spec"]["holderIdentity"] == c.identity
    assert c.leading
    stop.set()
    async with asyncio.timeout(10):
        await running
    lease = client.stored(LEASES, "kubernaut-system", "workflowexecution.kubernaut.ai")
    assert lease is not None
    assert lease["spec"]["holderIdentity"] == ""  # a standby takes over at once
    assert not c.leading


async def test_run_crashes_the_process_when_the_leaders_work_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    c = controller()

    async def broken() -> None:
        raise RuntimeError("informer wiring broke")

    monkeypatch.setattr(c, "lead", broken)
    with pytest.raises(RuntimeError, match="informer wiring broke"):
        async with asyncio.timeout(10):
            await c.run(asyncio.Event())
    assert not c.leading


def test_the_audit_sink_retries_no_longer_apart_than_the_setting() -> None:
    from wfe.observability.audit_http import HttpAuditSink, TeeAuditSink

    c = Controller(
        settings(audit_endpoint="http://127.0.0.1:1", audit_retry_max="3s"),
        FakeClient(),
        metrics=Metrics(),
    )
    assert isinstance(c.audit, TeeAuditSink)
    (http,) = [s for s in c.audit.sinks if isinstance(s, HttpAuditSink)]
    assert http._backoff_max == 3.0
