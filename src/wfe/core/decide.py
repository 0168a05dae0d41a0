"""Deciding a new WorkflowExecution: fail, skip or run (SPEC §4, steps 1-3).

`decide` is the product's safety rule in one pure function. It never says "run" while another
WorkflowExecution on the target is Running, while the target's last remediation is inside its
cooldown or backoff, or while a failure that ran (or exhausted retries) stands uncleared. The
lock (the PipelineRun's unique name, SPEC §3) is the second, atomic layer behind it: `decide`
works from a possibly stale cache, the lock from the API server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wfe.api.base import format_time
from wfe.api.enums import FailureReason, Outcome, Phase, SkipReason
from wfe.api.models import (
    ConflictingWorkflow,
    FailureDetails,
    LocalObjectReference,
    RecentRemediation,
    SkipDetails,
    WorkflowExecutionStatus,
)
from wfe.core import summary
from wfe.core.backoff import next_allowed_execution
from wfe.core.conditions import settle
from wfe.core.durations import format_duration
from wfe.core.errors import Problem
from wfe.core.history import WfeRecord, most_recent_terminal, running_on_target
from wfe.core.kinds import KindCatalog, Misspelled, Undecidable, check_kind
from wfe.core.lock import LockName, lock_name
from wfe.core.policy import Policy
from wfe.core.validation import Invalid, ValidSpec, validate_spec

__all__ = [
    "Candidate",
    "Decision",
    "Defer",
    "Fail",
    "Run",
    "Skip",
    "decide",
    "fail_configuration",
    "lock_refused",
    "prior_failures",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """The new WorkflowExecution being decided."""

    namespace: str
    name: str
    uid: str
    spec: Mapping[str, Any] | None
    annotations: Mapping[str, str] | None = None
    """The object's annotations: `kubectl apply`'s record reveals parameters it dropped."""


@dataclass(frozen=True, slots=True)
class Run:
    """Create the PipelineRun `lock`; on success write `status`."""

    valid: ValidSpec
    lock: LockName
    status: WorkflowExecutionStatus


@dataclass(frozen=True, slots=True)
class Skip:
    """Do not run; write `status` (phase Skipped) and nothing else."""

    status: WorkflowExecutionStatus

    @property
    def details(self) -> SkipDetails:
        assert self.status.skip_details is not None
        return self.status.skip_details


@dataclass(frozen=True, slots=True)
class Fail:
    """The spec must not run (ConfigurationError); write `status` (phase Failed)."""

    status: WorkflowExecutionStatus
    invalid: Invalid


@dataclass(frozen=True, slots=True)
class Defer:
    """Not decidable yet (API discovery incomplete): change nothing, look again later."""

    reason: str


Decision = Run | Skip | Fail | Defer


def prior_failures(last: WfeRecord | None) -> int:
    """Consecutive failures of the target before a new attempt.

    A success resets the count; so does an audited block clearance (SPEC §4).
    """
    if last is None or last.phase is not Phase.FAILED or last.block_cleared:
        return 0
    return last.status.consecutive_failures or 0


def decide(
    candidate: Candidate,
    others: Iterable[WfeRecord],
    *,
    now: datetime,
    policy: Policy,
    kinds: KindCatalog,
) -> Decision:
    """Decide a new (phase empty or Pending) WorkflowExecution.

    `others` are the other WorkflowExecutions on the candidate's target (more are harmless:
    they are filtered by exact target string and the candidate's own uid is ignored). `kinds`
    is what the cluster serves: a target must spell its Kind as discovery does, so one object
    has one lock (`core.kinds`).
    """
    peers = [r for r in others if r.uid != candidate.uid or not candidate.uid]
    peers = [r for r in peers if (r.namespace, r.name) != (candidate.namespace, candidate.name)]
    raw_target = candidate.spec.get("targetResource") if candidate.spec else None
    target = raw_target if isinstance(raw_target, str) else None
    last = most_recent_terminal(peers, target) if target is not None else None

    checked = validate_spec(candidate.spec, policy, now=now, annotations=candidate.annotations)
    if isinstance(checked, Invalid):
        return fail_configuration(checked, prior_failures(last), now=now, policy=policy)
    spelling = check_kind(checked.target, kinds)
    if isinstance(spelling, Undecidable):
        return Defer(spelling.reason)
    if isinstance(spelling, Misspelled):
        invalid = Invalid((spelling.problem,))
        return fail_configuration(invalid, prior_failures(last), now=now, policy=policy)

    running = running_on_target(peers, checked.target.raw)
    if running is not None:
        return _skipped(_busy(running, checked, now))
    if last is not None:
        blocked = _blocked_by(last, checked, now=now, policy=policy)
        if blocked is not None:
            return _skipped(blocked)

    lock = lock_name(checked.target.raw)
    status = WorkflowExecutionStatus(
        phase=Phase.RUNNING,
        start_time=now,
        pipeline_run_ref=LocalObjectReference(name=lock),
        consecutive_failures=prior_failures(last),
    )
    return Run(valid=checked, lock=lock, status=settle(status, now=now))


def _blocked_by(
    last: WfeRecord, checked: ValidSpec, *, now: datetime, policy: Policy
) -> SkipDetails | None:
    target = checked.target.raw
    st = last.status
    failed = last.phase is Phase.FAILED
    details = st.failure_details
    if failed and not last.block_cleared:
        if details is None or details.was_execution_failure:
            return _skip(
                SkipReason.PREVIOUS_EXECUTION_FAILED,
                f"the last remediation of {target} ({last.key}) failed after it started "
                "running; the target's state is unknown and a person must clear the block: "
                f"{_clear_command(last)}",
                last,
                now=now,
            )
        if (st.consecutive_failures or 0) >= policy.max_consecutive_failures:
            return _skip(
                SkipReason.EXHAUSTED_RETRIES,
                f"{st.consecutive_failures} consecutive failures on {target} reached the "
                f"limit of {policy.max_consecutive_failures}; a person must clear the block: "
                f"{_clear_command(last)}",
                last,
                now=now,
            )
        if st.next_allowed_execution is not None and st.next_allowed_execution > now:
            remaining = st.next_allowed_execution - now
            return _skip(
                SkipReason.RECENTLY_REMEDIATED,
                f"{target} is backing off after {st.consecutive_failures} consecutive "
                f"failure(s); next attempt allowed in {format_duration(remaining)} (at "
                f"{format_time(st.next_allowed_execution)})",
                last,
                now=now,
                remaining=format_duration(remaining),
            )
        return None
    if last.phase is Phase.COMPLETED and last.finished_at is not None:
        remaining = last.finished_at + policy.cooldown - now
        if remaining.total_seconds() > 0:
            return _skip(
                SkipReason.RECENTLY_REMEDIATED,
                f"{target} was remediated by {last.key} and is in its cooldown for another "
                f"{format_duration(remaining)} (until {format_time(now + remaining)})",
                last,
                now=now,
                remaining=format_duration(remaining),
            )
    return None


def _clear_command(last: WfeRecord) -> str:
    return f'wfe clear-block {last.name} -n {last.namespace} --reason "<what you checked>"'


def _skip(
    reason: SkipReason,
    message: str,
    last: WfeRecord,
    *,
    now: datetime,
    remaining: str | None = None,
) -> SkipDetails:
    outcome = Outcome.COMPLETED if last.phase is Phase.COMPLETED else Outcome.FAILED
    return SkipDetails(
        reason=reason,
        message=message,
        skipped_at=now,
        recent_remediation=RecentRemediation(
            name=last.name,
            workflow_id=last.workflow_id,
            completed_at=last.status.completion_time,
            outcome=outcome,
            target_resource=last.target,
            cooldown_remaining=remaining,
        ),
    )


def _skipped(details: SkipDetails) -> Skip:
    status = WorkflowExecutionStatus(phase=Phase.SKIPPED, skip_details=details)
    return Skip(settle(status, now=details.skipped_at))


def _busy(running: WfeRecord, checked: ValidSpec, now: datetime) -> SkipDetails:
    return SkipDetails(
        reason=SkipReason.RESOURCE_BUSY,
        message=f"{checked.target.raw} is being remediated by {running.key}",
        skipped_at=now,
        conflicting_workflow=ConflictingWorkflow(
            name=running.name,
            workflow_id=running.workflow_id,
            started_at=running.status.start_time,
            target_resource=running.target,
        ),
    )


def fail_configuration(invalid: Invalid, prior: int, *, now: datetime, policy: Policy) -> Fail:
    """`Failed` `ConfigurationError` (nothing ran): the next attempt backs off (SPEC §4)."""
    failures = prior + 1
    details = FailureDetails(
        reason=FailureReason.CONFIGURATION_ERROR,
        message=invalid.message,
        failed_at=now,
        was_execution_failure=False,
        natural_language_summary=summary.configuration_summary(invalid.problems),
    )
    status = WorkflowExecutionStatus(
        phase=Phase.FAILED,
        completion_time=now,
        failure_details=details,
        consecutive_failures=failures,
        next_allowed_execution=next_allowed_execution(now, failures, policy),
    )
    return Fail(status=settle(status, now=now), invalid=invalid)


def lock_refused(server_message: str, prior: int, *, now: datetime, policy: Policy) -> Fail:
    """`Failed` `ConfigurationError`: the API server refused the lock PipelineRun for good
    (400/422, e.g. an admission policy). The same manifest would be refused every time, so it
    is never retried; nothing ran."""
    problem = Problem("PipelineRun", f"the API server refused to create it: {server_message}")
    fail = fail_configuration(Invalid((problem,)), prior, now=now, policy=policy)
    details = fail.status.failure_details
    assert details is not None
    status = fail.status.model_copy(
        update={"failure_details": details.model_copy(update={"message": str(problem)})}
    )
    return Fail(status=settle(status, now=now), invalid=fail.invalid)
