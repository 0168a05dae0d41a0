"""Tekton simulator, driver: plays Tekton's controller against a real API server.

A test and dev tool (TESTENV.md, "Tekton's API without Tekton"): nothing can run pipelines on
the local control plane, so :class:`TektonSimulator` watches the ``tekton.dev/v1`` PipelineRuns
of one namespace and writes what Tekton would: the TaskRuns (created with Tekton's labels and
owner reference, then their ``status`` subresource) and the PipelineRun's ``status``, advancing
each run on a timer until it is finished. What it writes comes from the pure
:func:`wfe.dev.tekton_scenarios.simulate`; which scenario and how long is chosen per
PipelineRun (see that module).

Shape of the loop: list, then watch from the list's resourceVersion (bookmarks on); a watch that
ends is resumed from the last resourceVersion; ``410 Gone`` or any other error re-lists (after a
short delay for errors). A second task advances every tracked run whenever the watch reports a
change or its next simulated event is due, and writes only what changed. Writes are JSON merge
patches (``application/merge-patch+json``: kubernetes_asyncio would send a dict as a strategic
merge patch, which custom resources refuse). A run is tracked by UID, so a PipelineRun deleted
and re-created under the same name (the lock, SPEC §3) starts a new simulation; a run found
in progress after a restart continues from its ``status.startTime``.

Run it by hand: ``python -m wfe.dev.tekton_sim --kubeconfig PATH --namespace NS
--default-scenario success``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import structlog
from kubernetes_asyncio import config, watch
from kubernetes_asyncio.client import ApiClient, CustomObjectsApi
from kubernetes_asyncio.client.exceptions import ApiException

from wfe.dev import tekton_shapes as shapes
from wfe.dev.tekton_scenarios import PENDING, Scenario, duration_for, scenario_for, simulate
from wfe.dev.tekton_shapes import Json

__all__ = ["MERGE_PATCH", "SimSettings", "TektonSimulator", "main"]

_log = structlog.get_logger(__name__)

GROUP, VERSION = "tekton.dev", "v1"
MERGE_PATCH = "application/merge-patch+json"
_WATCH_SECONDS = 300
_REQUEST_TIMEOUT = 30.0


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


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _succeeded(pipeline_run: Mapping[str, Any]) -> str | None:
    for cond in (pipeline_run.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Succeeded":
            return str(cond.get("status"))
    return None


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

    async def run(self) -> None:
        """Simulate until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._watch_forever())
            group.create_task(self._advance_forever())

    # -- observing -------------------------------------------------------------------------------

    async def _watch_forever(self) -> None:
        while True:
            try:
                version = await self._list()
                await self._watch(version)
            except ApiException as exc:
                if exc.status == 410:
                    _log.info("tekton simulator: watch expired, re-listing")
                    continue
                _log.warning("tekton simulator: list/watch failed", status=exc.status)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                _log.warning("tekton simulator: list/watch failed", error=str(exc))
            await asyncio.sleep(self._settings.retry_delay)

    async def _list(self) -> str:
        listing = await self._api.list_namespaced_custom_object(
            GROUP, VERSION, self._namespace, "pipelineruns", _request_timeout=_REQUEST_TIMEOUT
        )
        seen = set()
        for item in listing.get("items") or []:
            seen.add(str(item["metadata"]["uid"]))
            self._observe("ADDED", item)
        for uid in set(self._runs) - seen:  # deleted while we were not watching
            del self._runs[uid]
        self._finished &= seen
        return str(listing["metadata"]["resourceVersion"])

    async def _watch(self, version: str) -> None:
        while True:
            stream = watch.Watch()
            async with stream:
                async for event in stream.stream(
                    self._api.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    self._namespace,
                    "pipelineruns",
                    resource_version=version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=_WATCH_SECONDS,
                ):
                    if event["type"] != "BOOKMARK":
                        self._observe(event["type"], event["raw_object"])
                version = stream.resource_version or version

    def _observe(self, kind: str, pipeline_run: Json) -> None:
        uid = str(pipeline_run["metadata"]["uid"])
        if kind == "DELETED":
            self._runs.pop(uid, None)
            self._finished.discard(uid)
            return
        if uid in self._finished:
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
            except (ApiException, aiohttp.ClientError, TimeoutError, OSError) as exc:
                name = run.pipeline_run["metadata"]["name"]
                _log.warning("tekton simulator: write failed", pipelinerun=name, error=str(exc))
                due = self._settings.retry_delay
            if due is not None:
                wait = min(wait, max(due, 0.0))
        return wait

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
            self._runs.pop(run.uid, None)
            return None
        return None if state.next_change is None else state.next_change - elapsed

    async def _write_task_run(self, run: _Run, task_run: Json) -> None:
        meta = task_run["metadata"]
        name = str(meta["name"])
        written = run.task_runs.get(name)
        if written is None:
            body = {
                "apiVersion": task_run["apiVersion"],
                "kind": task_run["kind"],
                "metadata": {
                    k: meta[k] for k in ("name", "labels", "annotations", "ownerReferences")
                },
                "spec": task_run["spec"],
            }
            try:
                await self._api.create_namespaced_custom_object(
                    GROUP, VERSION, self._namespace, "taskruns", body,
                    _request_timeout=_REQUEST_TIMEOUT,
                )  # fmt: skip
            except ApiException as exc:
                if exc.status != 409:
                    raise
            written = (dict(task_run["spec"]), {})
        spec, status = written
        if task_run["spec"] != spec:
            change = {k: task_run["spec"].get(k) for k in ("status", "statusMessage")}
            await self._merge_patch("taskruns", name, {"spec": change})
        if task_run["status"] != status:
            await self._patch_status("taskruns", name, task_run["status"])
        run.task_runs[name] = (task_run["spec"], task_run["status"])

    async def _patch_status(self, plural: str, name: str, status: Json) -> None:
        await self._merge_patch(plural, name, {"status": status}, subresource="status")

    async def _merge_patch(
        self, plural: str, name: str, body: Mapping[str, Any], *, subresource: str = ""
    ) -> None:
        # The bundled stubs omit ``_content_type``, which the generated methods accept.
        patch: Callable[..., Awaitable[Any]] = (
            self._api.patch_namespaced_custom_object_status
            if subresource == "status"
            else self._api.patch_namespaced_custom_object
        )
        await patch(
            GROUP, VERSION, self._namespace, plural, name, dict(body),
            _content_type=MERGE_PATCH, _request_timeout=_REQUEST_TIMEOUT,
        )  # fmt: skip

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
        self._runs.pop(run.uid, None)


def _scenario_mapping(values: Sequence[str]) -> dict[str, Scenario]:
    mapping: dict[str, Scenario] = {}
    for value in values:
        target, sep, scenario = value.rpartition("=")
        if not sep or not target:
            raise argparse.ArgumentTypeError(f"expected TARGET=SCENARIO, got {value!r}")
        mapping[target] = Scenario(scenario)
    return mapping


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wfe.dev.tekton_sim",
        description="Tekton simulator (test and dev tool): plays Tekton's controller for the "
        "PipelineRuns of one namespace.",
    )
    parser.add_argument("--kubeconfig", required=True, help="kubeconfig of the API server")
    parser.add_argument("--namespace", default="kubernaut-workflows", help="namespace to watch")
    parser.add_argument(
        "--default-scenario",
        default=Scenario.SUCCESS.value,
        choices=[s.value for s in Scenario],
        help="scenario when a PipelineRun names none (annotation sim.kubernaut.ai/scenario "
        "or parameter SIM_SCENARIO)",
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="default scenario duration in seconds"
    )
    parser.add_argument(
        "--scenario-for",
        action="append",
        default=[],
        metavar="TARGET=SCENARIO",
        help="scenario for the PipelineRuns of a target (repeatable)",
    )
    return parser


async def _serve(args: argparse.Namespace) -> None:
    settings = SimSettings(
        default_scenario=Scenario(args.default_scenario),
        default_duration=args.duration,
        scenario_by_target=_scenario_mapping(args.scenario_for),
    )
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        if task is not None:
            loop.add_signal_handler(sig, task.cancel)
    api = await config.new_client_from_config(config_file=args.kubeconfig)
    async with api:
        _log.info("tekton simulator: watching", namespace=args.namespace)
        with contextlib.suppress(asyncio.CancelledError):
            await TektonSimulator(api, args.namespace, settings).run()


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (``python -m wfe.dev.tekton_sim``); returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _scenario_mapping(args.scenario_for)
    except (argparse.ArgumentTypeError, ValueError) as exc:
        parser.error(str(exc))
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
