"""`wfe explain` and `wfe locks`, the real command, against the real API server and controller."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import Harness, MakeHarness


def _wfe(h: Harness, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    settings = [
        f"--set=execution_namespace={h.exec_namespace}",
        f"--set=watch_namespace={h.namespace}",
        f"--set=cooldown={h.settings.cooldown.total_seconds()}s",
    ]
    return subprocess.run(
        [sys.executable, "-m", "wfe", *args, "--kubeconfig", str(kubeconfig), *settings],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


async def wfe_json(h: Harness, kubeconfig: Path, *args: str) -> Any:
    result = await asyncio.to_thread(_wfe, h, kubeconfig, *args, "-o", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def test_explain_a_skipped_and_a_blocked_workflowexecution(
    harness: MakeHarness, admin_kubeconfig: Path
) -> None:
    h = await harness(duration=3.0)
    await h.create("first", scenario="success")
    await h.wait_phase("first", "Running")
    await h.create("second")
    await h.wait_phase("second", "Skipped")

    skipped = await wfe_json(h, admin_kubeconfig, "explain", "second", "-n", h.namespace)
    assert skipped["recorded"].startswith("ResourceBusy")
    assert skipped["lock"]["holder"] == f"{h.namespace}/first"

    crash = h.target("crash")
    await h.create("crash", crash, scenario="task_failed_exit_code")
    await h.wait_phase("crash", "Failed")
    blocked = await wfe_json(h, admin_kubeconfig, "explain", "--target", crash, "-n", h.namespace)
    assert (blocked["decision"], blocked["rule"]) == ("Skip", "PreviousExecutionFailed")
    assert blocked["allowed"] == "never without a clearance"
    assert blocked["clear_command"] == f'wfe clear-block crash -n {h.namespace} --reason "..."'

    rows = await wfe_json(h, admin_kubeconfig, "locks")
    by_target = {r["target"]: r for r in rows}
    assert by_target[crash]["state"] == "blocked"
    assert by_target[crash]["blocked_by"] == f"{h.namespace}/crash"

    missing = await asyncio.to_thread(
        _wfe, h, admin_kubeconfig, "explain", "nope", "-n", h.namespace
    )
    assert missing.returncode == 1
    assert missing.stderr.strip().startswith(
        f"error: workflowexecution {h.namespace}/nope not found"
    )
