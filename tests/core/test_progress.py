"""SPEC §6: Running → Completed / Failed, and the external-deletion rule."""

from __future__ import annotations

from datetime import timedelta

from wfe.api.enums import FailureReason, Phase
from wfe.core.failure import RunEvidence, StepEvidence, TaskRunEvidence
from wfe.core.policy import Policy
from wfe.core.progress import observe

from builders import NOW, record

POLICY = Policy()
RUNNING = record("a", Phase.RUNNING, started=NOW - timedelta(minutes=3), failures=1).status


def evidence(succeeded: bool | None, *tasks: TaskRunEvidence, reason: str = "") -> RunEvidence:
    return RunEvidence(
        name="wfe-x",
        succeeded=succeeded,
        reason=reason or {None: "Running", True: "Succeeded", False: "Failed"}[succeeded],
        message="Tasks Completed: 1 (Failed: 0, Cancelled 0), Incomplete: 1, Skipped: 0",
        start_time=NOW - timedelta(minutes=3),
        completion_time=None if succeeded is None else NOW - timedelta(seconds=30),
        total_tasks=2,
        task_runs=tasks,
    )


def test_still_running_mirrors_progress_without_transition() -> None:
    done = TaskRunEvidence(name="t1", pipeline_task="a", index=0, succeeded=True)
    out = observe(RUNNING, evidence(None, done), now=NOW, policy=POLICY)
    assert out.entered is None
    assert out.status.phase is Phase.RUNNING
    assert out.status.pipeline_run_status is not None
    assert out.status.pipeline_run_status.status == "Unknown"
    assert (
        out.status.pipeline_run_status.completed_tasks,
        out.status.pipeline_run_status.total_tasks,
    ) == (1, 2)


def test_success_completes_and_resets_backoff() -> None:
    out = observe(RUNNING, evidence(True), now=NOW, policy=POLICY)
    assert out.entered is Phase.COMPLETED
    assert out.status.completion_time == NOW - timedelta(seconds=30)
    assert out.status.duration == "2m30s"
    assert out.status.consecutive_failures == 0
    assert out.status.next_allowed_execution is None


def test_failure_that_ran_counts_and_blocks_without_backoff() -> None:
    step = StepEvidence(name="s", started=True, exit_code=3)
    task = TaskRunEvidence(name="t", pipeline_task="fix", index=0, succeeded=False, steps=(step,))
    out = observe(RUNNING, evidence(False, task), now=NOW, policy=POLICY)
    assert out.entered is Phase.FAILED
    assert out.status.consecutive_failures == 2
    assert out.status.next_allowed_execution is None
    assert out.status.failure_details is not None
    assert out.status.failure_details.was_execution_failure is True


def test_failure_that_never_started_backs_off() -> None:
    out = observe(RUNNING, evidence(False, reason="CouldntGetPipeline"), now=NOW, policy=POLICY)
    assert out.status.failure_details is not None
    assert out.status.failure_details.reason is FailureReason.CONFIGURATION_ERROR
    assert out.status.consecutive_failures == 2
    # second failure: 120 s after the PipelineRun finished
    assert out.status.next_allowed_execution == NOW - timedelta(seconds=30) + timedelta(minutes=2)


def test_externally_deleted_pipeline_run_fails_as_execution_failure() -> None:
    out = observe(RUNNING, None, now=NOW, policy=POLICY)
    assert out.entered is Phase.FAILED
    details = out.status.failure_details
    assert details is not None
    assert details.was_execution_failure is True
    assert "deleted" in details.message
    assert out.status.lock_released_at == NOW


def test_terminal_status_is_left_alone() -> None:
    done = record("a", Phase.COMPLETED, finished=NOW).status
    assert observe(done, None, now=NOW, policy=POLICY).status == done


def test_idempotent() -> None:
    first = observe(RUNNING, evidence(True), now=NOW, policy=POLICY)
    again = observe(RUNNING, evidence(True), now=NOW + timedelta(seconds=5), policy=POLICY)
    # The same evidence gives the same status (a lost write is recomputed), up to when its
    # conditions were first derived ...
    assert first.status.model_copy(update={"conditions": None}) == again.status.model_copy(
        update={"conditions": None}
    )
    # ... and once written, observing it again changes nothing at all (no second write).
    later = NOW + timedelta(minutes=1)
    running = observe(RUNNING, evidence(None), now=NOW, policy=POLICY).status
    assert observe(running, evidence(None), now=later, policy=POLICY).status == running
