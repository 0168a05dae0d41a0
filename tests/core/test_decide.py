"""SPEC §4: deciding a new WorkflowExecution — table cases and safety properties."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wfe.api.enums import FailureReason, Outcome, Phase, SkipReason
from wfe.core.clearance import blocks_target
from wfe.core.decide import (
    Candidate,
    Defer,
    Fail,
    Run,
    Skip,
    decide,
    lock_refused,
    prior_failures,
)
from wfe.core.history import WfeRecord
from wfe.core.kinds import KindCatalog
from wfe.core.policy import Policy

from builders import CATALOG, NOW, TARGET, record, spec

POLICY = Policy()


def candidate(raw: dict[str, Any] | None = None, name: str = "new") -> Candidate:
    return Candidate(namespace="default", name=name, uid=f"uid-{name}", spec=raw or spec())


def run(*others: WfeRecord, raw: dict[str, Any] | None = None, policy: Policy = POLICY) -> Any:
    return decide(candidate(raw), list(others), now=NOW, policy=policy, kinds=CATALOG)


def test_runs_when_target_is_free() -> None:
    decision = run()
    assert isinstance(decision, Run)
    assert decision.lock == "wfe-7c240c08fe7f0cc3"
    assert decision.status.phase is Phase.RUNNING
    assert decision.status.start_time == NOW
    assert decision.status.pipeline_run_ref is not None
    assert decision.status.pipeline_run_ref.name == decision.lock
    assert decision.valid.service_account == "kubernaut-workflow-runner"
    assert decision.valid.timeout == POLICY.default_timeout


def test_invalid_spec_fails_with_configuration_error_naming_fields() -> None:
    raw = spec(targetResource="not a target", parameters={"bad-key": "x"})
    decision = run(raw=raw)
    assert isinstance(decision, Fail)
    details = decision.status.failure_details
    assert details is not None
    assert details.reason is FailureReason.CONFIGURATION_ERROR
    assert details.was_execution_failure is False
    assert "spec.targetResource" in details.message
    assert decision.status.phase is Phase.FAILED
    assert decision.status.consecutive_failures == 1
    assert decision.status.next_allowed_execution == NOW + timedelta(seconds=60)
    assert details.natural_language_summary


def test_configuration_failure_counts_on_top_of_target_history() -> None:
    last = record("old", Phase.FAILED, finished=NOW - timedelta(hours=1), ran=False, failures=2)
    decision = run(last, raw=spec(parameters={"lower": "x"}))
    assert isinstance(decision, Fail)
    assert decision.status.consecutive_failures == 3
    assert decision.status.next_allowed_execution == NOW + timedelta(minutes=4)


def test_resource_busy_names_the_running_workflow() -> None:
    busy = record("holder", Phase.RUNNING, started=NOW - timedelta(minutes=3))
    decision = run(busy)
    assert isinstance(decision, Skip)
    assert decision.details.reason is SkipReason.RESOURCE_BUSY
    assert decision.details.conflicting_workflow is not None
    assert decision.details.conflicting_workflow.name == "holder"
    assert decision.details.conflicting_workflow.started_at == NOW - timedelta(minutes=3)
    assert decision.status.phase is Phase.SKIPPED


def test_running_on_another_target_does_not_block() -> None:
    other = record("elsewhere", Phase.RUNNING, target="payment/Deployment/other")
    assert isinstance(run(other), Run)


def test_another_spelling_of_a_held_target_fails_instead_of_taking_a_second_lock() -> None:
    holder = record("holder", Phase.RUNNING)
    decision = run(holder, raw=spec(targetResource="payment/deployment/payment-api"))
    assert isinstance(decision, Fail)
    details = decision.status.failure_details
    assert details is not None
    assert details.reason is FailureReason.CONFIGURATION_ERROR
    assert "spec.targetResource" in details.message
    assert "'payment/Deployment/payment-api'" in details.message


def test_undecidable_kind_defers() -> None:
    partial = KindCatalog.of([], complete=False)
    raw = spec(targetResource="payment/Widget/w")
    decision = decide(candidate(raw), [], now=NOW, policy=POLICY, kinds=partial)
    assert isinstance(decision, Defer)


def test_previous_execution_failure_blocks() -> None:
    last = record("broke", Phase.FAILED, finished=NOW - timedelta(days=3), ran=True, failures=1)
    decision = run(last)
    assert isinstance(decision, Skip)
    assert decision.details.reason is SkipReason.PREVIOUS_EXECUTION_FAILED
    assert decision.details.recent_remediation is not None
    assert decision.details.recent_remediation.outcome is Outcome.FAILED


def test_failed_without_details_is_treated_as_having_run() -> None:
    last = record("odd", Phase.FAILED, finished=NOW - timedelta(days=1))
    last = record_with(last, failure_details=None)
    assert isinstance(run(last), Skip)


def record_with(r: WfeRecord, **status: Any) -> WfeRecord:
    from dataclasses import replace

    return replace(r, status=r.status.model_copy(update=status))


def test_cleared_block_lets_the_target_run_and_resets_the_count() -> None:
    last = record(
        "broke", Phase.FAILED, finished=NOW - timedelta(hours=1), failures=5, cleared=True
    )
    decision = run(last)
    assert isinstance(decision, Run)
    assert decision.status.consecutive_failures == 0


def test_exhausted_retries() -> None:
    last = record(
        "again",
        Phase.FAILED,
        finished=NOW - timedelta(hours=5),
        ran=False,
        failures=5,
        next_allowed=NOW - timedelta(hours=4),
    )
    decision = run(last)
    assert isinstance(decision, Skip)
    assert decision.details.reason is SkipReason.EXHAUSTED_RETRIES


def test_backoff_in_force_skips_as_recently_remediated() -> None:
    last = record(
        "pull",
        Phase.FAILED,
        finished=NOW - timedelta(seconds=10),
        ran=False,
        failures=1,
        next_allowed=NOW + timedelta(seconds=50),
    )
    decision = run(last)
    assert isinstance(decision, Skip)
    assert decision.details.reason is SkipReason.RECENTLY_REMEDIATED
    assert decision.details.recent_remediation is not None
    assert decision.details.recent_remediation.cooldown_remaining == "50s"


def test_backoff_over_runs_and_carries_the_count() -> None:
    last = record(
        "pull",
        Phase.FAILED,
        finished=NOW - timedelta(minutes=5),
        ran=False,
        failures=2,
        next_allowed=NOW - timedelta(seconds=1),
    )
    decision = run(last)
    assert isinstance(decision, Run)
    assert decision.status.consecutive_failures == 2


def test_cooldown_after_success_any_workflow() -> None:
    last = record("done", Phase.COMPLETED, finished=NOW - timedelta(minutes=2))
    raw = spec(workflowRef={"workflowId": "other", "version": "2", "containerImage": "r/x:1"})
    decision = run(last, raw=raw)
    assert isinstance(decision, Skip)
    assert decision.details.reason is SkipReason.RECENTLY_REMEDIATED
    assert decision.details.recent_remediation is not None
    assert decision.details.recent_remediation.cooldown_remaining == "3m0s"
    assert decision.details.recent_remediation.outcome is Outcome.COMPLETED


def test_cooldown_over_runs_with_count_reset() -> None:
    last = record("done", Phase.COMPLETED, finished=NOW - timedelta(minutes=5), failures=0)
    decision = run(last)
    assert isinstance(decision, Run)
    assert decision.status.consecutive_failures == 0


def test_skipped_history_is_ignored() -> None:
    skipped = record("skipped", Phase.SKIPPED)
    assert isinstance(run(skipped), Run)


def test_only_the_most_recent_terminal_counts() -> None:
    old_fail = record(
        "old", Phase.FAILED, finished=NOW - timedelta(days=2), failures=1, cleared=True
    )
    newer_done = record("newer", Phase.COMPLETED, finished=NOW - timedelta(hours=1))
    assert isinstance(run(old_fail, newer_done), Run)
    newest_fail = record("newest", Phase.FAILED, finished=NOW - timedelta(minutes=30))
    assert isinstance(run(old_fail, newer_done, newest_fail), Skip)


def test_candidate_itself_in_history_is_ignored() -> None:
    me = record("new", Phase.RUNNING)
    assert isinstance(
        decide(candidate(name="new"), [me], now=NOW, policy=POLICY, kinds=CATALOG), Run
    )


@pytest.mark.parametrize(
    ("field", "value", "expected_field"),
    [
        ("executionConfig", {"serviceAccountName": "cluster-admin"}, "serviceAccountName"),
        ("executionConfig", {"timeout": "0s"}, "spec.executionConfig.timeout"),
        ("executionConfig", {"timeout": "soon"}, "spec.executionConfig.timeout"),
        ("parameters", {"TARGET_RESOURCE": "elsewhere/Pod/x"}, "TARGET_RESOURCE"),
        ("confidence", 1.5, "spec.confidence"),
        ("parameters", {"KEY\n": "x"}, "spec.parameters"),
        ("workflowRef", {"workflowId": "", "version": "1", "containerImage": "x"}, "workflowId"),
        ("workflowRef", {"workflowId": "w", "version": "1"}, "containerImage"),
    ],
)
def test_each_validation_problem_names_its_field(
    field: str, value: Any, expected_field: str
) -> None:
    decision = run(raw=spec(**{field: value}))
    assert isinstance(decision, Fail)
    assert expected_field in decision.invalid.message


def test_allowed_service_account_and_timeout_cap() -> None:
    policy = Policy(allowed_service_accounts=frozenset({"db-fixer"}))
    raw = spec(executionConfig={"serviceAccountName": "db-fixer", "timeout": "5h"})
    decision = run(raw=raw, policy=policy)
    assert isinstance(decision, Run)
    assert decision.valid.service_account == "db-fixer"
    assert decision.valid.timeout == policy.max_timeout


def test_missing_spec_fails() -> None:
    decision = decide(
        Candidate(namespace="d", name="n", uid="u", spec=None),
        [],
        now=NOW,
        policy=POLICY,
        kinds=CATALOG,
    )
    assert isinstance(decision, Fail)
    assert "spec" in decision.invalid.message


# --- properties -------------------------------------------------------------------------

_phases = st.sampled_from([Phase.RUNNING, Phase.COMPLETED, Phase.FAILED, Phase.SKIPPED, None])


@st.composite
def histories(draw: st.DrawFn) -> list[WfeRecord]:
    out = []
    for i in range(draw(st.integers(0, 6))):
        phase = draw(_phases)
        finished = NOW - timedelta(seconds=draw(st.integers(0, 4000)))
        out.append(
            record(
                f"r{i}",
                phase,
                target=draw(st.sampled_from([TARGET, "payment/Deployment/other"])),
                finished=finished if phase in (Phase.COMPLETED, Phase.FAILED) else None,
                started=finished - timedelta(seconds=30),
                ran=draw(st.booleans()),
                failures=draw(st.integers(0, 7)),
                next_allowed=NOW + timedelta(seconds=draw(st.integers(-900, 900))),
                cleared=draw(st.booleans()),
            )
        )
    return out


@given(histories())
def test_never_runs_while_the_target_is_held_cooling_or_blocked(history: list[WfeRecord]) -> None:
    decision = run(*history)
    if not isinstance(decision, Run):
        return
    same = [r for r in history if r.target == TARGET]
    assert not any(r.phase is Phase.RUNNING for r in same)
    finished = [r for r in same if r.phase in (Phase.COMPLETED, Phase.FAILED)]
    if finished:
        last = max(finished, key=lambda r: (r.finished_at, r.created, r.key))
        assert not blocks_target(last.status, POLICY)
        if last.phase is Phase.COMPLETED:
            assert last.finished_at is not None
            assert last.finished_at + POLICY.cooldown <= NOW
        elif not last.block_cleared:
            assert last.status.next_allowed_execution is None or (
                last.status.next_allowed_execution <= NOW
            )
        assert decision.status.consecutive_failures == prior_failures(last)


@given(histories())
def test_decide_is_deterministic_and_order_independent(history: list[WfeRecord]) -> None:
    assert run(*history) == run(*reversed(history))


def test_a_lock_refused_by_the_api_server_fails_with_its_words_and_backs_off() -> None:
    failed = lock_refused("422 Invalid: frozen", 2, now=NOW, policy=POLICY)
    details = failed.status.failure_details
    assert details is not None
    assert details.reason is FailureReason.CONFIGURATION_ERROR
    assert details.was_execution_failure is False
    assert (
        details.message == "PipelineRun: the API server refused to create it: 422 Invalid: frozen"
    )
    assert failed.status.consecutive_failures == 3
    assert failed.status.next_allowed_execution is not None
    assert failed.status.next_allowed_execution > NOW


def test_skip_and_block_messages_give_absolute_times_and_the_clearance_command() -> None:
    cooling = run(record("done", Phase.COMPLETED, finished=NOW - timedelta(minutes=2)))
    assert isinstance(cooling, Skip)
    assert "(until 2026-11-27T12:03:00Z)" in cooling.details.message
    backing_off = run(
        record(
            "flaky",
            Phase.FAILED,
            finished=NOW - timedelta(minutes=1),
            ran=False,
            failures=1,
            next_allowed=NOW + timedelta(seconds=90),
        )
    )
    assert isinstance(backing_off, Skip)
    assert "(at 2026-11-27T12:01:30Z)" in backing_off.details.message
    blocked = run(record("broke", Phase.FAILED, finished=NOW - timedelta(days=1), ran=True))
    assert isinstance(blocked, Skip)
    assert 'wfe clear-block broke -n default --reason "' in blocked.details.message
