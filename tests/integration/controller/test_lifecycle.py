"""SPEC §3-§6 end to end on the real API server: run, complete, fail, release the lock."""

from __future__ import annotations

import pytest
from harness import MakeHarness

from wfe.controller.resources import PIPELINE_RUNS
from wfe.core.lock import lock_name
from wfe.dev.eventually import eventually


async def test_completes_and_releases_the_lock_after_cooldown(harness: MakeHarness) -> None:
    h = await harness(cooldown="3s", duration=3)  # long enough to observe Running
    await h.create("fix-1")
    running = await h.wait_phase("fix-1", "Running")
    assert running["pipelineRunRef"]["name"] == lock_name(h.target())
    pr = await h.pipeline_run()
    assert pr is not None
    labels = pr["metadata"]["labels"]
    assert labels["kubernaut.ai/workflow-execution"] == "fix-1"
    assert labels["kubernaut.ai/source-namespace"] == h.namespace
    assert pr["metadata"]["annotations"]["kubernaut.ai/target-resource"] == h.target()
    wfe = await h.get("fix-1")
    assert "kubernaut.ai/workflowexecution-cleanup" in wfe["metadata"]["finalizers"]

    done = await h.wait_phase("fix-1", "Completed")
    assert done["pipelineRunStatus"]["status"] == "True"
    assert done["pipelineRunStatus"]["completedTasks"] == done["pipelineRunStatus"]["totalTasks"]
    assert done["duration"].endswith("s")
    assert "lockReleasedAt" not in done
    assert await h.pipeline_run() is not None  # held through the cooldown

    async def released() -> bool:
        status = await h.status("fix-1")
        return "lockReleasedAt" in status and await h.pipeline_run() is None

    await eventually(released, 20)
    await h.has_events("fix-1", "PipelineRunCreated", "WorkflowCompleted", "LockReleased")


@pytest.mark.parametrize(
    ("scenario", "reason", "ran"),
    [
        ("step_oomkilled", "OOMKilled", True),
        ("taskrun_timeout", "DeadlineExceeded", True),
        ("task_failed_exit_code", "TaskFailed", True),
        ("forbidden", "Forbidden", False),
        # Tekton never fails a TaskRun for quota: the pipeline timeout ends it.
        ("exceeded_quota", "ResourceExhausted", False),
        ("err_image_pull", "ImagePullBackOff", False),
        ("image_pull_backoff", "ImagePullBackOff", False),
        ("resolution_failed", "ConfigurationError", False),
        ("invalid_param", "ConfigurationError", False),
    ],
)
async def test_failure_classes(harness: MakeHarness, scenario: str, reason: str, ran: bool) -> None:
    h = await harness()
    await h.create("broken", scenario=scenario, executionConfig={"timeout": "4s"})
    failed = await h.wait_phase("broken", "Failed", timeout=40)
    details = failed["failureDetails"]
    assert details["reason"] == reason
    assert details["wasExecutionFailure"] is ran
    assert details["naturalLanguageSummary"]
    assert failed["consecutiveFailures"] == 1
    assert ("nextAllowedExecution" in failed) is (not ran)
    await h.has_events("broken", "WorkflowFailed")


async def test_cancelling_the_pipeline_run_fails_as_unknown_and_blocks(
    harness: MakeHarness,
) -> None:
    """RB-WE-002 option B: `kubectl patch pipelinerun ... spec.status=Cancelled`."""
    h = await harness(duration=30)
    await h.create("stuck", scenario="cancelled")
    await h.wait_phase("stuck", "Running")
    pr = await h.pipeline_run()
    assert pr is not None

    async def a_step_runs() -> bool:
        runs = await h.task_runs(pr["metadata"]["name"])
        return any(s.get("running") for r in runs for s in r.get("status", {}).get("steps", []))

    await eventually(a_step_runs, 20)
    await h.client.patch(
        PIPELINE_RUNS, h.exec_namespace, pr["metadata"]["name"], {"spec": {"status": "Cancelled"}}
    )
    failed = await h.wait_phase("stuck", "Failed")
    assert failed["failureDetails"]["reason"] == "Unknown"
    assert failed["failureDetails"]["wasExecutionFailure"] is True
