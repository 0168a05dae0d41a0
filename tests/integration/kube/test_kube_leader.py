"""wfe.kube.leader against the real API server: one leader among replicas, failover, release,
and the leader's work stopped on every exit path — including the API server cut away."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from wfe.dev.controlplane import ControlPlane
from wfe.kube import errors
from wfe.kube.client import LEASES, Client
from wfe.kube.leader import LeaderElector

Eventually = Callable[..., Awaitable[Any]]
MakeApiClient = Callable[[Path], Awaitable[ApiClient]]
LEASE = "workflowexecution.kubernaut.ai"
TIMINGS: dict[str, Any] = {"lease_duration": 3.0, "renew_deadline": 2.0, "retry_period": 0.25}


class CuttableClient(Client):
    """A Client whose API server can be cut away: every call then fails as Unavailable."""

    cut = False

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        if self.cut:
            raise errors.Unavailable("connection refused (cut by the test)", reason="Unavailable")
        return await super()._call(method, path, **kw)


class Replica:
    """One candidate: its elector, the spans its work ran, and its leader-gauge changes."""

    def __init__(self, api: ApiClient, namespace: str, name: str, **kw: Any) -> None:
        self.client = CuttableClient(api)
        self.changes: list[bool] = []
        self.failures: list[errors.ApiError] = []
        self.spans: list[list[float]] = []  # [start, end] of each run of the work
        self.elector = LeaderElector(
            self.client,
            name=LEASE,
            namespace=namespace,
            identity=name,
            on_change=self.changes.append,
            on_failure=self.failures.append,
            **{**TIMINGS, **kw},
        )
        self.task: asyncio.Task[None] | None = None

    async def work(self) -> None:
        span = [time.monotonic(), float("inf")]
        self.spans.append(span)
        try:
            await asyncio.Event().wait()
        finally:
            span[1] = time.monotonic()

    def start(self) -> None:
        self.task = asyncio.create_task(self.elector.run(self.work))

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    @property
    def working(self) -> bool:
        return bool(self.spans) and self.spans[-1][1] == float("inf")


@contextlib.asynccontextmanager
async def replicas(api: ApiClient, namespace: str, *names: str) -> Any:
    group = [Replica(api, namespace, n) for n in names]
    for replica in group:
        replica.start()
    try:
        yield group
    finally:
        for replica in group:
            if replica.task is not None and not replica.task.done():
                await replica.stop()


async def holder(client: Client, namespace: str) -> str:
    lease = await client.get(LEASES, namespace, LEASE)
    return str(lease["spec"].get("holderIdentity") or "")


def _no_overlap(a: Replica, b: Replica) -> None:
    spans = sorted(a.spans + b.spans)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, f"two replicas worked at once: {spans}"


async def test_only_one_of_two_replicas_leads(
    api_client: ApiClient, client: Client, namespace: str, eventually: Eventually
) -> None:
    async with replicas(api_client, namespace, "a", "b") as (a, b):
        await eventually(lambda: a.working or b.working, 10)
        await asyncio.sleep(2 * TIMINGS["lease_duration"])  # several renewals

        leader, follower = (a, b) if a.working else (b, a)
        assert leader.elector.is_leader
        assert not follower.elector.is_leader
        assert not follower.spans
        assert leader.changes == [True]
        assert follower.changes == []
        assert await holder(client, namespace) == leader.elector.identity
        lease = await client.get(LEASES, namespace, LEASE)
        assert lease["spec"]["leaseDurationSeconds"] == 3


async def test_cancelled_leader_stops_its_work_releases_and_the_other_takes_over(
    api_client: ApiClient, client: Client, namespace: str, eventually: Eventually
) -> None:
    async with replicas(api_client, namespace, "a", "b") as (a, b):
        await eventually(lambda: a.working or b.working, 10)
        leader, follower = (a, b) if a.working else (b, a)

        stopped = time.monotonic()
        await leader.stop()

        assert not leader.working  # cancelled and awaited before run() returned
        assert leader.changes == [True, False]
        await eventually(lambda: follower.working, 10)
        # Released, so the takeover did not wait for the lease to expire.
        assert follower.spans[0][0] - stopped < TIMINGS["lease_duration"]
        assert await holder(client, namespace) == follower.elector.identity
        lease = await client.get(LEASES, namespace, LEASE)
        assert lease["spec"]["leaseTransitions"] >= 1
        _no_overlap(a, b)


async def test_leader_cut_off_from_the_api_stops_before_the_other_takes_over(
    api_client: ApiClient, client: Client, namespace: str, eventually: Eventually
) -> None:
    async with replicas(api_client, namespace, "a", "b") as (a, b):
        await eventually(lambda: a.working or b.working, 10)
        leader, follower = (a, b) if a.working else (b, a)

        leader.client.cut = True

        await eventually(lambda: not leader.working, TIMINGS["renew_deadline"] + 2)
        assert not leader.elector.is_leader
        assert leader.changes == [True, False]
        assert leader.failures
        assert all(isinstance(f, errors.Unavailable) for f in leader.failures)
        await eventually(lambda: not leader.elector.healthy, 5)

        await eventually(lambda: follower.working, 3 * TIMINGS["lease_duration"])
        _no_overlap(a, b)
        assert await holder(client, namespace) == follower.elector.identity

        # Reconnected, the old leader stays a follower and recovers its health.
        leader.client.cut = False
        await eventually(lambda: leader.elector.healthy, 5)
        await asyncio.sleep(TIMINGS["lease_duration"])
        assert not leader.working
        assert follower.working


async def test_work_that_fails_releases_the_lease_and_raises(
    api_client: ApiClient, client: Client, namespace: str
) -> None:
    elector = LeaderElector(Client(api_client), name=LEASE, namespace=namespace, **TIMINGS)

    async def broken() -> None:
        await asyncio.sleep(0.1)
        raise RuntimeError("controller crashed")

    with pytest.raises(RuntimeError, match="controller crashed"):
        await asyncio.wait_for(elector.run(broken), 10)

    assert not elector.is_leader
    assert await holder(client, namespace) == ""


async def test_work_that_returns_releases_the_lease(
    api_client: ApiClient, client: Client, namespace: str
) -> None:
    ran: list[bool] = []
    elector = LeaderElector(Client(api_client), name=LEASE, namespace=namespace, **TIMINGS)

    async def once() -> None:
        ran.append(elector.is_leader)

    await asyncio.wait_for(elector.run(once), 10)

    assert ran == [True]
    assert await holder(client, namespace) == ""


async def test_a_replica_denied_the_lease_by_rbac_never_leads_and_turns_unhealthy(
    control_plane: ControlPlane,
    make_api_client: MakeApiClient,
    namespace: str,
    eventually: Eventually,
) -> None:
    kubeconfig = await control_plane.service_account_kubeconfig(namespace, "no-leases")
    denied = Replica(await make_api_client(kubeconfig), namespace, "denied", max_failures=2)
    denied.start()
    try:
        await eventually(lambda: not denied.elector.healthy, 10)
        assert not denied.spans
        assert denied.changes == []
        assert isinstance(denied.elector.last_error, errors.Forbidden)
        assert denied.elector.consecutive_failures >= 2
    finally:
        await denied.stop()
