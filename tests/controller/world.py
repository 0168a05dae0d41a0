"""A reconciler over the fake API server, and builders of the objects it reads.

`World` wires the real `Reconciler` to a `FakeClient`, three `SeededInformer`s set up as
`Controller.lead` sets up its informers, a `Recorder` with a real `Metrics` registry, captured
Events and a captured audit sink, and a clock the test moves. A test seeds objects, calls
`world.reconcile(name)` (which loads the caches from the store first, unless told not to) and
asserts on `world.client.actions` — the calls of that reconcile — and the stored objects.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fakes import CapturedAudit, CapturedEvents, FakeClient, SeededInformer, discovery_of

from wfe.api.models import API_VERSION, KIND, WorkflowExecutionStatus, format_time
from wfe.controller import slim
from wfe.controller.discovery import KindDiscovery, catalog_from_discovery
from wfe.controller.manager import _pipeline_run_of, _target_of
from wfe.controller.reconciler import TARGET_INDEX, TASK_RUN_INDEX, Reconciler, Result
from wfe.controller.resources import FINALIZER, PIPELINE_RUNS, TASK_RUNS, WORKFLOW_EXECUTIONS
from wfe.core import conditions, decide, history, kinds
from wfe.core.policy import Policy
from wfe.kube.client import KubeObject
from wfe.observability.metrics import Metrics
from wfe.observability.recorder import Recorder
from wfe.tekton import pipelinerun
from wfe.tekton.status import PIPELINE_RUN_LABEL, PIPELINE_TASK_LABEL

from builders import NOW, TARGET, spec

__all__ = [
    "CATALOG",
    "EXEC_NS",
    "NS",
    "POLICY",
    "World",
    "finished_run",
    "lock_for",
    "running_run",
    "task_run",
    "wfe_object",
]

NS = "default"
POLICY = Policy()
EXEC_NS = POLICY.execution_namespace
DISCOVERY = discovery_of()
CATALOG: kinds.KindCatalog = catalog_from_discovery(DISCOVERY)


def wfe_object(
    name: str,
    *,
    target: str = TARGET,
    status: WorkflowExecutionStatus | None = None,
    finalized: bool = False,
    annotations: dict[str, str] | None = None,
    deleting: bool = False,
    created: datetime | None = None,
    **spec_overrides: Any,
) -> KubeObject:
    """A WorkflowExecution as the API server stores it (uid and resourceVersion come from the
    store)."""
    meta: dict[str, Any] = {
        "name": name,
        "namespace": NS,
        "creationTimestamp": format_time(created or NOW - timedelta(minutes=2)),
    }
    if finalized:
        meta["finalizers"] = [FINALIZER]
    if annotations:
        meta["annotations"] = dict(annotations)
    if deleting:
        meta["deletionTimestamp"] = format_time(NOW - timedelta(seconds=1))
    obj: KubeObject = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": meta,
        "spec": spec(target, **spec_overrides),
    }
    if status is not None:
        # As the controller writes it: with the conditions its phase calls for.
        obj["status"] = conditions.settle(status, now=created or NOW).to_wire()
    return obj


def lock_for(wfe: KubeObject, *, policy: Policy = POLICY) -> KubeObject:
    """The lock PipelineRun the controller creates for `wfe` (its manifest, no status)."""
    decision = decide.decide(
        decide.Candidate(
            namespace=wfe["metadata"]["namespace"],
            name=wfe["metadata"]["name"],
            uid=wfe["metadata"]["uid"],
            spec=wfe["spec"],
        ),
        [],
        now=NOW,
        policy=policy,
        kinds=CATALOG,
    )
    assert isinstance(decision, decide.Run), decision
    return pipelinerun.build_pipeline_run(
        decision.valid,
        namespace=wfe["metadata"]["namespace"],
        name=wfe["metadata"]["name"],
        uid=wfe["metadata"]["uid"],
        execution_namespace=policy.execution_namespace,
    )


_TASKS = {"tasks": [{"name": "apply"}, {"name": "verify"}]}


def running_run(pr: KubeObject, *, started: datetime, completed_tasks: int = 1) -> KubeObject:
    """`pr` while Tekton runs it."""
    out = copy.deepcopy(pr)
    out["status"] = {
        "startTime": format_time(started),
        "conditions": [
            {
                "type": "Succeeded",
                "status": "Unknown",
                "reason": "Running",
                "message": f"Tasks Completed: {completed_tasks} (Failed: 0, Cancelled 0), "
                f"Incomplete: {2 - completed_tasks}, Skipped: 0",
            }
        ],
        "pipelineSpec": _TASKS,
    }
    return out


def finished_run(
    pr: KubeObject,
    *,
    succeeded: bool,
    started: datetime,
    completed: datetime,
    reason: str | None = None,
    message: str | None = None,
) -> KubeObject:
    """`pr` once Tekton finished it."""
    out = copy.deepcopy(pr)
    name = out["metadata"]["name"]
    out["status"] = {
        "startTime": format_time(started),
        "completionTime": format_time(completed),
        "conditions": [
            {
                "type": "Succeeded",
                "status": "True" if succeeded else "False",
                "reason": reason or ("Succeeded" if succeeded else "Failed"),
                "message": message
                or (
                    "Tasks Completed: 2 (Failed: 0, Cancelled 0), Skipped: 0"
                    if succeeded
                    else "Tasks Completed: 1 (Failed: 1, Cancelled 0), Skipped: 1"
                ),
            }
        ],
        "childReferences": [
            {"kind": "TaskRun", "name": f"{name}-apply", "pipelineTaskName": "apply"}
        ],
        "pipelineSpec": _TASKS,
    }
    return out


def task_run(
    pr: KubeObject,
    *,
    task: str = "apply",
    owner_uid: str | None = None,
    exit_code: int = 2,
    completed: datetime = NOW,
) -> KubeObject:
    """A failed TaskRun of `pr` (owned by `owner_uid`, default `pr`'s uid): one step that
    ran and exited with `exit_code`."""
    name = pr["metadata"]["name"]
    return {
        "apiVersion": "tekton.dev/v1",
        "kind": "TaskRun",
        "metadata": {
            "name": f"{name}-{task}",
            "namespace": pr["metadata"]["namespace"],
            "labels": {PIPELINE_RUN_LABEL: name, PIPELINE_TASK_LABEL: task},
            "ownerReferences": [
                {
                    "apiVersion": "tekton.dev/v1",
                    "kind": "PipelineRun",
                    "name": name,
                    "uid": owner_uid or pr["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {"taskSpec": {"steps": [{"name": task, "script": "exit 2"}]}},
        "status": {
            "conditions": [
                {
                    "type": "Succeeded",
                    "status": "False",
                    "reason": "Failed",
                    "message": f'"step-{task}" exited with code {exit_code}: Error',
                }
            ],
            "completionTime": format_time(completed),
            "steps": [
                {
                    "name": task,
                    "container": f"step-{task}",
                    "imageID": "registry.example.com/kubectl@sha256:abc",
                    "terminated": {
                        "exitCode": exit_code,
                        "reason": "Error",
                        "startedAt": format_time(completed - timedelta(seconds=5)),
                        "finishedAt": format_time(completed),
                    },
                }
            ],
        },
    }


@dataclass
class World:
    """The reconciler under test and everything around it (see the module docstring)."""

    now: datetime = NOW
    policy: Policy = POLICY
    client: FakeClient = field(init=False)
    metrics: Metrics = field(init=False)
    events: CapturedEvents = field(init=False)
    audit: CapturedAudit = field(init=False)
    wfes: SeededInformer = field(init=False)
    prs: SeededInformer = field(init=False)
    trs: SeededInformer = field(init=False)
    reconciler: Reconciler = field(init=False)
    kind_discovery: KindDiscovery = field(init=False)
    monotonic: float = 0.0

    def __post_init__(self) -> None:
        self.client = FakeClient(clock=lambda: self.now)
        self.metrics = Metrics()
        self.events = CapturedEvents()
        self.audit = CapturedAudit()
        self.wfes = SeededInformer(
            self.client,
            WORKFLOW_EXECUTIONS,
            indexers={TARGET_INDEX: _target_of},
            transform=slim.slim_object,
        )
        self.prs = SeededInformer(
            self.client,
            PIPELINE_RUNS,
            namespace=self.policy.execution_namespace,
            label_selector=f"app.kubernetes.io/managed-by={pipelinerun.MANAGED_BY}",
            transform=slim.slim_pipeline_run,
        )
        self.trs = SeededInformer(
            self.client,
            TASK_RUNS,
            namespace=self.policy.execution_namespace,
            indexers={TASK_RUN_INDEX: _pipeline_run_of},
            transform=slim.slim_task_run,
        )
        self.kind_discovery = KindDiscovery(self.client, monotonic=lambda: self.monotonic)
        self.reconciler = Reconciler(
            client=self.client,
            workflow_executions=self.wfes,
            pipeline_runs=self.prs,
            task_runs=self.trs,
            policy=self.policy,
            recorder=Recorder(metrics=self.metrics, events=self.events, audit=self.audit),
            kind_discovery=self.kind_discovery,
            now=lambda: self.now,
        )

    # --- seeding -------------------------------------------------------------------------------

    def add_wfe(self, name: str, **kw: Any) -> KubeObject:
        """Store a WorkflowExecution (see `wfe_object`); the stored object."""
        return self.client.put(WORKFLOW_EXECUTIONS, wfe_object(name, **kw))

    def add_run(self, pr: KubeObject) -> KubeObject:
        return self.client.put(PIPELINE_RUNS, pr)

    def add_task_run(self, tr: KubeObject) -> KubeObject:
        return self.client.put(TASK_RUNS, tr)

    def sync(self) -> None:
        """Load every cache from the store."""
        for informer in (self.wfes, self.prs, self.trs):
            informer.load()

    # --- acting --------------------------------------------------------------------------------

    async def reconcile(self, name: str, *, sync: bool = True) -> Result:
        """One reconcile of `default/name`; `client.actions` holds its calls alone."""
        if sync:
            self.sync()
        self.client.actions.clear()
        return await self.reconciler.reconcile(f"{NS}/{name}")

    # --- reading -------------------------------------------------------------------------------

    def stored(self, name: str) -> KubeObject | None:
        return self.client.stored(WORKFLOW_EXECUTIONS, NS, name)

    def status(self, name: str) -> dict[str, Any]:
        obj = self.stored(name)
        assert obj is not None, f"{name} is gone"
        return dict(obj.get("status") or {})

    def record(self, name: str) -> history.WfeRecord:
        obj = self.stored(name)
        assert obj is not None, f"{name} is gone"
        return history.record_from_object(obj)

    def lock(self, target: str = TARGET) -> KubeObject | None:
        from wfe.core.lock import lock_name

        return self.client.stored(PIPELINE_RUNS, self.policy.execution_namespace, lock_name(target))

    def error_count(self, category: str, reason: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "workflowexecution_errors_total", {"category": category, "reason": reason}
        )
        return value or 0.0


def assert_released_as_checked(world: World, read: dict[str, Any]) -> None:
    """The lock finalizer came off under the resourceVersion that was checked, then the delete
    named that very object (uid) at the version the patch left."""
    (patch,) = [c for c in world.client.calls("patch") if c.resource == "pipelineruns"]
    assert patch.body == {
        "metadata": {
            "finalizers": [],
            "resourceVersion": read["metadata"]["resourceVersion"],
        }
    }
    (delete,) = world.client.calls("delete")
    assert delete.body["propagationPolicy"] == "Background"
    preconditions = delete.body["preconditions"]
    assert preconditions["uid"] == read["metadata"]["uid"]
    assert preconditions["resourceVersion"] != read["metadata"]["resourceVersion"]
