"""`wfe explain` agrees with what the real Reconciler does on the same cluster state.

A seeded population of states over one target — a peer Running, Completed or Failed (after
running or not, at the retry limit or not, cleared or not), finished inside or outside the
cooldown, its backoff in the future or past; the lock absent, the peer's (running or finished),
an orphan whose owner is gone, one that names no owner; the candidate with or without the
finalizer; a misspelled kind now and then — is seeded into the in-memory API server. For each,
the explanation is computed from the store (`cli.explain.explain_with`, the CLI's own code),
then the real Reconciler reconciles the candidate, and the stored outcome must be what the
explanation said: Run/Adopt ⇔ Running with a lock it owns, Skip ⇔ Skipped with that reason,
Fail ⇔ Failed (a vanished lock as a failure that ran), Defer ⇔ retried without a write.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import pytest
from world import NS, POLICY, World, finished_run, lock_for, running_run, wfe_object

from wfe.api.enums import FailureReason, Phase
from wfe.api.models import WorkflowExecutionStatus
from wfe.cli.explain import explain_with
from wfe.controller.errors import RetryAfter
from wfe.controller.resources import WORKFLOW_EXECUTIONS
from wfe.core import contention, explain

from builders import NOW, TARGET, record

PEERS = ("none", "running", "completed", "failed-ran", "failed-not-ran", "failed-exhausted")
LOCKS = ("absent", "peer", "orphan-finished", "orphan-running", "unclaimed-finished")
POPULATION = 400


@dataclass(frozen=True)
class State:
    peer: str
    minutes_ago: int
    cleared: bool
    backoff_future: bool
    lock: str
    finalized: bool
    target: str

    def __str__(self) -> str:
        return (
            f"peer={self.peer} ago={self.minutes_ago}m cleared={self.cleared} "
            f"backoff_future={self.backoff_future} lock={self.lock} fin={self.finalized} "
            f"target={self.target}"
        )


def states() -> list[State]:
    rng = random.Random(12)
    out = []
    for _ in range(POPULATION):
        out.append(
            State(
                peer=rng.choice(PEERS),
                minutes_ago=rng.choice((1, 4, 6, 30)),
                cleared=rng.random() < 0.3,
                backoff_future=rng.random() < 0.5,
                lock=rng.choice(LOCKS),
                finalized=rng.random() < 0.2,
                target=TARGET if rng.random() < 0.9 else "payment/deploy/payment-api",
            )
        )
    return out


def _peer_status(s: State) -> WorkflowExecutionStatus | None:
    done = NOW - timedelta(minutes=s.minutes_ago)
    nxt = NOW + timedelta(minutes=2) if s.backoff_future else NOW - timedelta(seconds=5)
    if s.peer == "none":
        return None
    if s.peer == "running":
        return record("peer", Phase.RUNNING, target=s.target, started=done).status
    if s.peer == "completed":
        return record("peer", Phase.COMPLETED, target=s.target, finished=done).status
    ran = s.peer == "failed-ran"
    failures = POLICY.max_consecutive_failures if s.peer == "failed-exhausted" else 1
    return record(
        "peer",
        Phase.FAILED,
        target=s.target,
        finished=done,
        ran=ran,
        failures=failures,
        next_allowed=None if ran else nxt,
        cleared=s.cleared,
        reason=FailureReason.TASK_FAILED if ran else FailureReason.CONFIGURATION_ERROR,
    ).status


def seed(world: World, s: State) -> None:
    status = _peer_status(s)
    peer = world.add_wfe("peer", target=s.target, status=status, finalized=True) if status else None
    started = NOW - timedelta(minutes=s.minutes_ago + 1)
    completed = NOW - timedelta(minutes=s.minutes_ago)
    holder = None
    if s.lock == "peer" and peer is not None:
        holder = peer
    elif s.lock.startswith(("orphan", "unclaimed")):
        ghost = wfe_object("ghost", target=s.target)
        ghost["metadata"]["uid"] = "ghost-uid"
        holder = ghost
    if holder is not None and s.target == TARGET:  # a misspelled target never takes a lock
        pr = lock_for(holder)
        if s.lock == "unclaimed-finished":
            pr["metadata"]["annotations"] = {
                k: v
                for k, v in pr["metadata"]["annotations"].items()
                if k
                not in (contention.OWNER_NAME_ANNOTATION, contention.OWNER_NAMESPACE_ANNOTATION)
            }
            for key in (contention.OWNER_LABEL, contention.OWNER_NAMESPACE_LABEL):
                pr["metadata"]["labels"].pop(key, None)
        running = s.lock == "orphan-running" or (
            holder is peer and status is not None and status.phase is Phase.RUNNING
        )
        pr = (
            running_run(pr, started=started)
            if running
            else finished_run(pr, succeeded=True, started=started, completed=completed)
        )
        world.add_run(pr)
    world.add_wfe("cand", target=s.target, finalized=s.finalized)


async def outcome(world: World) -> str:
    """What the reconciler did to `cand`, in the explanation's words."""
    try:
        await world.reconcile("cand")
    except RetryAfter:
        return "Defer"
    st = world.status("cand")
    phase = st.get("phase")
    if phase == Phase.RUNNING.value:
        lock = world.lock(world.record("cand").target or "")
        assert lock is not None
        assert contention.owner_of(
            lock["metadata"].get("labels"), lock["metadata"].get("annotations")
        ) == (NS, "cand")
        return "Run"
    if phase == Phase.SKIPPED.value:
        return f"Skip/{st['skipDetails']['reason']}"
    if phase == Phase.FAILED.value:
        details = st["failureDetails"]
        return f"Fail/{'ran' if details['wasExecutionFailure'] else details['reason']}"
    return f"?{phase}"


def expected_outcome(ex: explain.Explanation) -> str:
    if ex.decision in ("Run", "Adopt"):
        return "Run"
    if ex.decision == "Skip":
        return "Skip/ResourceBusy" if ex.rule == "LockHeld" else f"Skip/{ex.rule}"
    if ex.decision == "Fail":
        return "Fail/ran" if ex.rule == "VanishedLock" else "Fail/ConfigurationError"
    return ex.decision


@pytest.mark.parametrize("state", states(), ids=str)
async def test_explain_says_what_the_reconciler_does(state: State) -> None:
    world = World()
    seed(world, state)
    ex = await explain_with(
        world.client, name="cand", namespace=NS, policy=POLICY, namespaces=[None], now=NOW
    )
    assert await outcome(world) == expected_outcome(ex), (str(state), ex.message)


def test_the_population_reaches_every_decision() -> None:
    """The table is not all one answer: every rule the explanation names is exercised."""
    import asyncio

    async def rules() -> Counter[str]:
        seen: Counter[str] = Counter()
        for state in states():
            world = World()
            seed(world, state)
            ex = await explain_with(
                world.client, name="cand", namespace=NS, policy=POLICY, namespaces=[None], now=NOW
            )
            seen[f"{ex.decision}/{ex.rule}"] += 1
        return seen

    seen = asyncio.run(rules())
    for rule in (
        "Run/NothingHoldsItBack",
        "Run/StaleLock",
        "Skip/ResourceBusy",
        "Skip/LockHeld",
        "Skip/RecentlyRemediated",
        "Skip/PreviousExecutionFailed",
        "Skip/ExhaustedRetries",
        "Fail/KindSpelling",
        "Fail/VanishedLock",
    ):
        assert seen[rule] > 0, (rule, seen)
    assert WORKFLOW_EXECUTIONS.plural == "workflowexecutions"
