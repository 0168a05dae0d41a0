"""The statuses around the start of a run: adoption, the vanished lock, waiting to start."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from wfe.api.enums import FailureReason, Phase
from wfe.api.models import WorkflowExecutionStatus
from wfe.core import release, starting
from wfe.core.lock import LockName
from wfe.core.policy import Policy

from builders import NOW

LOCK = LockName("wfe-7c240c08fe7f0cc3")


def test_adopted_run_keeps_the_pipeline_runs_own_start() -> None:
    started = NOW - timedelta(minutes=7)
    status = starting.adopted(lock=LOCK, started=started, prior_failures=2, now=NOW)
    assert status.phase is Phase.RUNNING
    assert status.start_time == started
    assert status.pipeline_run_ref is not None
    assert status.pipeline_run_ref.name == LOCK
    assert status.consecutive_failures == 2


def test_adopted_run_without_a_start_starts_now_and_never_in_the_future() -> None:
    assert starting.adopted(lock=LOCK, started=None, prior_failures=0, now=NOW).start_time == NOW
    later = starting.adopted(lock=LOCK, started=NOW + timedelta(hours=1), prior_failures=0, now=NOW)
    assert later.start_time == NOW


def test_vanished_lock_is_a_failure_that_ran_and_blocks() -> None:
    failed = starting.vanished_before_start(
        WorkflowExecutionStatus(), lock=LOCK, prior_failures=1, now=NOW
    )
    assert failed.phase is Phase.FAILED
    details = failed.failure_details
    assert details is not None
    assert details.was_execution_failure is True
    assert details.reason is FailureReason.UNKNOWN
    assert "vanished before its start was recorded" in details.message
    assert failed.consecutive_failures == 2
    assert failed.next_allowed_execution is None
    assert failed.completion_time == NOW
    assert failed.lock_released_at == NOW  # the lock was the PipelineRun, and it is gone
    # Released already: nothing for the release rule to do, and the target stays blocked.
    assert release.lock_step(failed, NOW + timedelta(days=1), Policy()) is None


def test_waiting_writes_pending_with_the_cause_once() -> None:
    first = starting.waiting(
        WorkflowExecutionStatus(), reason="TektonUnavailable", message="m", now=NOW
    )
    assert first is not None
    assert first.phase is Phase.PENDING
    assert first.conditions is not None
    (condition,) = [c for c in first.conditions if c.type == starting.START_CONDITION]
    assert (condition.type, condition.status, condition.reason) == (
        starting.START_CONDITION,
        "False",
        "TektonUnavailable",
    )
    later = NOW + timedelta(seconds=30)
    assert starting.waiting(first, reason="TektonUnavailable", message="m", now=later) is None
    changed = starting.waiting(first, reason="Forbidden", message="m2", now=later)
    assert changed is not None
    assert changed.conditions is not None
    (again,) = [c for c in changed.conditions if c.type == starting.START_CONDITION]
    assert again.reason == "Forbidden"
    # The condition stayed False: its transition time is when it first became False.
    assert again.last_transition_time == NOW


def test_waiting_never_touches_a_decided_object() -> None:
    for phase in (Phase.RUNNING, Phase.COMPLETED, Phase.FAILED, Phase.SKIPPED):
        status = WorkflowExecutionStatus(phase=phase)
        assert starting.waiting(status, reason="X", message="m", now=NOW) is None


@given(st.sampled_from([Phase.COMPLETED, Phase.FAILED]), st.integers(-3600, 3600))
def test_a_finished_status_without_completion_time_gets_one(phase: Phase, offset: int) -> None:
    status = WorkflowExecutionStatus(phase=phase)
    from_run = NOW + timedelta(seconds=offset)
    fixed = release.with_completion_time(status, pipeline_run_completion=from_run, now=NOW)
    assert fixed is not None
    assert fixed.completion_time == min(from_run, NOW)
    # Once it has one, nothing changes, and the release rule has a time to work with.
    assert release.with_completion_time(fixed, pipeline_run_completion=None, now=NOW) is None
    fallback = release.with_completion_time(status, pipeline_run_completion=None, now=NOW)
    assert fallback is not None
    assert fallback.completion_time == NOW


def test_release_time_exists_once_the_completion_time_is_derived() -> None:
    status = WorkflowExecutionStatus(phase=Phase.COMPLETED)
    assert release.release_due(status, Policy()) is None  # the bug: held forever
    fixed = release.with_completion_time(status, pipeline_run_completion=None, now=NOW)
    assert fixed is not None
    assert release.release_due(fixed, Policy()) == NOW + Policy().cooldown
