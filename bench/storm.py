"""Storm and steady-rate benchmarks on the real local control plane.

    .venv/bin/python -m bench.storm [--wfes 2000] [--targets 50] [--rate 20] [--seconds 30]
                                    [--cached 10000]

Phases, all against one etcd + kube-apiserver started here:

1. ceiling: the API server's raw write rate (ConfigMap creates, same concurrency as the storm).
2. storm: N WorkflowExecutions on M targets created as fast as possible; the controller (in
   this process) and the Tekton simulator (its own process, as Tekton would be) run them.
   Reports decision latency (creation → status phase set, seen by a watch), the time until
   all are terminal, PipelineRuns created, and API writes per WorkflowExecution by outcome,
   counted at the controller's client (Events excluded: they are counted separately).
3. steady: WorkflowExecutions on distinct targets at a fixed rate; p50/p95/p99 latency from
   creation to the PipelineRun's creation (both seen by watches in this process).
4. memory: `wfe run` as its own process with `--cached` WorkflowExecutions in the cluster;
   its peak RSS (VmHWM) once every one is decided.

Numbers go to stdout as a table and JSON (`--json FILE`). Timings are wall clock on whatever
machine runs it: quote them with the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import structlog
from kubernetes_asyncio.client import ApiClient, CoreV1Api, V1Namespace, V1ObjectMeta

from wfe.config import Settings
from wfe.controller.manager import Controller
from wfe.controller.resources import PIPELINE_RUNS, WORKFLOW_EXECUTIONS
from wfe.dev.controlplane import ControlPlane
from wfe.dev.samples import workflow_execution
from wfe.kube.client import Client, KubeObject, Resource
from wfe.kube.informer import Informer
from wfe.observability.logs import configure_logging

CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap")
_CONCURRENCY = 64


class CountingClient(Client):
    """Counts writes per WorkflowExecution (the reconcile binds `wfe` in the log context)."""

    def __init__(self, api: ApiClient) -> None:
        super().__init__(api)
        self.per_wfe: dict[str, Counter[str]] = defaultdict(Counter)

    def _count(self, verb: str) -> None:
        key = structlog.contextvars.get_contextvars().get("wfe")
        if key:
            self.per_wfe[str(key)][verb] += 1

    async def create(self, res: Resource, namespace: str | None, body: KubeObject) -> KubeObject:
        self._count("create")
        return await super().create(res, namespace, body)

    async def delete(self, res: Resource, namespace: str | None, name: str, **kw: Any) -> None:
        self._count("delete")
        await super().delete(res, namespace, name, **kw)

    async def patch(
        self, res: Resource, namespace: str | None, name: str, patch: Any
    ) -> KubeObject:
        self._count("patch")
        return await super().patch(res, namespace, name, patch)

    async def patch_status(
        self, res: Resource, namespace: str | None, name: str, patch: Any
    ) -> KubeObject:
        self._count("patch_status")
        return await super().patch_status(res, namespace, name, patch)

    async def create_event(self, namespace: str, body: KubeObject) -> None:
        self._count("event")
        await super().create_event(namespace, body)


def simulator(cp: ControlPlane, namespace: str) -> subprocess.Popen[bytes]:
    """The Tekton simulator in its own process, as Tekton would be: not on our event loop."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wfe.dev.tekton_sim",
            "--kubeconfig",
            str(cp.admin_kubeconfig),
            "--namespace",
            namespace,
            "--duration",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wfe(name: str, target: str) -> dict[str, Any]:
    return workflow_execution(name, target)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def namespace(api: ApiClient, name: str) -> str:
    with contextlib.suppress(Exception):
        await CoreV1Api(api).create_namespace(V1Namespace(metadata=V1ObjectMeta(name=name)))
    return name


async def bounded(coros: list[Any]) -> list[Any]:
    sem = asyncio.Semaphore(_CONCURRENCY)

    async def one(c: Any) -> Any:
        async with sem:
            return await c

    return await asyncio.gather(*(one(c) for c in coros))


async def ceiling(client: Client, ns: str, n: int) -> float:
    started = time.monotonic()
    await bounded(
        [
            client.create(CONFIGMAPS, ns, {"metadata": {"name": f"c{i}"}, "data": {"k": "v"}})
            for i in range(n)
        ]
    )
    return n / (time.monotonic() - started)


class Watcher:
    """Records when each WorkflowExecution got a phase and each PipelineRun appeared."""

    def __init__(self, client: Client, wfe_ns: str, exec_ns: str) -> None:
        self.client, self.wfe_ns, self.exec_ns = client, wfe_ns, exec_ns
        self.decided: dict[str, float] = {}
        self.phase: dict[str, str] = {}
        self.pr_seen: dict[str, float] = {}
        self.pr_owner: dict[str, str] = {}

    def _on_wfe(self, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        phase = (obj.get("status") or {}).get("phase")
        if phase:
            self.decided.setdefault(name, time.monotonic())
            self.phase[name] = phase

    def _on_pr(self, obj: dict[str, Any]) -> None:
        owner = obj["metadata"].get("labels", {}).get("kubernaut.ai/workflow-execution")
        if owner:
            self.pr_seen.setdefault(owner, time.monotonic())

    async def run(self) -> None:
        # The project's informer: it retries what a fresh CRD answers (429 while its watch
        # cache initialises) and resumes watches.
        wfes = Informer(self.client, WORKFLOW_EXECUTIONS, namespace=self.wfe_ns)
        prs = Informer(self.client, PIPELINE_RUNS, namespace=self.exec_ns)
        wfes.add_handler(lambda _t, obj, _old: self._on_wfe(obj))
        prs.add_handler(lambda _t, obj, _old: self._on_pr(obj))
        async with asyncio.TaskGroup() as group:
            group.create_task(wfes.run())
            group.create_task(prs.run())


@contextlib.asynccontextmanager
async def stage(
    cp: ControlPlane, api: ApiClient, name: str, client: Client, **settings: Any
) -> AsyncIterator[Watcher]:
    """A controller (in this process), the simulator (its own) and a watcher over a fresh pair
    of namespaces; everything stopped on exit."""
    wfe_ns = await namespace(api, f"bench-{name}")
    exec_ns = await namespace(api, f"bench-{name}-exec")
    values: dict[str, Any] = {
        "metrics_address": "127.0.0.1:0",
        "health_address": "127.0.0.1:0",
        "execution_namespace": exec_ns,
        "watch_namespace": wfe_ns,
        "leader_election": False,
        "log_level": "error",
        **settings,
    }
    watcher = Watcher(Client(api), wfe_ns, exec_ns)
    sim = simulator(cp, exec_ns)
    controller = Controller(Settings.model_validate(values), client)
    stop = asyncio.Event()
    watching = asyncio.create_task(watcher.run())
    running = asyncio.create_task(controller.run(stop))
    try:
        while not controller.working:
            await asyncio.sleep(0.05)
        yield watcher
    finally:
        stop.set()
        sim.terminate()
        sim.wait(30)
        watching.cancel()
        for task in (watching, running):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def storm(cp: ControlPlane, api: ApiClient, args: argparse.Namespace) -> dict[str, Any]:
    client = CountingClient(api)
    user = Client(api)
    async with stage(cp, api, "storm", client, cooldown="30s", workers=args.workers) as watcher:
        return await _storm(client, user, watcher, args)


async def _storm(
    client: CountingClient, user: Client, watcher: Watcher, args: argparse.Namespace
) -> dict[str, Any]:
    wfe_ns, exec_ns = watcher.wfe_ns, watcher.exec_ns
    created: dict[str, float] = {}

    async def make(i: int) -> None:
        name = f"s{i:05d}"
        target = f"payment/Deployment/app-{i % args.targets}"
        t0 = time.monotonic()
        await user.create(WORKFLOW_EXECUTIONS, wfe_ns, wfe(name, target))
        created[name] = t0

    started = time.monotonic()
    await bounded([make(i) for i in range(args.wfes)])
    created_in = time.monotonic() - started
    terminal = {"Completed", "Skipped", "Failed"}
    while sum(1 for n in created if watcher.phase.get(n) in terminal) < args.wfes:
        if time.monotonic() - started > args.timeout:
            print("storm: timed out; watcher saw", Counter(watcher.phase.values()), flush=True)
            break
        await asyncio.sleep(0.1)
    all_terminal = time.monotonic() - started
    decision = [watcher.decided[n] - created[n] for n in created if n in watcher.decided]
    prs = len((await user.list(PIPELINE_RUNS, exec_ns))["items"])
    outcomes = Counter(watcher.phase.values())
    # Wait for the winners' locks to be released (cooldown 30 s) to count whole lifecycles.
    per_outcome: dict[str, list[int]] = defaultdict(list)
    release_deadline = time.monotonic() + 60
    while time.monotonic() < release_deadline:
        released = sum(
            1
            for n, p in watcher.phase.items()
            if p == "Completed" and client.per_wfe[f"{wfe_ns}/{n}"]["delete"]
        )
        if released >= outcomes["Completed"]:
            break
        await asyncio.sleep(0.5)
    for name, phase in watcher.phase.items():
        writes = client.per_wfe[f"{wfe_ns}/{name}"]
        per_outcome[phase].append(sum(v for k, v in writes.items() if k != "event"))
    return {
        "wfes": args.wfes,
        "targets": args.targets,
        "created_in_s": round(created_in, 2),
        "all_terminal_s": round(all_terminal, 2),
        "lifecycles_per_s": round(args.wfes / all_terminal, 1),
        "pipelineruns": prs,
        "outcomes": dict(outcomes),
        "decision_latency_ms": {
            "p50": round(pct(decision, 0.5) * 1000, 1),
            "p95": round(pct(decision, 0.95) * 1000, 1),
            "p99": round(pct(decision, 0.99) * 1000, 1),
        },
        "writes_per_wfe": {
            k: {"mean": round(statistics.mean(v), 2), "max": max(v)} for k, v in per_outcome.items()
        },
    }


async def steady(cp: ControlPlane, api: ApiClient, args: argparse.Namespace) -> dict[str, Any]:
    async with stage(cp, api, "steady", Client(api), workers=args.workers) as watcher:
        return await _steady(Client(api), watcher, args)


async def _steady(client: Client, watcher: Watcher, args: argparse.Namespace) -> dict[str, Any]:
    wfe_ns = watcher.wfe_ns
    created: dict[str, float] = {}
    total = int(args.rate * args.seconds)
    started = time.monotonic()
    pending = []
    for i in range(total):
        due = started + i / args.rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        name = f"r{i:05d}"
        created[name] = time.monotonic()
        pending.append(
            asyncio.create_task(
                client.create(WORKFLOW_EXECUTIONS, wfe_ns, wfe(name, f"steady/Deployment/t{i}"))
            )
        )
    await asyncio.gather(*pending)
    deadline = time.monotonic() + 30
    while len(watcher.pr_seen) < total and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    latency = [watcher.pr_seen[n] - created[n] for n in created if n in watcher.pr_seen]
    return {
        "rate_per_s": args.rate,
        "wfes": total,
        "pipelineruns_seen": len(latency),
        "create_to_pipelinerun_ms": {
            "p50": round(pct(latency, 0.5) * 1000, 1),
            "p95": round(pct(latency, 0.95) * 1000, 1),
            "p99": round(pct(latency, 0.99) * 1000, 1),
        },
    }


async def memory(cp: ControlPlane, api: ApiClient, args: argparse.Namespace) -> dict[str, Any]:
    wfe_ns = await namespace(api, "bench-memory")
    exec_ns = await namespace(api, "kubernaut-workflows")
    client = Client(api)
    started = time.monotonic()
    await bounded(
        [
            client.create(
                WORKFLOW_EXECUTIONS, wfe_ns, wfe(f"m{i:05d}", f"mem/Deployment/t{i % 500}")
            )
            for i in range(args.cached)
        ]
    )
    created_in = time.monotonic() - started
    env = {**os.environ, "WFE_LOG_LEVEL": "error", "WFE_EXECUTION_NAMESPACE": exec_ns}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wfe",
            "run",
            "--kubeconfig",
            str(cp.admin_kubeconfig),
            "--no-leader-election",
            "--metrics-address",
            "127.0.0.1:0",
            "--health-address",
            "127.0.0.1:0",
            "--watch-namespace",
            wfe_ns,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        decided_by = time.monotonic() + 600
        while time.monotonic() < decided_by:
            listed = await client.list(WORKFLOW_EXECUTIONS, wfe_ns)
            undecided = sum(1 for o in listed["items"] if not (o.get("status") or {}).get("phase"))
            if undecided == 0:
                break
            await asyncio.sleep(2)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        hwm_kb = int(fields["VmHWM"].split()[0])
        rss_kb = int(fields["VmRSS"].split()[0])
    finally:
        proc.terminate()
        proc.wait(30)
    return {
        "cached_wfes": args.cached,
        "created_in_s": round(created_in, 1),
        "decided_in_s": round(time.monotonic() - started - created_in, 1),
        "peak_rss_mb": round(hwm_kb / 1024, 1),
        "rss_mb": round(rss_kb / 1024, 1),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging("error", "console")
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}}
    async with ControlPlane() as cp:
        api = await cp.api_client()
        async with api:
            ns = await namespace(api, "bench-ceiling")
            results["ceiling_writes_per_s"] = round(await ceiling(Client(api), ns, 2000), 1)
            print("ceiling", results["ceiling_writes_per_s"], flush=True)
            if "storm" in args.phases:
                results["storm"] = await storm(cp, api, args)
                print("storm", json.dumps(results["storm"]), flush=True)
            if "steady" in args.phases:
                results["steady"] = await steady(cp, api, args)
                print("steady", json.dumps(results["steady"]), flush=True)
            if "memory" in args.phases:
                results["memory"] = await memory(cp, api, args)
                print("memory", json.dumps(results["memory"]), flush=True)
    return results


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wfes", type=int, default=2000)
    parser.add_argument("--targets", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--cached", type=int, default=10_000)
    parser.add_argument("--phases", default="storm,steady,memory")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    results = asyncio.run(main(args))
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    cli()
