"""Crash-point enumeration: stop the controller before every write of a lifecycle, let the world
do something meanwhile, start a fresh controller from API state alone, and check the safety
rules (docs/architecture.md, "No run without a trace").

For every outcome of the run (success, a failure that ran) x every write boundary of its
lifecycle (before the lock create, the finalizer, each status write, the lock finalizer's
removal, the lock delete, `lockReleasedAt`; and no crash at all) x every thing the world can do
while the controller is down (nothing; the run finishes; it is deleted by someone; the
WorkflowExecution is deleted; a second WorkflowExecution arrives for the target):

- at most one run per target at a time, and never a second run for one WorkflowExecution;
- every run that started is recorded on its WorkflowExecution (unless the world deleted that
  object), a failure that ran or a run deleted unfinished as `wasExecutionFailure=true`;
- nothing runs on a target after an uncleared failure that ran;
- no WorkflowExecution is left without a terminal phase or stuck Terminating;
- once every release time has passed, no lock is held and the target is usable: a new
  WorkflowExecution runs — unless a recorded failure that ran blocks it.

Tekton is modelled in-process (a PipelineRun starts, then finishes with the outcome; one being
deleted is left alone, as Tekton leaves it). Time moves one minute per round.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fakes import CapturedAudit, CapturedEvents, FakeClient, SeededInformer
from world import NS, POLICY, finished_run, running_run, task_run, wfe_object

from wfe.controller import slim
from wfe.controller.discovery import KindDiscovery
from wfe.controller.errors import Retry, Terminal
from wfe.controller.manager import _pipeline_run_of, _target_of
from wfe.controller.reconciler import TARGET_INDEX, TASK_RUN_INDEX, Reconciler
from wfe.controller.resources import PIPELINE_RUNS, TASK_RUNS, WORKFLOW_EXECUTIONS
from wfe.kube import errors
from wfe.kube.client import KubeObject
from wfe.observability.metrics import Metrics
from wfe.observability.recorder import Recorder
from wfe.tekton import pipelinerun

from builders import NOW

EXEC_NS = POLICY.execution_namespace
OUTCOMES = ("succeeds", "fails-after-running")
WORLD_ACTIONS = ("nothing", "run-finishes", "run-deleted", "wfe-deleted", "second-wfe")
_ROUNDS = 14  # minutes: past the 5 m cooldown with room to spare
_WRITES = frozenset({"create", "delete", "patch", "patch_status"})
# Lock create, finalizer, Running, the PipelineRun's progress mirrored, Completed/Failed, lock
# finalizer off, lock delete, lockReleasedAt.
_LIFECYCLE_WRITES = 8


class Crash(BaseException):
    """The process dies: nothing of this reconcile after this point happens."""


@dataclass
class Process:
    """One controller process over the shared API server (its caches start empty)."""

    client: FakeClient
    clock: Callable[[], Any]
    reconciler: Reconciler = field(init=False)
    informers: tuple[SeededInformer, ...] = field(init=False)

    def __post_init__(self) -> None:
        wfes = SeededInformer(
            self.client,
            WORKFLOW_EXECUTIONS,
            indexers={TARGET_INDEX: _target_of},
            transform=slim.slim_object,
        )
        prs = SeededInformer(
            self.client,
            PIPELINE_RUNS,
            namespace=EXEC_NS,
            label_selector=f"app.kubernetes.io/managed-by={pipelinerun.MANAGED_BY}",
            transform=slim.slim_pipeline_run,
        )
        trs = SeededInformer(
            self.client,
            TASK_RUNS,
            namespace=EXEC_NS,
            indexers={TASK_RUN_INDEX: _pipeline_run_of},
            transform=slim.slim_task_run,
        )
        self.informers = (wfes, prs, trs)
        self.reconciler = Reconciler(
            client=self.client,
            workflow_executions=wfes,
            pipeline_runs=prs,
            task_runs=trs,
            policy=POLICY,
            recorder=Recorder(metrics=Metrics(), events=CapturedEvents(), audit=CapturedAudit()),
            kind_discovery=KindDiscovery(self.client),
            now=self.clock,
        )

    async def round(self) -> None:
        """Every WorkflowExecution reconciled once, from freshly loaded caches."""
        for informer in self.informers:
            informer.load()
        for obj in self.client.snapshot(WORKFLOW_EXECUTIONS, NS):
            # An error is retried next round, as the work queue would.
            with contextlib.suppress(Retry, Terminal, errors.ApiError):
                await self.reconciler.reconcile(f"{NS}/{obj['metadata']['name']}")


@dataclass
class Scenario:
    outcome: str
    crash_before_write: int | None
    action: str
    now: Any = NOW
    client: FakeClient = field(init=False)
    writes_seen: int = 0
    creates: dict[str, int] = field(default_factory=dict)
    """Successful lock creates per owner uid."""
    overlaps: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = FakeClient(clock=lambda: self.now)
        self.client.hooks.append(self._count)

    def _count(self, action: Any) -> None:
        if action.verb not in _WRITES or action.error is not None:
            return
        self.writes_seen += 1
        if self.crash_before_write is not None and self.writes_seen == self.crash_before_write:
            self.crash_before_write = None  # crash once
            raise Crash

    def record_create(self) -> None:
        for pr in self.client.snapshot(PIPELINE_RUNS, EXEC_NS):
            uid = pr["metadata"]["annotations"]["kubernaut.ai/workflow-execution-uid"]
            key = f"{uid}@{pr['metadata']['uid']}"
            self.creates.setdefault(key, 1)

    def tekton(self) -> None:
        """Start runs, finish started ones with the outcome; leave deleted ones alone."""
        for pr in self.client.snapshot(PIPELINE_RUNS, EXEC_NS):
            if pr["metadata"].get("deletionTimestamp"):
                continue
            status = pr.get("status") or {}
            if not status:
                self.client.put(PIPELINE_RUNS, running_run(pr, started=self.now))
            elif "completionTime" not in status:
                self.finish(pr)

    def finish(self, pr: KubeObject) -> None:
        started = self.now - timedelta(seconds=30)
        ok = self.outcome == "succeeds"
        done = self.client.put(
            PIPELINE_RUNS, finished_run(pr, succeeded=ok, started=started, completed=self.now)
        )
        if not ok:
            self.client.put(TASK_RUNS, task_run(done, completed=self.now))

    def check_running(self) -> None:
        running = [
            o["metadata"]["name"]
            for o in self.client.snapshot(WORKFLOW_EXECUTIONS, NS)
            if (o.get("status") or {}).get("phase") == "Running"
        ]
        if len(running) > 1:
            self.overlaps.append(f"{self.now}: {running} Running at once")

    async def world_acts(self) -> None:
        prs = self.client.snapshot(PIPELINE_RUNS, EXEC_NS)
        if self.action == "run-finishes":
            for pr in prs:
                if not pr.get("status"):
                    pr = self.client.put(PIPELINE_RUNS, running_run(pr, started=self.now))
                if "completionTime" not in (pr.get("status") or {}):
                    self.finish(pr)
        elif self.action == "run-deleted":
            for pr in prs:
                await self.client.delete(PIPELINE_RUNS, EXEC_NS, pr["metadata"]["name"])
        elif self.action == "wfe-deleted":
            await self.client.delete(WORKFLOW_EXECUTIONS, NS, "a")
        elif self.action == "second-wfe":
            self.client.put(WORKFLOW_EXECUTIONS, wfe_object("b", created=self.now))

    async def play(self) -> None:
        self.client.put(WORKFLOW_EXECUTIONS, wfe_object("a", created=self.now))
        first = Process(self.client, lambda: self.now)
        crashed = False
        for _ in range(_ROUNDS):
            try:
                await first.round()
            except Crash:
                crashed = True
                break
            self.record_create()
            self.check_running()
            self.tekton()
            self.now += timedelta(minutes=1)
        self.record_create()
        if crashed or self.crash_before_write is None:
            await self.world_acts()
        second = Process(self.client, lambda: self.now)  # from API state alone
        for _ in range(_ROUNDS):
            await second.round()
            self.record_create()
            self.check_running()
            self.tekton()
            self.now += timedelta(minutes=1)


def _phase(obj: KubeObject) -> str | None:
    phase: str | None = (obj.get("status") or {}).get("phase")
    return phase


async def _assert_rules(s: Scenario) -> None:
    wfes = {o["metadata"]["name"]: o for o in s.client.snapshot(WORKFLOW_EXECUTIONS, NS)}
    where = f"outcome={s.outcome} action={s.action}"
    assert not s.overlaps, where
    # Never a second run for one WorkflowExecution.
    per_owner: dict[str, int] = {}
    for key in s.creates:
        owner = key.split("@")[0]
        per_owner[owner] = per_owner.get(owner, 0) + 1
    assert all(n == 1 for n in per_owner.values()), (where, s.creates)
    for name, obj in wfes.items():
        assert not obj["metadata"].get("deletionTimestamp"), (where, name, "stuck Terminating")
        assert _phase(obj) in ("Completed", "Failed", "Skipped"), (where, name, obj.get("status"))
        uid = obj["metadata"]["uid"]
        ran = uid in per_owner
        if ran:
            # Every run that started is recorded on its WorkflowExecution.
            assert _phase(obj) in ("Completed", "Failed"), (where, name, "run not recorded")
            details = obj["status"].get("failureDetails")
            if s.outcome == "fails-after-running" and _phase(obj) == "Failed":
                assert details["wasExecutionFailure"] is True, (where, name)
            if s.action == "run-deleted" and _phase(obj) == "Failed":
                assert details["wasExecutionFailure"] is True, (where, name)
    # Nothing runs after an uncleared failure that ran.
    blocked = [
        o
        for o in wfes.values()
        if _phase(o) == "Failed" and o["status"]["failureDetails"]["wasExecutionFailure"]
    ]
    if blocked:
        first_block = min(o["status"]["completionTime"] for o in blocked)
        for name, obj in wfes.items():
            started = (obj.get("status") or {}).get("startTime")
            if obj["metadata"]["uid"] in per_owner and started:
                assert started <= first_block, (where, name, "ran after a block")
    # Every release time has passed: no lock is held, or it is an ownerless orphan (its owner
    # was deleted before its finalizer landed) that the next WorkflowExecution releases.
    probe = Process(s.client, lambda: s.now)
    s.client.put(WORKFLOW_EXECUTIONS, wfe_object("probe", created=s.now))
    for _ in range(3):
        await probe.round()
        s.tekton()
        s.now += timedelta(minutes=1)
    probed = s.client.stored(WORKFLOW_EXECUTIONS, NS, "probe")
    assert probed is not None
    if blocked:
        assert probed["status"]["skipDetails"]["reason"] == "PreviousExecutionFailed", where
    else:
        assert _phase(probed) == "Completed" or (
            s.outcome == "fails-after-running" and _phase(probed) == "Failed"
        ), (where, probed.get("status"))


CASES = [
    pytest.param(outcome, crash, action, id=f"{outcome}-crash-before-write-{crash}-{action}")
    for outcome, crash, action in itertools.product(
        OUTCOMES, [*range(1, _LIFECYCLE_WRITES + 1), None], WORLD_ACTIONS
    )
]


@pytest.mark.parametrize(("outcome", "crash", "action"), CASES)
async def test_every_crash_point_and_world_action_keeps_the_rules(
    outcome: str, crash: int | None, action: str
) -> None:
    s = Scenario(outcome, crash, action)
    await s.play()
    await _assert_rules(s)


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_the_enumeration_covers_every_write_of_the_lifecycle(outcome: str) -> None:
    """The crash points are all of a lifecycle's writes: this fails if the lifecycle grows or
    loses a write, so the enumeration cannot silently shrink."""
    s = Scenario(outcome, None, "nothing")
    await s.play()
    assert s.writes_seen == _LIFECYCLE_WRITES


def test_the_enumeration_size() -> None:
    # 2 outcomes x (8 crash points + no crash) x 5 world actions.
    assert len(CASES) == len(OUTCOMES) * (_LIFECYCLE_WRITES + 1) * len(WORLD_ACTIONS) == 90
