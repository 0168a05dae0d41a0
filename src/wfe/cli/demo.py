"""`wfe demo`: the controller on a real local control plane, through a scripted incident.

An alert storm (many WorkflowExecutions on a few targets at once), a remediation that fails
after running (OOMKilled), a cooldown that expires, a block and its audited clearance. Each step
states what must happen; the demo checks it against the cluster and exits non-zero if the
controller did anything else. At the end it prints the outcomes, key metrics and API writes.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from prometheus_client import generate_latest
from rich.console import Console
from rich.table import Table

from wfe.cli.stack import Stack, local_stack
from wfe.controller.resources import PIPELINE_RUNS, WORKFLOW_EXECUTIONS
from wfe.dev.samples import workflow_execution
from wfe.kube.client import Client

__all__ = ["run_demo"]

NAMESPACE = "default"
TARGETS = [f"payment/Deployment/api-{i}" for i in range(3)]
OOM_TARGET = "payment/Deployment/ledger"


def _wfe(name: str, target: str, scenario: str = "success") -> dict[str, Any]:
    return workflow_execution(name, target, scenario=scenario, confidence=0.9, rationale="demo")


class _Demo:
    def __init__(self, stack: Stack, console: Console) -> None:
        self.s = stack
        # The demo's own writes go through their own client: the summary counts the
        # controller's writes only.
        self.user = Client(stack.api)
        self.console = console
        self.failures: list[str] = []

    async def create(self, name: str, target: str, scenario: str = "success") -> None:
        await self.user.create(WORKFLOW_EXECUTIONS, NAMESPACE, _wfe(name, target, scenario))

    async def status(self, name: str) -> dict[str, Any]:
        obj = await self.user.get(WORKFLOW_EXECUTIONS, NAMESPACE, name)
        return dict(obj.get("status") or {})

    async def wait(self, name: str, *phases: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = await self.status(name)
            if status.get("phase") in phases:
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not reach {phases} (now {status.get('phase')})")
            await asyncio.sleep(0.2)

    def check(self, ok: bool, what: str) -> None:
        mark = "[green]✔[/green]" if ok else "[red]✘[/red]"
        self.console.print(f"  {mark} {what}")
        if not ok:
            self.failures.append(what)

    async def storm(self) -> None:
        self.console.rule("1. Alert storm: 30 WorkflowExecutions on 3 targets at once")
        names = [f"storm-{i:02d}" for i in range(30)]
        started = time.monotonic()
        await asyncio.gather(*(self.create(n, TARGETS[i % 3]) for i, n in enumerate(names)))
        phases: Counter[str] = Counter()
        for name in names:
            phases[(await self.wait(name, "Running", "Skipped", "Completed"))["phase"]] += 1
        took = time.monotonic() - started
        runs = (await self.user.list(PIPELINE_RUNS, self.s.settings.execution_namespace))["items"]
        self.check(len(runs) == 3, f"exactly one PipelineRun per target ({len(runs)} for 3)")
        self.check(phases["Skipped"] == 27, f"27 skipped as ResourceBusy ({dict(phases)})")
        self.console.print(f"  all 30 decided in {took:.2f} s")
        for name in names:
            await self.wait(name, "Completed", "Skipped")

    async def cooldown(self) -> None:
        self.console.rule("2. Cooldown: the same target again right after a fix")
        await self.create("again-0", TARGETS[0])
        status = await self.wait("again-0", "Skipped", "Running")
        reason = (status.get("skipDetails") or {}).get("reason")
        remaining = ((status.get("skipDetails") or {}).get("recentRemediation") or {}).get(
            "cooldownRemaining"
        )
        self.check(reason == "RecentlyRemediated", f"skipped: {reason}, {remaining} left")

    async def failure(self) -> None:
        self.console.rule("3. A remediation that runs and fails (OOMKilled)")
        await self.create("ledger-fix", OOM_TARGET, scenario="step_oomkilled")
        status = await self.wait("ledger-fix", "Failed", "Completed")
        details = status.get("failureDetails") or {}
        self.check(details.get("reason") == "OOMKilled", f"failure reason {details.get('reason')}")
        self.check(details.get("wasExecutionFailure") is True, "marked as a failure that ran")
        self.console.print(f"  [dim]{details.get('naturalLanguageSummary')}[/dim]")

    async def expiry(self) -> None:
        self.console.rule("4. The cooldown expires: the lock is released, the target runs again")
        storm_winner = ""
        for n in (f"storm-{i:02d}" for i in range(0, 30, 3)):  # the storm on TARGETS[0]
            if (await self.status(n)).get("phase") == "Completed":
                storm_winner = n
        deadline = time.monotonic() + 60
        while "lockReleasedAt" not in await self.status(storm_winner):
            if time.monotonic() > deadline:
                raise TimeoutError("lock not released")
            await asyncio.sleep(0.2)
        self.check(True, f"{storm_winner} released its lock after the cooldown")
        await self.create("after-cooldown", TARGETS[0])
        status = await self.wait("after-cooldown", "Completed", "Skipped", "Failed")
        self.check(status.get("phase") == "Completed", f"new remediation {status.get('phase')}")

    async def block(self) -> None:
        self.console.rule("5. The failed target is blocked until a person clears it")
        deadline = time.monotonic() + 60
        while "lockReleasedAt" not in await self.status("ledger-fix"):
            if time.monotonic() > deadline:
                raise TimeoutError("lock not released")
            await asyncio.sleep(0.2)
        await self.create("ledger-retry", OOM_TARGET)
        status = await self.wait("ledger-retry", "Skipped", "Running", "Completed")
        reason = (status.get("skipDetails") or {}).get("reason")
        self.check(reason == "PreviousExecutionFailed", f"skipped: {reason}")
        await self.user.patch(
            WORKFLOW_EXECUTIONS,
            NAMESPACE,
            "ledger-fix",
            {
                "metadata": {
                    "annotations": {
                        "kubernaut.ai/clear-block": "memory limit raised after review",
                        "kubernaut.ai/cleared-by": "on-call",
                    }
                }
            },
        )
        deadline = time.monotonic() + 30
        while "blockClearance" not in await self.status("ledger-fix"):
            if time.monotonic() > deadline:
                raise TimeoutError("block not cleared")
            await asyncio.sleep(0.2)
        self.check(True, "block cleared by on-call (status.blockClearance, event, audit)")
        await self.create("ledger-retry-2", OOM_TARGET)
        status = await self.wait("ledger-retry-2", "Completed", "Skipped", "Failed")
        self.check(status.get("phase") == "Completed", f"after clearance: {status.get('phase')}")

    def summary(self) -> None:
        self.console.rule("Summary")
        text = generate_latest(self.s.controller.metrics.registry).decode()
        table = Table("metric", "value")
        for line in text.splitlines():
            if line.startswith(
                (
                    "workflowexecution_phase_transitions_total",
                    "workflowexecution_skip_total",
                    "workflowexecution_pipelinerun_creation_total",
                    "workflowexecution_errors_total",
                )
            ) and not line.endswith(" 0.0"):
                name, _, value = line.rpartition(" ")
                table.add_row(name, value)
        self.console.print(table)
        writes = self.s.client.writes
        self.console.print(
            "API writes by the controller: "
            + ", ".join(f"{verb}={count}" for verb, count in sorted(writes.items()))
        )


async def run_demo(console: Console | None = None) -> int:
    """Run the scripted demo; 0 when every expectation held."""
    console = console or Console()
    console.print("[bold]Starting a local control plane, the Tekton simulator and the controller…")
    async with local_stack(sim_duration=2.0, cooldown="8s", workers=4) as stack:
        console.print(f"kubeconfig: {stack.control_plane.admin_kubeconfig}")
        demo = _Demo(stack, console)
        for step in (demo.storm, demo.cooldown, demo.failure, demo.expiry, demo.block):
            await step()
        demo.summary()
    if demo.failures:
        console.print(f"[red]Demo failed: {len(demo.failures)} expectation(s) not met.")
        return 1
    console.print("[green bold]Demo finished: every safety rule held.")
    return 0
