"""SPEC §6 failure analysis on hand-built evidence (the Tekton corpus tests cover real shapes)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from wfe.api.enums import FailureReason
from wfe.core.failure import RunEvidence, StepEvidence, TaskRunEvidence, analyse, classify_words

from builders import NOW


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("container OOMKilled", FailureReason.OOM_KILLED),
        ("process ran out of memory", FailureReason.OOM_KILLED),
        ('pods "x" is forbidden: User cannot create', FailureReason.FORBIDDEN),
        ("exceeded quota: compute-resources", FailureReason.RESOURCE_EXHAUSTED),
        ("0/3 nodes available: insufficient memory", FailureReason.RESOURCE_EXHAUSTED),
        ("context deadline exceeded", FailureReason.DEADLINE_EXCEEDED),
        ('TaskRun "x" failed to finish within "1h0m0s"', FailureReason.DEADLINE_EXCEEDED),
        ("Back-off pulling image: ImagePullBackOff", FailureReason.IMAGE_PULL_BACK_OFF),
        ("no room left in the zoom meeting", None),
        ("forbiddenfruit module missing", None),
        ("boomerang", None),
        ("", None),
        (None, None),
    ],
)
def test_words_not_substrings(text: str | None, reason: FailureReason | None) -> None:
    assert classify_words(text) is reason


def _run(*task_runs: TaskRunEvidence, reason: str = "Failed", message: str = "") -> RunEvidence:
    return RunEvidence(
        name="wfe-0123456789abcdef",
        succeeded=False,
        reason=reason,
        message=message or "Tasks Completed: 1 (Failed: 1, Cancelled 0), Skipped: 0",
        start_time=NOW - timedelta(minutes=3),
        completion_time=NOW,
        total_tasks=2,
        task_runs=task_runs,
    )


def _task(
    name: str, index: int, *steps: StepEvidence, ok: bool | None = False, **kw: object
) -> TaskRunEvidence:
    return TaskRunEvidence(
        name=f"wfe-0123456789abcdef-{name}",
        pipeline_task=name,
        index=index,
        succeeded=ok,
        steps=steps,
        completion_time=NOW - timedelta(seconds=30),
        **kw,  # type: ignore[arg-type]
    )


def test_step_reason_beats_messages() -> None:
    step = StepEvidence(name="apply", started=True, exit_code=137, terminated_reason="OOMKilled")
    details = analyse(
        _run(_task("fix", 0, step, reason="Failed", message="forbidden words here")), now=NOW
    )
    assert details.reason is FailureReason.OOM_KILLED
    assert (details.failed_task_name, details.failed_step_name, details.exit_code) == (
        "fix",
        "apply",
        137,
    )
    assert details.failed_task_index == 0
    assert details.was_execution_failure is True
    assert details.execution_time_before_failure == "2m30s"
    assert details.natural_language_summary is not None
    assert "fix" in details.natural_language_summary


def test_first_failed_task_wins_and_index_reported() -> None:
    ok = _task("check", 0, StepEvidence(name="s", started=True, exit_code=0), ok=True)
    bad = _task("apply", 1, StepEvidence(name="kubectl", started=True, exit_code=2))
    details = analyse(_run(ok, bad), now=NOW)
    assert details.reason is FailureReason.TASK_FAILED
    assert details.failed_task_index == 1
    assert details.exit_code == 2


def test_nothing_ran_is_not_an_execution_failure() -> None:
    waiting = StepEvidence(name="s", waiting_reason="ImagePullBackOff", message="Back-off")
    details = analyse(_run(_task("fix", 0, waiting, reason="TaskRunImagePullFailed")), now=NOW)
    assert details.reason is FailureReason.IMAGE_PULL_BACK_OFF
    assert details.was_execution_failure is False
    assert details.failed_step_name == "s"


def test_pipeline_level_configuration_failure_without_task_runs() -> None:
    details = analyse(
        _run(reason="CouldntGetPipeline", message="Error retrieving pipeline: bundle not found"),
        now=NOW,
    )
    assert details.reason is FailureReason.CONFIGURATION_ERROR
    assert details.was_execution_failure is False
    assert details.failed_task_name is None
    assert "bundle not found" in details.message


def test_cancelled_is_unknown_and_counts_as_ran_when_steps_ran() -> None:
    step = StepEvidence(name="s", started=True, exit_code=1, terminated_reason="TaskRunCancelled")
    details = analyse(
        _run(_task("fix", 0, step, reason="TaskRunCancelled"), reason="Cancelled"), now=NOW
    )
    assert details.reason is FailureReason.UNKNOWN
    assert details.was_execution_failure is True


def test_no_evidence_at_all_is_unknown() -> None:
    details = analyse(RunEvidence(name="x", succeeded=False, reason=None, message=None), now=NOW)
    assert details.reason is FailureReason.UNKNOWN
    assert details.failed_at == NOW
    assert details.message
