"""Why the controller does what it does with a WorkflowExecution, now (`wfe explain`).

An explanation is read off the very plans the controller carries out — `pending.plan_pending`
(adopt, vanished, `decide`), `contention.resolve_existing` (the lock already exists),
`finished.plan_finished` and `release` (when a finished one lets its lock go),
`clearance.blocks_target` — never from a second copy of a rule (docs/architecture.md, "The
safety rules"). The shell gathers the same inputs the reconciler gathers (the WorkflowExecution,
the others on its target, the lock PipelineRun and its recorded owner, the kind catalog) and
hands them in as an `Observed`.

The time at which a target becomes allowed is found by asking the same plan again at the
candidate times the records name (the end of a backoff, of a cooldown, a lock's release): the
first one at which the plan no longer holds the target back is the answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime

from wfe.api.enums import Phase, SkipReason
from wfe.api.models import WorkflowExecutionStatus
from wfe.core import clearance, contention, decide, finished, kinds, pending, release
from wfe.core.explanation import Cause, Explanation, LockView, Observed, iso, plain, to_rfc3339
from wfe.core.history import WfeRecord, most_recent_terminal
from wfe.core.policy import Policy

__all__ = [
    "Cause",
    "Explanation",
    "LockView",
    "Observed",
    "clear_command",
    "explain",
    "plain",
    "to_rfc3339",
]

NEVER = "never without a clearance"


def clear_command(record: WfeRecord) -> str:
    return f'wfe clear-block {record.name} -n {record.namespace} --reason "..."'


def explain(obs: Observed, *, now: datetime, policy: Policy) -> Explanation:
    """The explanation of `obs.record` at `now`."""
    record = obs.record
    lock = _lock_view(obs, policy)
    if record.phase in (None, Phase.PENDING):
        return dataclasses.replace(
            _pending(record, obs.others, obs, now=now, policy=policy), lock=lock
        )
    new = _pending(_fresh(record), [*obs.others, record], obs, now=now, policy=policy)
    if record.phase is Phase.SKIPPED:
        details = record.status.skip_details
        said = f"{details.reason}: {details.message}" if details else "Skipped"
        return dataclasses.replace(
            new, subject=record.key, phase=Phase.SKIPPED.value, recorded=said, lock=lock
        )
    if record.phase is Phase.RUNNING:
        return _running(record, obs, new, lock)
    return _finished(record, obs, new, lock, now=now, policy=policy)


# --- undecided ------------------------------------------------------------------------------


def _fresh(record: WfeRecord) -> WfeRecord:
    """A new WorkflowExecution with `record`'s spec (nothing recorded, no uid, no lock)."""
    return dataclasses.replace(
        record,
        name=f"{record.name}-new",
        uid="",
        status=WorkflowExecutionStatus(),
        finalized=False,
        annotations={},
        deleting=False,
    )


def _pending(
    record: WfeRecord,
    others: Sequence[WfeRecord],
    obs: Observed,
    *,
    now: datetime,
    policy: Policy,
) -> Explanation:
    seen = obs.seen if record.uid else pending.LockSeen(ours=False, confirmed=True)

    def plan_at(when: datetime) -> pending.PendingPlan:
        return pending.plan_pending(record, others, seen, now=when, policy=policy, kinds=obs.kinds)

    plan = plan_at(now)
    base = Explanation(
        subject=record.key if record.uid else f"(new on {record.target})",
        target=record.target,
        phase=record.phase.value if record.phase else None,
        decision="",
        rule="",
        message="",
    )
    if isinstance(plan, pending.AdoptLock):
        return dataclasses.replace(
            base,
            decision="Adopt",
            rule="AdoptLock",
            message=f"its lock {record.lock} exists and records it as owner (a status write was "
            "lost): the controller adopts it and follows the run",
            allowed="after it finishes and its cooldown",
        )
    if isinstance(plan, pending.ConfirmLock):
        return dataclasses.replace(
            base,
            decision="Wait",
            rule="ConfirmLock",
            message="the controller reads the lock from the API server before concluding",
            allowed="unknown",
        )
    if isinstance(plan, pending.RecordVanished):
        details = plan.status.failure_details
        return dataclasses.replace(
            base,
            decision="Fail",
            rule="VanishedLock",
            message=details.message if details else "its lock vanished",
            allowed=NEVER,
            clear_command=clear_command(record),
        )
    if isinstance(plan, decide.Defer):
        return dataclasses.replace(
            base,
            decision="Defer",
            rule="DiscoveryIncomplete",
            message=plan.reason,
            allowed="unknown",
        )
    if isinstance(plan, decide.Fail):
        spelling = (
            kinds.check_kind(record.parsed_target, obs.kinds) if record.parsed_target else None
        )
        rule = "KindSpelling" if isinstance(spelling, kinds.Misspelled) else "Validation"
        nxt = plan.status.next_allowed_execution
        return dataclasses.replace(
            base,
            decision="Fail",
            rule=rule,
            message=f"ConfigurationError: {plan.invalid.message} (nothing runs, no lock is taken)",
            allowed="at" if nxt else "now",
            allowed_at=nxt,
        )
    if isinstance(plan, decide.Skip):
        return _skipped(base, plan, record, others, plan_at, now=now, policy=policy)
    assert isinstance(plan, decide.Run)
    return _run(base, plan, record, obs, now=now, policy=policy)


def _skipped(
    base: Explanation,
    plan: decide.Skip,
    record: WfeRecord,
    others: Sequence[WfeRecord],
    plan_at: Callable[[datetime], pending.PendingPlan],
    *,
    now: datetime,
    policy: Policy,
) -> Explanation:
    details = plan.details
    out = dataclasses.replace(
        base, decision="Skip", rule=details.reason.value, message=details.message
    )
    target = record.target or ""
    if details.reason is SkipReason.RESOURCE_BUSY:
        conflict = details.conflicting_workflow
        holder = next(
            (
                r
                for r in others
                if r.phase is Phase.RUNNING and conflict and r.name == conflict.name
            ),
            None,
        )
        return dataclasses.replace(
            out,
            cause=_cause(holder) if holder else None,
            allowed="after the running one finishes and its cooldown",
        )
    last = most_recent_terminal(others, target)
    cause = _cause(last) if last else None
    if details.reason in (SkipReason.PREVIOUS_EXECUTION_FAILED, SkipReason.EXHAUSTED_RETRIES):
        return dataclasses.replace(
            out,
            cause=cause,
            allowed=NEVER,
            clear_command=clear_command(last) if last else None,
        )
    # RecentlyRemediated: the first time the records name at which the plan lets it through.
    candidates: list[datetime] = []
    if last is not None:
        st = last.status
        cooled = last.finished_at + policy.cooldown if last.finished_at else None
        for t in (st.next_allowed_execution, release.release_due(st, policy), cooled):
            if t is not None and t > now:
                candidates.append(t)
    for when in sorted(set(candidates)):
        later = plan_at(when)
        if not (isinstance(later, decide.Skip) and later.details.reason is details.reason):
            return dataclasses.replace(out, cause=cause, allowed="at", allowed_at=when)
    return dataclasses.replace(out, cause=cause, allowed="unknown")


def _run(
    base: Explanation,
    plan: decide.Run,
    record: WfeRecord,
    obs: Observed,
    *,
    now: datetime,
    policy: Policy,
) -> Explanation:
    if obs.existing is None:
        return dataclasses.replace(
            base,
            decision="Run",
            rule="NothingHoldsItBack",
            message=f"no rule holds {record.target} back: the controller creates the lock "
            f"{plan.lock} and runs",
        )
    resolution = contention.resolve_existing(
        record, obs.existing, obs.owner, now=now, policy=policy
    )
    if isinstance(resolution, contention.Adopt):
        return dataclasses.replace(
            base,
            decision="Adopt",
            rule="AdoptLock",
            message=f"the lock {plan.lock} already records it as owner: the controller adopts it",
            allowed="after it finishes and its cooldown",
        )
    if isinstance(resolution, contention.Busy):
        due = release.release_due(obs.owner.status, policy) if obs.owner else None
        waiting = obs.existing.finished and due is not None
        return dataclasses.replace(
            base,
            decision="Skip",
            rule="LockHeld",
            message=f"{resolution.details.message} (the lock {plan.lock}; the stored status "
            f"would say {SkipReason.RESOURCE_BUSY.value})",
            cause=_cause(obs.owner) if obs.owner else None,
            allowed="at" if waiting else "after the lock's run finishes and its cooldown",
            allowed_at=due if waiting else None,
        )
    return dataclasses.replace(
        base,
        decision="Run",
        rule="StaleLock",
        message=f"the lock {plan.lock} is stale ({resolution.why}; held for "
        f"{resolution.owner_key}): the controller releases it on its behalf, then runs",
        cause=_cause(obs.owner) if obs.owner else None,
    )


# --- Running and finished -------------------------------------------------------------------


def _running(
    record: WfeRecord, obs: Observed, new: Explanation, lock: LockView | None
) -> Explanation:
    ref = record.status.pipeline_run_ref
    name = ref.name if ref else record.lock
    ours = obs.existing is not None and obs.seen.ours
    if ours:
        message = (
            f"runs as PipelineRun {name}; the controller follows it, and once it has finished "
            "holds the lock through the cooldown (or the backoff after a failure that never ran)"
        )
    else:
        message = (
            f"its PipelineRun {name} is gone: the controller records Failed, "
            "wasExecutionFailure=true (it may have partly run)"
        )
    return _with_target(
        Explanation(
            subject=record.key,
            target=record.target,
            phase=Phase.RUNNING.value,
            decision="Wait",
            rule="Running" if ours else "RunVanished",
            message=message,
            cause=_cause(record),
            lock=lock,
        ),
        new,
    )


def _finished(
    record: WfeRecord,
    obs: Observed,
    new: Explanation,
    lock: LockView | None,
    *,
    now: datetime,
    policy: Policy,
) -> Explanation:
    completion = obs.lock_completion if obs.seen.ours else None
    plan = finished.plan_finished(
        record, pipeline_run_completion=completion, now=now, policy=policy
    )
    current = plan.status or record.status
    step = release.lock_step(current, now, policy)
    if plan.release is not None:
        decision, message = (
            "ReleaseLock",
            f"its lock {plan.release} is due: the controller deletes it",
        )
    elif plan.requeue_at is not None:
        decision = "HoldLock"
        message = f"holds its lock until {iso(plan.requeue_at)} (then the controller deletes it)"
    else:
        decision = "Done"
        released = current.lock_released_at
        message = f"holds no lock (released {iso(released)})" if released else "holds no lock"
    rule = "LockRelease" if step is not None else "Finished"
    if plan.refused is not None:
        rule, message = "ClearanceRefused", f"{message}; clearance refused: {plan.refused}"
    elif plan.cleared is not None:
        rule, message = "ClearanceApplied", f"{message}; the requested clearance is applied"
    details = current.failure_details
    said = current.phase.value if current.phase else ""
    if details is not None:
        said += f" {details.reason}: {details.message}"
    if clearance.blocks_target(current, policy):
        said += "; it blocks its target until cleared"
    out = Explanation(
        subject=record.key,
        target=record.target,
        phase=record.phase.value if record.phase else None,
        decision=decision,
        rule=rule,
        message=message,
        cause=_cause(record),
        lock=lock,
        recorded=said.strip(),
    )
    return _with_target(out, new)


def _with_target(out: Explanation, new: Explanation) -> Explanation:
    return dataclasses.replace(
        out,
        allowed=new.allowed,
        allowed_at=new.allowed_at,
        clear_command=new.clear_command,
        new_on_target=new,
    )


# --- pieces ---------------------------------------------------------------------------------


def _cause(record: WfeRecord) -> Cause:
    return Cause(
        name=record.key,
        phase=record.phase.value if record.phase else None,
        workflow_id=record.workflow_id,
        started=record.status.start_time,
        completed=record.status.completion_time,
    )


def _lock_view(obs: Observed, policy: Policy) -> LockView | None:
    if obs.lock_name is None:
        return None
    existing = obs.existing
    if existing is None:
        return LockView(name=obs.lock_name, state="absent")
    owner = existing.owner
    state = "deleting" if existing.deleting else "finished" if existing.finished else "running"
    return LockView(
        name=obs.lock_name,
        state=state,
        holder=f"{owner[0]}/{owner[1]}" if owner else None,
        holder_exists=obs.owner is not None,
        created=obs.lock_created,
        release_due=release.release_due(obs.owner.status, policy) if obs.owner else None,
    )
