"""The product: the lock, cooldown, backoff and block rules of SPEC §3-§4, on the real API."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from harness import MakeHarness, wfe_body

from wfe.controller.resources import PIPELINE_RUNS, WORKFLOW_EXECUTIONS
from wfe.core.lock import lock_name
from wfe.dev.eventually import eventually


async def test_resource_busy_while_running(harness: MakeHarness) -> None:
    h = await harness(duration=20)
    await h.create("first")
    await h.wait_phase("first", "Running")
    await h.create("second", workflow_id="scale-up")
    skipped = await h.wait_phase("second", "Skipped")
    assert skipped["skipDetails"]["reason"] == "ResourceBusy"
    assert skipped["skipDetails"]["conflictingWorkflow"]["name"] == "first"
    second = await h.get("second")
    assert "finalizers" not in second["metadata"]  # a Skipped WFE gets no finalizer
    assert len(await h.pipeline_runs()) == 1


async def test_simultaneous_creates_make_exactly_one_pipeline_run(harness: MakeHarness) -> None:
    h = await harness(duration=20, workers=4)
    names = [f"storm-{i}" for i in range(8)]
    await asyncio.gather(*(h.create(n) for n in names))

    async def all_decided() -> list[str] | None:
        phases = [(await h.status(n)).get("phase") for n in names]
        return phases if all(phases) else None

    phases = await eventually(all_decided, 30)
    assert sorted(phases).count("Running") == 1
    assert sorted(phases).count("Skipped") == 7
    assert len(await h.pipeline_runs()) == 1


async def test_cooldown_skips_then_lock_released_lets_the_next_run(harness: MakeHarness) -> None:
    h = await harness(cooldown="4s")
    await h.create("a")
    await h.wait_phase("a", "Completed")
    await h.create("b", workflow_id="other-workflow")
    skipped = await h.wait_phase("b", "Skipped")
    assert skipped["skipDetails"]["reason"] == "RecentlyRemediated"
    assert skipped["skipDetails"]["recentRemediation"]["name"] == "a"
    assert skipped["skipDetails"]["recentRemediation"]["cooldownRemaining"].endswith("s")
    await eventually(lambda: h.status("a"), 1)

    async def released() -> bool:
        return "lockReleasedAt" in await h.status("a")

    await eventually(released, 20)
    await h.create("c")
    await h.wait_phase("c", "Completed")  # it ran


async def test_adopts_its_own_pipeline_run_after_a_lost_status_write(harness: MakeHarness) -> None:
    h = await harness(duration=2)
    # The WFE exists but the controller "crashed" after creating its PipelineRun: stop the
    # controller, create both objects as it would have, then start it again.
    await h.stop_controller()
    created = await h.client.create(
        WORKFLOW_EXECUTIONS, h.namespace, wfe_body("adoptee", h.target())
    )
    manifest = h.lock_manifest(created)
    pr = await h.client.create(PIPELINE_RUNS, h.exec_namespace, manifest)
    await h.start_controller()
    await h.wait_phase("adoptee", "Completed")
    after = await h.pipeline_run()
    assert after is not None
    assert after["metadata"]["uid"] == pr["metadata"]["uid"]  # adopted, not recreated


async def test_stale_lock_of_a_vanished_owner_is_released_and_audited(
    harness: MakeHarness,
) -> None:
    h = await harness(duration=1, cooldown="1h")
    await h.create("gone")
    await h.wait_phase("gone", "Completed")
    # The owner disappears without cleanup (as if its finalizer had been removed by hand).
    await h.stop_controller()
    await h.client.patch(
        WORKFLOW_EXECUTIONS, h.namespace, "gone", {"metadata": {"finalizers": None}}
    )
    await h.client.delete(WORKFLOW_EXECUTIONS, h.namespace, "gone")
    stale = await h.pipeline_run()
    assert stale is not None
    await h.start_controller()
    await h.create("next")
    await h.wait_phase("next", "Completed")  # it ran (its lock is held for the 1 h cooldown)
    fresh = await h.pipeline_run()
    assert fresh is not None
    assert fresh["metadata"]["uid"] != stale["metadata"]["uid"]
    await h.has_events("next", "StaleLockReleased")


async def test_skipped_wfe_never_deletes_another_wfes_pipeline_run(harness: MakeHarness) -> None:
    h = await harness(duration=6)
    await h.create("holder")
    await h.wait_phase("holder", "Running")
    pr = await h.pipeline_run()
    assert pr is not None
    await h.create("loser")
    await h.wait_phase("loser", "Skipped")
    await h.client.delete(WORKFLOW_EXECUTIONS, h.namespace, "loser")
    await asyncio.sleep(1)
    still = await h.pipeline_run()
    assert still is not None
    assert still["metadata"]["uid"] == pr["metadata"]["uid"]
    await h.wait_phase("holder", "Completed")


async def test_backoff_then_exhausted_retries_then_clearance(harness: MakeHarness) -> None:
    h = await harness(
        backoff_base="1s", backoff_max="2s", max_consecutive_failures=2, cooldown="1s"
    )
    await h.create("pull-1", scenario="image_pull_backoff")
    first = await h.wait_phase("pull-1", "Failed")
    assert first["consecutiveFailures"] == 1
    assert first["failureDetails"]["wasExecutionFailure"] is False
    await h.create("pull-2", scenario="image_pull_backoff")
    early = await h.wait_phase("pull-2", "Skipped")
    assert early["skipDetails"]["reason"] == "RecentlyRemediated"

    async def backoff_over() -> bool:
        return "lockReleasedAt" in await h.status("pull-1")

    await eventually(backoff_over, 20)
    await h.create("pull-3", scenario="image_pull_backoff")
    third = await h.wait_phase("pull-3", "Failed")
    assert third["consecutiveFailures"] == 2  # carried across WorkflowExecutions

    await eventually(lambda: _released(h, "pull-3"), 20)
    await h.create("pull-4")
    exhausted = await h.wait_phase("pull-4", "Skipped")
    assert exhausted["skipDetails"]["reason"] == "ExhaustedRetries"

    await h.client.patch(
        WORKFLOW_EXECUTIONS,
        h.namespace,
        "pull-3",
        {
            "metadata": {
                "annotations": {
                    "kubernaut.ai/clear-block": "registry fixed",
                    "kubernaut.ai/cleared-by": "alice",
                }
            }
        },
    )
    cleared = await eventually(lambda: _has(h, "pull-3", "blockClearance"), 20)
    assert cleared["blockClearance"]["clearedBy"] == "alice"
    await h.create("pull-5")
    ok = await h.wait_phase("pull-5", "Completed")
    assert ok["consecutiveFailures"] == 0


async def test_failure_that_ran_blocks_until_cleared(harness: MakeHarness) -> None:
    h = await harness(cooldown="1s")
    await h.create("oom", scenario="step_oomkilled")
    await h.wait_phase("oom", "Failed")
    await eventually(lambda: _released(h, "oom"), 20)
    await h.create("again")
    blocked = await h.wait_phase("again", "Skipped")
    assert blocked["skipDetails"]["reason"] == "PreviousExecutionFailed"
    await h.client.patch(
        WORKFLOW_EXECUTIONS,
        h.namespace,
        "oom",
        {"metadata": {"annotations": {"kubernaut.ai/clear-block": "raised the memory limit"}}},
    )
    await eventually(lambda: _has(h, "oom", "blockClearance"), 20)
    await h.has_events("oom", "BlockCleared")
    await h.create("after")
    await h.wait_phase("after", "Completed")


async def test_external_pipeline_run_deletion_fails_as_execution_failure(
    harness: MakeHarness,
) -> None:
    h = await harness(duration=30)
    await h.create("victim")
    await h.wait_phase("victim", "Running")
    await h.client.delete(PIPELINE_RUNS, h.exec_namespace, lock_name(h.target()))
    failed = await h.wait_phase("victim", "Failed")
    assert failed["failureDetails"]["wasExecutionFailure"] is True
    assert "deleted" in failed["failureDetails"]["message"]
    assert "lockReleasedAt" in failed


async def test_deleting_a_running_wfe_cleans_up_its_pipeline_run(harness: MakeHarness) -> None:
    h = await harness(duration=30)
    await h.create("doomed")
    await h.wait_phase("doomed", "Running")
    await h.client.delete(WORKFLOW_EXECUTIONS, h.namespace, "doomed")

    async def gone() -> bool:
        from wfe.kube.errors import NotFound

        try:
            await h.get("doomed")
        except NotFound:
            return await h.pipeline_run() is None
        return False

    await eventually(gone, 20)


async def test_restart_mid_lifecycle_recovers_from_api_state(harness: MakeHarness) -> None:
    h = await harness(duration=4)
    await h.create("survivor")
    await h.wait_phase("survivor", "Running")
    await h.stop_controller()
    await asyncio.sleep(4.5)  # the run finishes while no controller watches
    await h.start_controller()
    done = await h.wait_phase("survivor", "Completed")
    assert done["pipelineRunStatus"]["status"] == "True"
    assert len(await h.pipeline_runs()) == 1


async def _released(h: object, name: str) -> bool:
    return "lockReleasedAt" in await h.status(name)  # type: ignore[attr-defined]


async def _has(h: object, name: str, field: str) -> dict[str, object] | None:
    status = await h.status(name)  # type: ignore[attr-defined]
    return status if field in status else None


async def test_wfe_clear_block_command_lifts_the_block(
    harness: MakeHarness, admin_kubeconfig: Path
) -> None:
    h = await harness(cooldown="1s")
    await h.create("crash", scenario="task_failed_exit_code")
    await h.wait_phase("crash", "Failed")
    refused = await _wfe_cli(
        "clear-block", "nope", "-n", h.namespace, "--reason", "x", kubeconfig=admin_kubeconfig
    )
    assert refused.returncode != 0
    empty = await _wfe_cli(
        "clear-block", "crash", "-n", h.namespace, "--reason", " ", kubeconfig=admin_kubeconfig
    )
    assert empty.returncode == 2
    assert "--reason" in empty.stderr
    done = await _wfe_cli(
        "clear-block",
        "crash",
        "-n",
        h.namespace,
        "--reason",
        "rolled back by hand",
        "--by",
        "bob",
        kubeconfig=admin_kubeconfig,
    )
    assert done.returncode == 0, done.stderr
    cleared = await eventually(lambda: _has(h, "crash", "blockClearance"), 20)
    assert cleared["blockClearance"]["clearedBy"] == "bob"
    assert cleared["blockClearance"]["clearReason"] == "rolled back by hand"
    again = await _wfe_cli(
        "clear-block", "crash", "-n", h.namespace, "--reason", "again", kubeconfig=admin_kubeconfig
    )
    assert again.returncode == 1  # a refusal (docs/cli.md), not a usage error
    assert "already cleared" in again.stderr


async def _wfe_cli(*args: str, kubeconfig: Path) -> subprocess.CompletedProcess[str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wfe",
        *args,
        "--kubeconfig",
        str(kubeconfig),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return subprocess.CompletedProcess(args, proc.returncode or 0, out.decode(), err.decode())
