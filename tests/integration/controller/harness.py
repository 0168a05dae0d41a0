"""A controller under test: the real Controller in-process, the Tekton simulator, helpers.

Each harness gets its own WorkflowExecution namespace and execution namespace, so tests never
see each other's locks. The Tekton simulator (a test double for Tekton's controller, which
cannot run here) plays the PipelineRuns; the scenario is chosen per WorkflowExecution through
its `SIM_SCENARIO` parameter, which the controller passes to the PipelineRun like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubernetes_asyncio.client import ApiClient, CoreV1Api, V1Namespace, V1ObjectMeta

from wfe.config import Settings
from wfe.controller.manager import Controller
from wfe.controller.resources import PIPELINE_RUNS, TASK_RUNS, WORKFLOW_EXECUTIONS
from wfe.core import decide
from wfe.core.kinds import BUILTIN_KINDS, KindCatalog
from wfe.core.lock import lock_name
from wfe.core.policy import Policy
from wfe.dev.eventually import eventually
from wfe.dev.samples import workflow_execution
from wfe.dev.tekton_sim import SimSettings, TektonSimulator
from wfe.kube.client import Client
from wfe.kube.errors import NotFound
from wfe.tekton.pipelinerun import build_pipeline_run

__all__ = ["Harness", "MakeHarness", "new_namespace", "wfe_body"]


async def new_namespace(api: ApiClient, prefix: str) -> str:
    name = f"{prefix}-{secrets.token_hex(4)}"
    await CoreV1Api(api).create_namespace(V1Namespace(metadata=V1ObjectMeta(name=name)))
    return name


def wfe_body(
    name: str,
    target: str,
    *,
    scenario: str = "success",
    workflow_id: str = "restart-pod",
    **spec: Any,
) -> dict[str, Any]:
    params = {"NAMESPACE": "payment", **spec.pop("parameters", {})}
    return workflow_execution(
        name, target, scenario=scenario, workflow_id=workflow_id, parameters=params, **spec
    )


@dataclass
class Harness:
    """One running controller (and simulator) over a pair of fresh namespaces."""

    api: ApiClient
    namespace: str
    exec_namespace: str
    settings: Settings
    client: Client = field(init=False)
    controller: Controller | None = None
    _replicas: list[tuple[Controller, asyncio.Event, asyncio.Task[None]]] = field(
        default_factory=list
    )

    def __post_init__(self) -> None:
        self.client = Client(self.api)

    @staticmethod
    def settings_for(namespace: str, exec_namespace: str, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "metrics_address": "127.0.0.1:0",
            "health_address": "127.0.0.1:0",
            "execution_namespace": exec_namespace,
            "watch_namespace": namespace,
            "leader_election": False,
            "cooldown": "4s",
            "backoff_base": "2s",
            "backoff_max": "8s",
            "workers": 2,
            "log_format": "console",
        }
        values.update(overrides)
        return Settings.model_validate(values)

    async def start_controller(self, **overrides: Any) -> Controller:
        """Start one more controller (settings overridden per replica); wait until it serves."""
        stop = asyncio.Event()
        settings = Settings.model_validate({**self.settings.model_dump(), **overrides})
        controller = Controller(settings, self.client)
        task = asyncio.create_task(controller.run(stop))
        self._replicas.append((controller, stop, task))
        self.controller = controller
        if not settings.leader_election:
            await eventually(lambda: controller.working, 60, message="controller workers started")
        return controller

    async def stop_controller(self, controller: Controller | None = None) -> None:
        """Stop one replica (default: all) the way SIGTERM does."""
        keep = []
        for replica in self._replicas:
            if controller is None or replica[0] is controller:
                replica[1].set()
                with contextlib.suppress(asyncio.CancelledError):
                    await replica[2]
            else:
                keep.append(replica)
        self._replicas = keep
        self.controller = keep[-1][0] if keep else None

    async def start_simulator(self, *, duration: float = 1.0) -> asyncio.Task[None]:
        sim = TektonSimulator(
            self.api,
            self.exec_namespace,
            SimSettings(default_duration=duration, max_wait=0.2, retry_delay=0.2),
        )
        task = asyncio.create_task(sim.run())
        self.sim_task = task
        return task

    async def close(self) -> None:
        await self.stop_controller()
        task = getattr(self, "sim_task", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- objects -------------------------------------------------------------------------------

    def target(self, name: str = "app") -> str:
        return f"{self.namespace}/Deployment/{name}"

    async def create(self, name: str, target: str | None = None, **kw: Any) -> dict[str, Any]:
        body = wfe_body(name, target or self.target(), **kw)
        return await self.client.create(WORKFLOW_EXECUTIONS, self.namespace, body)

    def lock_manifest(self, created: dict[str, Any]) -> dict[str, Any]:
        """The lock PipelineRun the controller would create for WorkflowExecution `created` —
        to stage a crash after the lock create (built by the controller's own functions)."""
        decision = decide.decide(
            decide.Candidate(
                namespace=self.namespace,
                name=created["metadata"]["name"],
                uid=created["metadata"]["uid"],
                spec=created["spec"],
            ),
            [],
            now=datetime.now(UTC),
            policy=Policy(execution_namespace=self.exec_namespace),
            kinds=KindCatalog.of(BUILTIN_KINDS),
        )
        assert isinstance(decision, decide.Run), decision
        return build_pipeline_run(
            decision.valid,
            namespace=self.namespace,
            name=created["metadata"]["name"],
            uid=created["metadata"]["uid"],
            execution_namespace=self.exec_namespace,
        )

    async def get(self, name: str) -> dict[str, Any]:
        return await self.client.get(WORKFLOW_EXECUTIONS, self.namespace, name)

    async def status(self, name: str) -> dict[str, Any]:
        return (await self.get(name)).get("status") or {}

    async def wait_phase(self, name: str, phase: str, timeout: float = 60) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            status = await self.status(name)
            return status if status.get("phase") == phase else None

        return await eventually(check, timeout, message=f"{name} reaches {phase}")

    async def pipeline_run(self, target: str | None = None) -> dict[str, Any] | None:
        try:
            return await self.client.get(
                PIPELINE_RUNS, self.exec_namespace, lock_name(target or self.target())
            )
        except NotFound:
            return None

    async def pipeline_runs(self) -> list[dict[str, Any]]:
        items = (await self.client.list(PIPELINE_RUNS, self.exec_namespace)).get("items", [])
        return list(items)

    async def task_runs(self, pipeline_run: str) -> list[dict[str, Any]]:
        listed = await self.client.list(
            TASK_RUNS, self.exec_namespace, label_selector=f"tekton.dev/pipelineRun={pipeline_run}"
        )
        return list(listed.get("items", []))

    async def has_events(self, name: str, *reasons: str, timeout: float = 10) -> None:
        """Events are written in the background: wait until all `reasons` are there."""

        async def check() -> bool:
            return set(reasons) <= set(await self.events(name))

        await eventually(check, timeout, message=f"events {reasons} on {name}")

    async def events(self, name: str) -> list[str]:
        core = CoreV1Api(self.api)
        listed = await core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}"
        )
        return [e.reason for e in listed.items]


MakeHarness = Callable[..., Awaitable[Harness]]
