"""Conditions a tool can wait on, with real kubectl (docs/api.md, "Conditions")."""

from __future__ import annotations

from pathlib import Path

from harness import MakeHarness
from kubectl_runner import run_kubectl


async def test_kubectl_wait_for_ready_returns_once_settled(
    harness: MakeHarness, admin_kubeconfig: Path
) -> None:
    h = await harness(duration=2)
    await h.create("waited")
    code, out = await run_kubectl(
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
    code, out = await run_kubectl(admin_kubeconfig, "get", "wfe", "-n", h.namespace, "-o", "wide")
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
    code, out = await run_kubectl(
        admin_kubeconfig, "wait", "-n", h.namespace, "--for=condition=Ready", "wfe/late"
    )
    assert code == 0, out
    ready = {c["type"]: c for c in (await h.status("late"))["conditions"]}["Ready"]
    assert ready["reason"] == "Skipped"
    assert ready["message"].startswith("ResourceBusy: ")
