"""Leader election on a coordination.k8s.io/v1 Lease, so only one replica acts (STYLE §12).

Our own small elector on :class:`~wfe.kube.client.Client`, following client-go's algorithm,
instead of ``kubernetes_asyncio.leaderelection``, whose ``run()`` returns after the first lost
renewal, whose lock swallows RBAC errors so a denied replica silently stays follower, whose
lease catches only ``ApiException`` (a connection error escapes and leaves the leader's work
running), and whose deadlines use wall-clock time.

How it stays correct with two (or more) replicas:

- every write of the Lease is conditional on the resourceVersion just read (create for a new
  Lease), so of two candidates only one can take it; the other gets Conflict/AlreadyExists;
- a follower never compares the Lease's ``renewTime`` with its own clock: it notes *when it saw
  the Lease change* (on its monotonic clock) and takes over only after ``leaseDurationSeconds``
  without a change (client-go's observedTime);
- the leader stops — cancels and awaits its work — once it has not renewed for
  ``renew_deadline``, which is shorter than ``lease_duration``, so its work has ended before
  anyone else may acquire the Lease; it also stops at once when it reads another holder.

Every exit of :meth:`LeaderElector.run` cancels and awaits the work first. On a graceful exit
(cancellation, or the work returning or failing) the Lease is released — holder cleared — so a
standby takes over without waiting for the lease to expire. Failed Lease reads and writes are
counted; after ``max_failures`` in a row the elector logs an error and turns :attr:`healthy`
False (readiness), because a replica that is denied the Lease must not just wait silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from wfe.kube.client import LEASES, Client, KubeObject
from wfe.kube.clock import Clock, SystemClock
from wfe.kube.errors import AlreadyExists, ApiError, Conflict, NotFound, Unavailable

__all__ = ["LeaderElector", "default_identity"]

_log = structlog.get_logger(__name__)


def default_identity() -> str:
    """``hostname_random``: unique per process, readable in ``kubectl get lease``."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def _micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """Contend for Lease ``namespace/name``; run work only while holding it.

    Args:
        client: the API client. Lease renewals are writes; give the elector a
            :class:`~wfe.kube.client.Client` of its own if you count writes per object.
        name: the Lease name, e.g. ``workflowexecution.kubernaut.ai``.
        namespace: where the Lease lives.
        identity: this replica's holder identity (default :func:`default_identity`).
        lease_duration: seconds a follower waits without seeing a renewal before taking over.
        renew_deadline: seconds the leader keeps trying to renew before it gives up leading.
        retry_period: seconds between attempts to acquire or renew.
        max_failures: consecutive failed Lease reads/writes before escalating (error log,
            ``healthy`` False).
        on_change: called with True when this replica starts leading, False when it stops
            (wire the leader gauge to it).
        on_failure: called with each failed Lease read or write (wire a counter to it).
        clock: time source for the waits and the lease timing.
    """

    def __init__(
        self,
        client: Client,
        *,
        name: str,
        namespace: str,
        identity: str | None = None,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        max_failures: int = 3,
        on_change: Callable[[bool], None] | None = None,
        on_failure: Callable[[ApiError], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not 0 < retry_period < renew_deadline < lease_duration:
            raise ValueError("need 0 < retry_period < renew_deadline < lease_duration")
        self.client = client
        self.name = name
        self.namespace = namespace
        self.identity = identity or default_identity()
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.max_failures = max_failures
        self._on_change = on_change
        self._on_failure = on_failure
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._is_leader = False
        self._lease: KubeObject | None = None  # last Lease we read or wrote
        self._observed_rv = ""
        self._observed_at = 0.0
        self._last_renew = 0.0
        self.holder = ""
        """The holder identity last seen on the Lease ("" if none)."""
        self.healthy = True
        """False after ``max_failures`` consecutive failed Lease calls, until one succeeds."""
        self.failures_total = 0
        self.consecutive_failures = 0
        self.last_error: ApiError | None = None

    @property
    def is_leader(self) -> bool:
        """Whether this replica holds the Lease and its work runs."""
        return self._is_leader

    async def run(self, work: Callable[[], Awaitable[None]]) -> None:
        """Contend for the Lease forever; while leading, run ``work()``.

        When the lease is lost the work is cancelled and awaited and contention resumes. When
        ``work`` returns, ``run`` releases the Lease and returns; when it raises, ``run``
        releases the Lease and re-raises. Cancelling ``run`` cancels and awaits the work, then
        releases the Lease (best effort, bounded by ``renew_deadline``).
        """
        try:
            while True:
                await self._acquire()
                finished = await self._lead(work)
                if finished:
                    return
                await self._clock.sleep(self._jittered(self.retry_period))
        finally:
            if self._holds_lease():
                await self._release()

    # -- contention --------------------------------------------------------------------------

    async def _acquire(self) -> None:
        _log.info("contending for leader lease", lease=self.name, identity=self.identity)
        while True:
            if await self._attempt(timeout=self.renew_deadline):
                return
            await self._clock.sleep(self._jittered(self.retry_period))

    async def _lead(self, work: Callable[[], Awaitable[None]]) -> bool:
        """Run ``work`` while renewing; True if it finished, False if the lease was lost."""
        self._set_leader(True)
        task = asyncio.ensure_future(work())
        try:
            while True:
                remaining = self._last_renew + self.renew_deadline - self._clock.now()
                if remaining <= 0:
                    _log.error(
                        "leader lease not renewed in time, stopping",
                        lease=self.name,
                        identity=self.identity,
                        deadline=self.renew_deadline,
                    )
                    return False
                await self._wait(task, min(self.retry_period, remaining))
                if task.done():
                    task.result()  # re-raises the work's exception
                    _log.info("leader work finished", lease=self.name, identity=self.identity)
                    return True
                remaining = self._last_renew + self.renew_deadline - self._clock.now()
                if remaining <= 0:
                    continue  # out of time: reported and returned at the top
                # The attempt may not outlive the deadline: past it, another replica may lead.
                if await self._attempt(timeout=remaining):
                    continue
                if self.holder and self.holder != self.identity:
                    _log.error(
                        "leader lease taken by another replica, stopping",
                        lease=self.name,
                        identity=self.identity,
                        holder=self.holder,
                    )
                    self._last_renew = -math.inf
                    return False
        finally:
            if not task.done():
                task.cancel()
            self._set_leader(False)
            # Wait for the work to wind down before anything else happens: a released or
            # expired Lease lets another replica act. (asyncio.wait does not raise the work's
            # errors; a second cancellation of *this* task does propagate.)
            await asyncio.wait({task})
            if not task.cancelled() and task.exception() is not None:
                _log.debug("leader work ended with an error", error=repr(task.exception()))

    async def _wait(self, task: asyncio.Future[None], seconds: float) -> None:
        sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
        try:
            await asyncio.wait({task, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sleeper

    async def _attempt(self, *, timeout: float) -> bool:
        """One acquire-or-renew; True if we hold the Lease now. Counts failures."""
        try:
            async with asyncio.timeout(timeout):
                acquired = await self._try_acquire_or_renew()
        except TimeoutError as exc:
            self._failed(
                Unavailable(f"lease call timed out after {timeout:.3g} s", reason="Timeout")
            )
            del exc
            return False
        except ApiError as exc:
            self._failed(exc)
            return False
        self._succeeded()
        return acquired

    async def _try_acquire_or_renew(self) -> bool:
        now = self._clock.now()
        try:
            lease = await self.client.get(LEASES, self.namespace, self.name)
        except NotFound:
            try:
                created = await self.client.create(LEASES, self.namespace, self._new_lease())
            except AlreadyExists:
                return False  # another replica created it first
            self._observe(created, now)
            self._last_renew = now
            return True
        self._observe(lease, now)
        spec: dict[str, Any] = lease.get("spec") or {}
        duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
        if self.holder and self.holder != self.identity and self._observed_at + duration > now:
            return False  # held by another replica and not expired
        new_spec = dict(spec)
        stamp = _micro_time()
        if self.holder != self.identity:
            new_spec["acquireTime"] = stamp
            # Counted on every change of holder, a released (empty) one included (client-go).
            new_spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        new_spec["holderIdentity"] = self.identity
        new_spec["leaseDurationSeconds"] = math.ceil(self.lease_duration)
        new_spec["renewTime"] = stamp
        try:
            replaced = await self.client.replace(
                LEASES, self.namespace, self.name, {**lease, "spec": new_spec}
            )
        except Conflict:
            return False  # someone wrote it since our read
        self._observe(replaced, now)
        self._last_renew = now
        return True

    def _new_lease(self) -> KubeObject:
        stamp = _micro_time()
        return {
            "apiVersion": LEASES.api_version,
            "kind": LEASES.kind,
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": math.ceil(self.lease_duration),
                "acquireTime": stamp,
                "renewTime": stamp,
                "leaseTransitions": 0,
            },
        }

    def _observe(self, lease: KubeObject, now: float) -> None:
        self._lease = lease
        self.holder = str((lease.get("spec") or {}).get("holderIdentity") or "")
        rv = str(lease.get("metadata", {}).get("resourceVersion") or "")
        if rv != self._observed_rv:
            self._observed_rv = rv
            self._observed_at = now

    def _holds_lease(self) -> bool:
        return (
            self.holder == self.identity
            and self._lease is not None
            and self._clock.now() - self._last_renew < self.lease_duration
        )

    async def _release(self) -> None:
        """Clear the holder so a standby takes over at once (best effort)."""
        lease = self._lease
        if lease is None:
            return
        spec = dict(lease.get("spec") or {})
        stamp = _micro_time()
        spec.update(holderIdentity="", leaseDurationSeconds=1, renewTime=stamp, acquireTime=stamp)
        try:
            async with asyncio.timeout(self.renew_deadline):
                released = await self.client.replace(
                    LEASES, self.namespace, self.name, {**lease, "spec": spec}
                )
        except (ApiError, TimeoutError) as exc:
            _log.warning("could not release leader lease", lease=self.name, error=str(exc))
            return
        self._observe(released, self._clock.now())
        _log.info("released leader lease", lease=self.name, identity=self.identity)

    # -- bookkeeping -------------------------------------------------------------------------

    def _set_leader(self, leading: bool) -> None:
        if leading == self._is_leader:
            return
        self._is_leader = leading
        _log.info(
            "started leading" if leading else "stopped leading",
            lease=self.name,
            identity=self.identity,
        )
        if self._on_change is not None:
            try:
                self._on_change(leading)
            except Exception:
                _log.exception("leader on_change callback failed")

    def _failed(self, exc: ApiError) -> None:
        self.failures_total += 1
        self.consecutive_failures += 1
        self.last_error = exc
        if self._on_failure is not None:
            try:
                self._on_failure(exc)
            except Exception:
                _log.exception("leader on_failure callback failed")
        fields = {
            "lease": self.name,
            "identity": self.identity,
            "error": str(exc),
            "consecutive_failures": self.consecutive_failures,
        }
        if self.consecutive_failures >= self.max_failures:
            if self.healthy:
                self.healthy = False
            _log.error("leader election is failing", **fields)
        else:
            _log.warning("leader lease call failed", **fields)

    def _succeeded(self) -> None:
        if not self.healthy:
            _log.info("leader election recovered", lease=self.name, identity=self.identity)
        self.consecutive_failures = 0
        self.healthy = True

    def _jittered(self, seconds: float) -> float:
        return seconds * random.uniform(1.0, 1.2)  # jitter, not cryptography
