"""The runbook's shell blocks: valid shell, and every kubectl subcommand and flag accepted.

Blocks that need a real cluster cannot run here; `kubectl ARGS --help` makes kubectl parse the
subcommand and every flag exactly as written and then print help instead of acting, so a
misspelt flag or subcommand fails this test. Blocks that can run are run for real by
tests/integration/monitoring/test_runbooks.py.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monitoring import runbooks

BLOCKS = [b for b in runbooks.blocks() if b.info.split()[0] == "bash"]
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"
_TWO_LEVEL = {"rollout", "auth", "config", "set", "top", "create", "certificate"}


def test_every_bash_block_is_marked_local_or_cluster() -> None:
    unmarked = [b.text for b in BLOCKS if b.where is None]
    # Only the block that tells the reader to fill in the alert's labels.
    assert len(unmarked) == 1
    assert "<namespace label of the alert>" in unmarked[0]
    ids = [b.id for b in BLOCKS if b.id is not None]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.id or "placeholders")
def test_block_is_valid_bash(block: runbooks.Block) -> None:
    result = subprocess.run(
        ["bash", "-n"], input=block.text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def _help(args: list[str]) -> subprocess.CompletedProcess[str]:
    if "--" in args:
        cut = args.index("--")
        args = [*args[:cut], "--help", *args[cut:]]
    else:
        args = [*args, "--help"]
    return subprocess.run(
        [KUBECTL, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": "/usr/bin:/bin", "KUBECONFIG": "/nonexistent", "HOME": "/nonexistent"},
    )


@pytest.mark.parametrize(
    "args",
    [c for b in BLOCKS if b.where is not None for c in runbooks.kubectl_commands(b.text)],
    ids=lambda a: " ".join(a)[:60],
)
def test_kubectl_accepts_subcommand_and_flags(args: list[str]) -> None:
    result = _help(args)
    assert result.returncode == 0, result.stderr
    path = args[:2] if args[0] in _TWO_LEVEL else args[:1]
    usage = result.stdout.split("Usage:", 1)[-1].split("\n\n", 1)[0]
    assert f"kubectl {' '.join(path)}" in usage, result.stdout[:400]


def test_the_check_catches_a_wrong_flag_or_subcommand() -> None:
    assert _help(["logs", "-n", "x", "deploy/y", "--sincee=1m"]).returncode != 0
    wrong = _help(["rollout", "undoo", "deployment/x"])
    assert "kubectl rollout undoo" not in wrong.stdout.split("Usage:", 1)[-1]


def test_kubectl_commands_are_found_in_pipes_and_substitutions() -> None:
    script = 'A=$(kubectl get x -o name) && kubectl logs "$A" | grep y # kubectl no\n'
    assert runbooks.kubectl_commands(script) == [["logs", "$A"], ["get", "x", "-o", "name"]]
