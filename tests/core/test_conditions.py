"""Conditions derived from the phase (docs/api.md, "Conditions"): what tools wait on."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from wfe.api.enums import FailureReason, Phase
from wfe.api.models import FailureDetails, LocalObjectReference, WorkflowExecutionStatus
from wfe.core import conditions, starting

from builders import NOW, record


def by_type(status: WorkflowExecutionStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions or ()}


def test_ready_says_whether_it_is_settled() -> None:
    for phase, ready in [
        (None, ("False", "Pending")),
        (Phase.RUNNING, ("False", "Running")),
        (Phase.COMPLETED, ("True", "Completed")),
        (Phase.FAILED, ("True", "Failed")),
        (Phase.SKIPPED, ("True", "Skipped")),
    ]:
        status = record("a", phase, finished=NOW if phase else None).status
        assert by_type(conditions.settle(status, now=NOW))["Ready"] == ready, phase


def test_the_upstream_tekton_conditions_follow_the_run() -> None:
    done = conditions.settle(record("a", Phase.COMPLETED, finished=NOW).status, now=NOW)
    assert by_type(done) == {
        "Ready": ("True", "Completed"),
        "TektonPipelineCreated": ("True", "PipelineCreated"),
        "TektonPipelineRunning": ("False", "PipelineFinished"),
        "TektonPipelineComplete": ("True", "PipelineSucceeded"),
    }
    failed = conditions.settle(record("a", Phase.FAILED, finished=NOW).status, now=NOW)
    assert by_type(failed)["TektonPipelineComplete"] == ("False", "PipelineFailed")


def test_a_spec_that_never_ran_never_created_a_pipeline() -> None:
    status = WorkflowExecutionStatus(
        phase=Phase.FAILED,
        completion_time=NOW,
        failure_details=FailureDetails(
            reason=FailureReason.CONFIGURATION_ERROR, message="bad", was_execution_failure=False
        ),
    )
    settled = by_type(conditions.settle(status, now=NOW))
    assert settled["TektonPipelineCreated"] == ("False", "ConfigurationError")
    assert "TektonPipelineComplete" not in settled


def test_a_waiting_explanation_is_kept_while_pending() -> None:
    waiting = starting.waiting(
        WorkflowExecutionStatus(), reason="TektonUnavailable", message="m", now=NOW
    )
    assert waiting is not None
    assert by_type(waiting)["TektonPipelineCreated"] == ("False", "TektonUnavailable")
    assert by_type(waiting)["Ready"] == ("False", "Pending")


@given(
    st.sampled_from([None, Phase.RUNNING, Phase.COMPLETED, Phase.FAILED, Phase.SKIPPED]),
    st.integers(1, 10_000),
)
def test_settling_again_later_changes_nothing(phase: Phase | None, seconds: int) -> None:
    status = record("a", phase, finished=NOW if phase else None).status
    once = conditions.settle(status, now=NOW)
    assert conditions.settle(once, now=NOW + timedelta(seconds=seconds)) == once


def test_a_transition_keeps_the_time_of_conditions_that_did_not_change() -> None:
    running = conditions.settle(
        WorkflowExecutionStatus(
            phase=Phase.RUNNING, start_time=NOW, pipeline_run_ref=LocalObjectReference(name="l")
        ),
        now=NOW,
    )
    later = NOW + timedelta(minutes=3)
    done = conditions.settle(
        running.model_copy(update={"phase": Phase.COMPLETED, "completion_time": later}),
        now=later,
    )
    times = {c.type: c.last_transition_time for c in done.conditions or ()}
    assert times["TektonPipelineCreated"] == NOW  # still True since it was created
    assert times["Ready"] == later  # became True now
