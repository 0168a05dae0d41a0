"""Tekton simulator, driver: plays Tekton's controller against a real API server.

A test and dev tool (docs/testenv.md, "The Tekton simulator"): nothing can run pipelines on
the local control plane, so :class:`TektonSimulator` watches the ``tekton.dev/v1`` PipelineRuns
of one namespace and writes what Tekton would: the TaskRuns (created with Tekton's labels and
controller ownerReference, then their ``status`` subresource) and the PipelineRun's ``status``,
advancing each run on a timer until it is finished. What it writes comes from the pure
:func:`wfe.dev.tekton_scenarios.simulate`; which scenario and how long is chosen per
PipelineRun (see that module).

Observing is :class:`wfe.dev.tekton_watch.ListWatch`: it survives expired resourceVersions,
dropped connections, API server restarts and the CRDs being deleted and created again. A
second task advances every tracked run whenever the watch reports a change or its next
simulated event is due, and writes only what changed. Writes are JSON merge patches
(``application/merge-patch+json``: kubernetes_asyncio would send a dict as a strategic merge
patch, which custom resources refuse). A failed write is retried after ``retry_delay`` and
logged once until it succeeds; a ``404`` on the PipelineRun forgets the run (it is gone), on a
TaskRun forgets the TaskRun (it is created again, as Tekton would).

A run is tracked by UID, so a PipelineRun deleted and re-created under the same name (the lock,
SPEC §3) starts a new simulation; a run found in progress after a restart continues from its
``status.startTime``; a PipelineRun being deleted is left alone, as Tekton's reconciler leaves
it. A TaskRun name still taken by a TaskRun of an earlier PipelineRun (not yet removed by the
garbage collector) is not touched: the run waits until its own TaskRun can be created. Tekton
would take the leftover for its own (it finds TaskRuns by name); waiting keeps every run's
TaskRuns its own, which is what the controller's tests need to see.

Run it by hand: ``python -m wfe.dev.tekton_sim --kubeconfig PATH --namespace NS
--default-scenario success``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import structlog
from kubernetes_asyncio.client import ApiClient, CustomObjectsApi
from kubernetes_asyncio.client.exceptions import ApiException

from wfe.dev import tekton_shapes as shapes
from wfe.dev.tekton_scenarios import (
    PENDING,
    Scenario,
    duration_for,
    running_for,
    scenario_for,
    simulate,
)
from wfe.dev.tekton_shapes import Json
from wfe.dev.tekton_watch import ListWatch

__all__ = ["MERGE_PATCH", "SimSettings", "TektonSimulator"]

_log = structlog.get_logger(__name__)

GROUP, VERSION = "tekton.dev", "v1"
MERGE_PATCH = "application/merge-patch+json"
_REQUEST_TIMEOUT = 30.0
# What a write may fail with and be retried after: the API server or the network, a CRD gone.
_WRITE_ERRORS = (ApiException, aiohttp.ClientError, TimeoutError, OSError, ValueError)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimSettings:
    """How the simulator picks scenarios and how often it looks.

    ``default_scenario``/``default_duration`` apply when a PipelineRun names none;
    ``scenario_by_target`` maps a raw target (annotation ``kubernaut.ai/target-resource``)
    to a scenario; ``max_wait`` bounds the sleep between checks; ``retry_delay`` is the
    pause after a failed list, watch or write.
    """

    default_scenario: Scenario = Scenario.SUCCESS
    default_duration: float = 10.0
    scenario_by_target: Mapping[str, Scenario] = field(default_factory=dict)
    max_wait: float = 1.0
    retry_delay: float = 1.0


@dataclass(slots=True)
class _Run:
    uid: str
    start: datetime
    pipeline_run: Json
    stop_seen_at: float | None = None
    pending: bool = False
    written_status: Json | None = None
    written_labels: bool = False
    task_runs: dict[str, tuple[Json, Json]] = field(default_factory=dict)
    warned: str | None = None  # the last write failure logged, so each is logged once


class _Deferred(Exception):
    """Not this round: a TaskRun of an earlier PipelineRun still holds the name."""


class _Gone(Exception):
    """The run's PipelineRun answered 404: deleted, or no longer served."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _succeeded(pipeline_run: Mapping[str, Any]) -> str | None:
    for cond in (pipeline_run.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Succeeded":
            return str(cond.get("status"))
    return None


def _owned_by(task_run: Mapping[str, Any], uid: str) -> bool:
    refs = (task_run.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("uid") == uid for ref in refs)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class TektonSimulator:
    """Watches PipelineRuns in ``namespace`` and writes what Tekton would (see module doc)."""

    def __init__(
        self,
        api: ApiClient,
        namespace: str,
        settings: SimSettings | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,  # tests may pass a fake clock
    ) -> None:
        self._api = CustomObjectsApi(api)
        self._namespace = namespace
        self._settings = settings or SimSettings()
        self._clock = clock
        self._runs: dict[str, _Run] = {}
        self._finished: set[str] = set()
        self._wake = asyncio.Event()

    @property
    def held(self) -> dict[str, str]:
        """Why runs are held up right now, by PipelineRun name (for tests and debugging)."""
        return {
            str(run.pipeline_run["metadata"]["name"]): run.warned
            for run in self._runs.values()
            if run.warned is not None
        }

    async def run(self) -> None:
        """Simulate until cancelled."""
        watcher = ListWatch(
            self._api,
            self._namespace,
            "pipelineruns",
            on_listing=self._relisted,
            on_event=self._observe,
            on_not_served=self._forget_all,
            retry_delay=self._settings.retry_delay,
        )
        async with asyncio.TaskGroup() as group:
            group.create_task(watcher.run())
            group.create_task(self._advance_forever())

    # -- observing -------------------------------------------------------------------------------

    def _relisted(self, items: list[Json]) -> None:
        seen = set()
        for item in items:
            seen.add(str(item["metadata"]["uid"]))
            self._observe("ADDED", item)
        for uid in set(self._runs) - seen:  # deleted while we were not watching
            del self._runs[uid]
        self._finished &= seen

    def _forget_all(self) -> None:
        """PipelineRuns are not served (their CRD is gone): none exists any more."""
        self._runs.clear()
        self._finished.clear()

    def _observe(self, kind: str, pipeline_run: Json) -> None:
        uid = str(pipeline_run["metadata"]["uid"])
        if kind == "DELETED":
            self._runs.pop(uid, None)
            self._finished.discard(uid)
            return
        if uid in self._finished:
            return
        if pipeline_run["metadata"].get("deletionTimestamp"):
            # Tekton's reconciler does nothing with a PipelineRun being deleted (it has no
            # finalizer); the garbage collector is removing its TaskRuns.
            self._runs.pop(uid, None)
            self._finished.add(uid)
            return
        run = self._runs.get(uid)
        if run is None:
            if _succeeded(pipeline_run) in ("True", "False"):
                return  # finished before we saw it (or by an earlier simulator)
            started = _parse_time((pipeline_run.get("status") or {}).get("startTime"))
            # Whole seconds, as status.startTime stores it: a restarted simulator resumes exactly.
            start = started or self._clock().replace(microsecond=0)
            run = _Run(uid=uid, start=start, pipeline_run=pipeline_run)
            self._runs[uid] = run
        run.pipeline_run = pipeline_run
        spec_status = (pipeline_run.get("spec") or {}).get("status")
        if spec_status == PENDING or run.pending:  # a pending run starts once released
            run.pending = spec_status == PENDING
            run.start = self._clock().replace(microsecond=0)
        elif spec_status and run.stop_seen_at is None:
            run.stop_seen_at = (self._clock() - run.start).total_seconds()
        self._wake.set()

    # -- advancing -------------------------------------------------------------------------------

    async def _advance_forever(self) -> None:
        while True:
            self._wake.clear()
            wait = await self.advance()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def advance(self) -> float:
        """Write every tracked run's current state; the seconds until the next is due."""
        wait = self._settings.max_wait
        for run in list(self._runs.values()):
            try:
                due = await self._advance(run)
                run.warned = None
            except _Gone:
                self._forget(run)  # deleted under us (or its CRD was): the watch says so too
                due = None
            except _Deferred as exc:
                self._note_once(run, "tekton simulator: waiting", str(exc), warn=False)
                due = self._settings.retry_delay
            except _WRITE_ERRORS as exc:
                error = f"{type(exc).__name__}: {exc}".splitlines()[0]
                self._note_once(run, "tekton simulator: write failed, retrying", error)
                due = self._settings.retry_delay
            if due is not None:
                wait = min(wait, max(due, 0.0))
        return wait

    def _note_once(self, run: _Run, event: str, error: str, *, warn: bool = True) -> None:
        """Log why a run is held up, once until that changes (not at every retry)."""
        if run.warned != error:
            run.warned = error
            name = run.pipeline_run["metadata"]["name"]
            (_log.warning if warn else _log.info)(event, pipelinerun=name, error=error)

    def _forget(self, run: _Run) -> None:
        self._runs.pop(run.uid, None)

    async def _advance(self, run: _Run) -> float | None:
        pr = run.pipeline_run
        name = str(pr["metadata"]["name"])
        elapsed = (self._clock() - run.start).total_seconds()
        try:
            scenario = scenario_for(
                pr,
                default=self._settings.default_scenario,
                by_target=self._settings.scenario_by_target,
            )
            duration = duration_for(pr, default=self._settings.default_duration)
            running = running_for(pr)
        except ValueError as exc:
            await self._refuse(run, str(exc))
            return None
        state = simulate(
            pr,
            scenario=scenario,
            start=run.start,
            elapsed=elapsed,
            duration=duration,
            stop_seen_at=run.stop_seen_at,
            running=running,
        )
        labels = pr["metadata"].get("labels") or {}
        if state.labels and not run.written_labels:
            if any(labels.get(k) != v for k, v in state.labels.items()):
                patch = {"metadata": {"labels": dict(state.labels)}}
                await self._merge_patch("pipelineruns", name, patch)
            run.written_labels = True
        for task_run in state.task_runs:
            await self._write_task_run(run, task_run)
        if state.status != run.written_status:
            await self._patch_status("pipelineruns", name, state.status)
            run.written_status = state.status
            _log.info(
                "tekton simulator: pipelinerun status",
                pipelinerun=name,
                scenario=scenario.value,
                reason=state.status["conditions"][0]["reason"],
            )
        if state.done:
            self._finished.add(run.uid)
            self._forget(run)
            return None
        return None if state.next_change is None else state.next_change - elapsed

    async def _write_task_run(self, run: _Run, task_run: Json) -> None:
        meta = task_run["metadata"]
        name = str(meta["name"])
        written = run.task_runs.get(name)
        if written is None:
            await self._create_task_run(run, task_run)
            written = (dict(task_run["spec"]), {})
        spec, status = written
        try:
            if task_run["spec"] != spec:
                change = {k: task_run["spec"].get(k) for k in ("status", "statusMessage")}
                await self._merge_patch("taskruns", name, {"spec": change}, owner=False)
            if task_run["status"] != status:
                await self._patch_status("taskruns", name, task_run["status"], owner=False)
        except ApiException as exc:
            if exc.status == 404:  # deleted by someone: Tekton would create it again
                run.task_runs.pop(name, None)
            raise
        run.task_runs[name] = (task_run["spec"], task_run["status"])

    async def _create_task_run(self, run: _Run, task_run: Json) -> None:
        meta = task_run["metadata"]
        name = str(meta["name"])
        body = {
            "apiVersion": task_run["apiVersion"],
            "kind": task_run["kind"],
            "metadata": {k: meta[k] for k in ("name", "labels", "annotations", "ownerReferences")},
            "spec": task_run["spec"],
        }
        try:
            await self._api.create_namespaced_custom_object(
                GROUP, VERSION, self._namespace, "taskruns", body,
                _request_timeout=_REQUEST_TIMEOUT,
            )  # fmt: skip
            return
        except ApiException as exc:
            if exc.status != 409:
                raise
        # The name is taken: by our own TaskRun (a restarted simulator, a lost response), or by
        # one of an earlier PipelineRun of the same name that the garbage collector has not
        # removed yet. Only our own is ours to write.
        existing = await self._api.get_namespaced_custom_object(
            GROUP, VERSION, self._namespace, "taskruns", name, _request_timeout=_REQUEST_TIMEOUT
        )
        if not _owned_by(existing, run.uid):
            raise _Deferred(
                f"TaskRun {name} belongs to an earlier PipelineRun of this name; "
                "waiting for the garbage collector to remove it"
            )

    async def _patch_status(
        self, plural: str, name: str, status: Json, *, owner: bool = True
    ) -> None:
        await self._merge_patch(plural, name, {"status": status}, subresource="status", owner=owner)

    async def _merge_patch(
        self,
        plural: str,
        name: str,
        body: Mapping[str, Any],
        *,
        subresource: str = "",
        owner: bool = True,
    ) -> None:
        """Merge-patch ``plural/name``; ``owner``: a 404 means the run's PipelineRun is gone."""
        # The bundled stubs omit ``_content_type``, which the generated methods accept.
        patch: Callable[..., Awaitable[Any]] = (
            self._api.patch_namespaced_custom_object_status
            if subresource == "status"
            else self._api.patch_namespaced_custom_object
        )
        try:
            await patch(
                GROUP, VERSION, self._namespace, plural, name, dict(body),
                _content_type=MERGE_PATCH, _request_timeout=_REQUEST_TIMEOUT,
            )  # fmt: skip
        except ApiException as exc:
            if owner and exc.status == 404:
                raise _Gone from exc
            raise

    async def _refuse(self, run: _Run, error: str) -> None:
        """A PipelineRun asking for an unknown scenario fails visibly instead of hanging."""
        now = self._clock()
        text = f"tekton simulator: {error}"
        status = {
            "startTime": shapes.timestamp(run.start),
            "completionTime": shapes.timestamp(now),
            "conditions": shapes.condition("False", "PipelineValidationFailed", text, now),
        }
        await self._patch_status("pipelineruns", str(run.pipeline_run["metadata"]["name"]), status)
        _log.warning("tekton simulator: refused pipelinerun", error=error)
        self._finished.add(run.uid)
        self._forget(run)


if __name__ == "__main__":  # python -m wfe.dev.tekton_sim: the command line's own module
    from wfe.dev.tekton_sim_cli import main

    raise SystemExit(main())
