"""A new run on a target is never confused by an earlier run of the same lock (SPEC §3, §6).

The lock is the PipelineRun named after the target, so every run on a target has the same
PipelineRun name and the same TaskRun names (``<lock>-apply``, ...). An earlier run's TaskRuns
outlive its PipelineRun until the garbage collector removes them; the controller must read
only the TaskRuns of the PipelineRun it follows (ownerReference uid), and the Tekton simulator
must create the new run's own TaskRuns rather than write to the old ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from harness import MakeHarness

from wfe.core.lock import lock_name
from wfe.dev.eventually import eventually


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_a_second_image_pull_failure_names_its_own_task(harness: MakeHarness) -> None:
    """Two image-pull failures in a row on one target, the second after the first's backoff.

    The second must be classified from its own TaskRun: ``ImagePullBackOff`` in task
    ``apply``, failed after it started, not ``Unknown`` (what the controller concludes when the
    only TaskRuns it finds belong to an earlier PipelineRun of the same name).
    """
    h = await harness(backoff_base="1s", backoff_max="2s")
    target = f"{h.namespace}/Deployment/checkout"  # the Kind as the API server spells it
    lock = lock_name(target)

    await h.create("pull-1", target, scenario="image_pull_backoff")
    first = await h.wait_phase("pull-1", "Failed", timeout=40)
    first_details = first["failureDetails"]
    assert first_details["reason"] == "ImagePullBackOff"
    assert first_details["failedTaskName"] == "apply"
    assert first_details["wasExecutionFailure"] is False  # so it backs off, then releases

    async def released() -> bool:
        status = await h.status("pull-1")
        return "lockReleasedAt" in status and await h.pipeline_run(target) is None

    await eventually(released, 30, message="the first run's lock is released after its backoff")

    await h.create("pull-2", target, scenario="image_pull_backoff")
    second = await h.wait_phase("pull-2", "Failed", timeout=40)
    assert second["pipelineRunRef"]["name"] == lock  # the same lock name, a new PipelineRun
    details: dict[str, Any] = second["failureDetails"]
    assert details["reason"] == "ImagePullBackOff", details
    assert details["failedTaskName"] == "apply"
    assert details["failedTaskRunName"] == f"{lock}-apply"
    assert details["wasExecutionFailure"] is False
    assert second["consecutiveFailures"] == 2
    # Its own TaskRun failed, during this run, not the first run's.
    assert _time(details["failedAt"]) >= _time(second["startTime"])
    assert _time(details["failedAt"]) > _time(first_details["failedAt"])

    pipeline_run = await h.pipeline_run(target)
    assert pipeline_run is not None
    uid = pipeline_run["metadata"]["uid"]
    task_runs = await h.task_runs(lock)
    assert task_runs, "the second run has TaskRuns of its own"
    for task_run in task_runs:  # the first run's are gone, collected with their PipelineRun
        assert [ref["uid"] for ref in task_run["metadata"]["ownerReferences"]] == [uid]
