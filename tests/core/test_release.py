"""SPEC §3: when a finished WorkflowExecution releases its lock."""

from __future__ import annotations

from datetime import timedelta

from wfe.api.enums import Phase
from wfe.core.policy import Policy
from wfe.core.release import ReleaseNow, RequeueAt, lock_step, release_due

from builders import NOW, record

POLICY = Policy()


def test_completed_holds_through_cooldown() -> None:
    done = record("a", Phase.COMPLETED, finished=NOW - timedelta(minutes=2)).status
    assert lock_step(done, NOW, POLICY) == RequeueAt(NOW + timedelta(minutes=3))
    assert lock_step(done, NOW + timedelta(minutes=3), POLICY) == ReleaseNow()


def test_failed_after_running_holds_through_cooldown() -> None:
    failed = record("a", Phase.FAILED, finished=NOW, ran=True).status
    assert release_due(failed, POLICY) == NOW + POLICY.cooldown


def test_failed_before_running_holds_until_backoff_ends() -> None:
    failed = record(
        "a",
        Phase.FAILED,
        finished=NOW,
        ran=False,
        failures=3,
        next_allowed=NOW + timedelta(minutes=4),
    ).status
    assert release_due(failed, POLICY) == NOW + timedelta(minutes=4)


def test_running_and_skipped_hold_nothing_to_release() -> None:
    assert lock_step(record("a", Phase.RUNNING, started=NOW).status, NOW, POLICY) is None
    assert lock_step(record("a", Phase.SKIPPED).status, NOW, POLICY) is None


def test_released_once() -> None:
    done = record("a", Phase.COMPLETED, finished=NOW - timedelta(hours=1), released=NOW).status
    assert lock_step(done, NOW, POLICY) is None
    assert release_due(done, POLICY) is not None
