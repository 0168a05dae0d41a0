"""Leader election timing rules on a fake clock and an in-memory Lease (wfe.kube.leader).

The real API server proves the protocol end to end (tests/integration/kube); here the clock is
stepped, so the lease arithmetic is checked exactly: a follower waits a full lease duration
after the last change it saw, a leader gives up after its renew deadline, a stolen lease stops
the leader at once, failures escalate and recover.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from kubernetes_asyncio.client import ApiClient

from wfe.kube import errors
from wfe.kube.client import Client, KubeObject, Resource
from wfe.kube.clock import FakeClock, settle
from wfe.kube.leader import LeaderElector

TIMINGS: dict[str, Any] = {"lease_duration": 15.0, "renew_deadline": 10.0, "retry_period": 2.0}


class LeaseStore:
    """One Lease with resourceVersion checks, as the API server keeps it."""

    def __init__(self) -> None:
        self.lease: KubeObject | None = None
        self.rv = 0

    def write(self, body: KubeObject) -> KubeObject:
        self.rv += 1
        stored = copy.deepcopy(body)
        stored["metadata"]["resourceVersion"] = str(self.rv)
        self.lease = stored
        return copy.deepcopy(stored)


class MemoryLeaseClient(Client):
    def __init__(self, store: LeaseStore) -> None:
        super().__init__(cast(ApiClient, None))
        self.store = store
        self.failure: errors.ApiError | None = None

    def _check(self) -> None:
        if self.failure is not None:
            raise self.failure

    async def get(self, res: Resource, namespace: str | None, name: str) -> KubeObject:
        self._check()
        if self.store.lease is None:
            raise errors.NotFound("no lease", status=404, reason="NotFound")
        return copy.deepcopy(self.store.lease)

    async def create(self, res: Resource, namespace: str | None, body: KubeObject) -> KubeObject:
        self._check()
        if self.store.lease is not None:
            raise errors.AlreadyExists("exists", status=409, reason="AlreadyExists")
        return self.store.write(body)

    async def replace(
        self, res: Resource, namespace: str | None, name: str, body: KubeObject
    ) -> KubeObject:
        self._check()
        assert self.store.lease is not None
        if body["metadata"]["resourceVersion"] != self.store.lease["metadata"]["resourceVersion"]:
            raise errors.Conflict("stale", status=409, reason="Conflict")
        return self.store.write(body)


class Candidate:
    def __init__(self, store: LeaseStore, clock: FakeClock, identity: str, **kw: Any) -> None:
        self.client = MemoryLeaseClient(store)
        self.changes: list[bool] = []
        self.working = False
        self.elector = LeaderElector(
            self.client,
            name="lock",
            namespace="ns",
            identity=identity,
            clock=clock,
            on_change=self.changes.append,
            **{**TIMINGS, **kw},
        )
        self.task: asyncio.Task[None] | None = None

    async def work(self) -> None:
        self.working = True
        try:
            await asyncio.Event().wait()
        finally:
            self.working = False


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> LeaseStore:
    return LeaseStore()


@contextlib.asynccontextmanager
async def started(*candidates: Candidate) -> AsyncIterator[None]:
    for c in candidates:
        c.task = asyncio.create_task(c.elector.run(c.work))
        await settle()
    try:
        yield
    finally:
        for c in candidates:
            assert c.task is not None
            c.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await c.task


async def step(clock: FakeClock, seconds: float, tick: float = 0.5) -> None:
    for _ in range(round(seconds / tick)):
        await clock.advance(tick)


async def test_the_first_candidate_creates_the_lease_and_leads(
    store: LeaseStore, clock: FakeClock
) -> None:
    a = Candidate(store, clock, "a")
    b = Candidate(store, clock, "b")

    async with started(a, b):
        await step(clock, 30)

        assert a.working
        assert not b.working
        assert a.changes == [True]
        assert store.lease is not None
        assert store.lease["spec"]["holderIdentity"] == "a"
        assert store.lease["spec"]["leaseDurationSeconds"] == 15
        assert store.rv > 10  # renewed all along


async def test_a_silent_leader_is_replaced_only_after_a_full_lease_duration(
    store: LeaseStore, clock: FakeClock
) -> None:
    a = Candidate(store, clock, "a")
    b = Candidate(store, clock, "b")

    async with started(a, b):
        await step(clock, 5)
        a.client.failure = errors.Unavailable("partitioned", reason="Unavailable")
        cut_at = clock.now()

        # Its last renewal was at most one retry period before the cut.
        await step(clock, 7.5)
        assert a.working  # still inside its renew deadline
        await step(clock, 3)
        assert not a.working  # gave up: deadline passed
        assert a.changes == [True, False]
        assert not b.working  # the lease has not expired yet for b

        await step(clock, 20)
        assert b.working
        assert b.changes == [True]
        # b saw the last renewal at most a retry period (plus jitter) before the cut.
        assert clock.now() - cut_at >= TIMINGS["lease_duration"] - 2.4


async def test_a_leader_that_reads_another_holder_stops_at_once(
    store: LeaseStore, clock: FakeClock
) -> None:
    a = Candidate(store, clock, "a")

    async with started(a):
        await step(clock, 3)
        assert a.working
        assert store.lease is not None
        stolen = copy.deepcopy(store.lease)
        stolen["spec"]["holderIdentity"] = "intruder"
        store.write(stolen)

        await step(clock, 3)

        assert not a.working
        assert a.elector.holder == "intruder"
        assert a.changes == [True, False]


async def test_failures_escalate_after_max_failures_and_recover(
    store: LeaseStore, clock: FakeClock
) -> None:
    seen: list[errors.ApiError] = []
    a = Candidate(store, clock, "a", max_failures=3)
    a.elector._on_failure = seen.append
    a.client.failure = errors.Forbidden("leases is forbidden", status=403, reason="Forbidden")

    async with started(a):
        await step(clock, 3)
        assert a.elector.healthy  # two failures so far
        await step(clock, 3)
        assert not a.elector.healthy
        assert a.elector.consecutive_failures >= 3
        assert all(isinstance(e, errors.Forbidden) for e in seen)
        assert not a.working

        a.client.failure = None
        await step(clock, 3)
        assert a.elector.healthy
        assert a.elector.consecutive_failures == 0
        assert a.working


async def test_cancelling_run_stops_the_work_and_releases_the_lease(
    store: LeaseStore, clock: FakeClock
) -> None:
    a = Candidate(store, clock, "a")
    b = Candidate(store, clock, "b")

    async with started(a, b):
        await step(clock, 3)
        assert a.task is not None
        a.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await a.task
        assert not a.working
        assert store.lease is not None
        assert store.lease["spec"]["holderIdentity"] == ""

        await step(clock, 3)  # no lease expiry to wait for
        assert b.working


def test_timings_must_nest() -> None:
    client = MemoryLeaseClient(LeaseStore())
    with pytest.raises(ValueError, match="retry_period"):
        LeaderElector(client, name="l", namespace="n", lease_duration=10, renew_deadline=10)
    with pytest.raises(ValueError, match="retry_period"):
        LeaderElector(client, name="l", namespace="n", renew_deadline=2, retry_period=2)
