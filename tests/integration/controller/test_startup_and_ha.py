"""SPEC §9: the start-up Tekton check, readiness, and leader election across replicas."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
from harness import MakeHarness
from kubernetes_asyncio.client import ApiClient, CoordinationV1Api
from kubernetes_asyncio.client.exceptions import ApiException

from wfe.dev.controlplane import ControlPlane
from wfe.dev.eventually import eventually
from wfe.dev.testbin import Testbin


async def test_exits_non_zero_with_the_runbook_message_without_tekton(testbin: Testbin) -> None:
    async with ControlPlane(testbin=testbin, install_crds=False) as bare:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "wfe",
            "run",
            "--kubeconfig",
            str(bare.admin_kubeconfig),
            "--no-leader-election",
            "--metrics-address",
            "127.0.0.1:0",
            "--health-address",
            "127.0.0.1:0",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "WFE_LOG_FORMAT": "json"},
        )
        _out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert "Required dependency check failed: Tekton Pipelines not available" in err.decode()


async def test_readiness_and_metrics_endpoints(harness: MakeHarness) -> None:
    h = await harness()
    assert h.controller is not None
    async with aiohttp.ClientSession() as http:
        ready = await http.get(f"http://127.0.0.1:{h.controller.probe_server.port}/readyz")
        assert ready.status == 200
        health = await http.get(f"http://127.0.0.1:{h.controller.probe_server.port}/healthz")
        assert health.status == 200
        scrape = await (
            await http.get(f"http://127.0.0.1:{h.controller.metrics_server.port}/metrics")
        ).text()
    assert 'workflowexecution_phase_transitions_total{phase="Pending"}' in scrape
    assert "workflowexecution_leader 1.0" in scrape
    assert "_created" not in scrape


async def test_only_the_leader_acts_and_a_standby_takes_over(harness: MakeHarness) -> None:
    h = await harness(leader_election=False)
    await h.stop_controller()
    lease = {
        "leader_election": True,
        "lease_namespace": h.exec_namespace,
        "lease_duration": "4s",
        "renew_deadline": "3s",
        "retry_period": "0.5s",
    }
    first = await h.start_controller(**lease)
    second = await h.start_controller(**lease)
    leaders = await eventually(
        lambda: [c for c in (first, second) if c.leading] or None, 20, message="a leader"
    )
    assert len(leaders) == 1
    leader = leaders[0]
    standby = second if leader is first else first
    await asyncio.sleep(1)
    assert not standby.leading
    # A warm standby: its caches are synced, but it runs no workers and queues nothing.
    assert standby.wfes is not None
    assert standby.wfes.synced
    assert not standby.working
    assert standby.queue is None

    await h.create("under-leader")
    await h.wait_phase("under-leader", "Completed")

    await h.stop_controller(leader)  # graceful: releases the Lease
    await eventually(lambda: standby.leading, 20, message="standby takes over")
    await eventually(lambda: standby.working, 5, message="its workers start on warm caches")
    await h.create("under-new-leader", target=h.target("other"))
    await h.wait_phase("under-new-leader", "Completed")


async def test_sigterm_stops_gracefully_and_releases_the_lease(
    admin_kubeconfig: Path, api_client: ApiClient, namespace: str
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wfe",
        "run",
        "--kubeconfig",
        str(admin_kubeconfig),
        "--metrics-address",
        "127.0.0.1:0",
        "--health-address",
        "127.0.0.1:0",
        "--watch-namespace",
        namespace,
        "--set",
        f"lease_namespace={namespace}",
        "--set",
        f"execution_namespace={namespace}",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    leases = CoordinationV1Api(api_client)

    async def held() -> str | None:
        try:
            lease = await leases.read_namespaced_lease("workflowexecution.kubernaut.ai", namespace)
        except ApiException:
            return None
        return lease.spec.holder_identity or None

    holder = await eventually(held, 30, message="the controller takes the Lease")
    assert holder
    proc.send_signal(signal.SIGTERM)
    _out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert await held() is None, "the Lease is released on graceful shutdown"
