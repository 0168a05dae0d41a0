"""Tekton simulator, pure part: what Tekton would have written for a PipelineRun by now.

A test and dev tool (docs/testenv.md, "The Tekton simulator"): Tekton's controller cannot run
here, so :func:`simulate` plays it. Given a PipelineRun, a :class:`Scenario`, when the run was
first seen and how long ago that was, it returns the PipelineRun ``status`` and the TaskRuns
Tekton v1.15.1 would have stored at that moment, in the shapes of ``tests/core/tekton_corpus``.
:mod:`wfe.dev.tekton_sim` writes them to an API server; :mod:`wfe.dev.tekton_plan` explains the
timeline and :mod:`wfe.dev.tekton_taskruns` the TaskRuns.

A scenario is chosen per PipelineRun: annotation ``sim.kubernaut.ai/scenario``, else the
parameter ``SIM_SCENARIO``, else a per-target mapping (annotation
``kubernaut.ai/target-resource``), else a default. Its duration ``D`` (from the start to the
scenario's own end: a tenth resolving, the rest running its tasks; see
:mod:`wfe.dev.tekton_plan`) comes from annotation ``sim.kubernaut.ai/duration`` (seconds), else
a default. The parameter ``SIM_DURATION`` (a Go duration: ``30s``, ``1h``) sets the running
phase instead, whatever the scenario: after the usual resolution its tasks take that long, so
that stuck and cancelled runs can be rehearsed (:func:`running_for`). A PipelineRun created
with ``spec.status: PipelineRunPending`` stays pending (no start, no TaskRuns) until that is
cleared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wfe.core.durations import parse_duration
from wfe.dev import tekton_shapes as shapes
from wfe.dev.tekton_plan import CONFIG_SCENARIOS, TASKS, Scenario, Timeline, pipeline_spec
from wfe.dev.tekton_shapes import Json
from wfe.dev.tekton_taskruns import task_run

__all__ = [
    "DURATION_ANNOTATION",
    "DURATION_PARAMETER",
    "PENDING",
    "SCENARIO_ANNOTATION",
    "SCENARIO_PARAMETER",
    "TARGET_ANNOTATION",
    "Scenario",
    "SimulatedRun",
    "duration_for",
    "running_for",
    "scenario_for",
    "simulate",
]

SCENARIO_ANNOTATION = "sim.kubernaut.ai/scenario"
DURATION_ANNOTATION = "sim.kubernaut.ai/duration"
SCENARIO_PARAMETER = "SIM_SCENARIO"
DURATION_PARAMETER = "SIM_DURATION"
TARGET_ANNOTATION = "kubernaut.ai/target-resource"
PENDING = "PipelineRunPending"
_MISSING_PARAMETER = "CHANGE_TICKET"


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatedRun:
    """What Tekton would have written by now.

    ``status`` is the PipelineRun's whole status, ``task_runs`` the TaskRuns (metadata without
    server-set fields, spec, status), ``labels`` the labels Tekton adds to the PipelineRun,
    ``done`` whether the run has finished, ``next_change`` the elapsed second at which the
    state changes next on its own (None: only a stop request can change it).
    """

    status: Json
    task_runs: tuple[Json, ...]
    labels: Mapping[str, str]
    done: bool
    next_change: float | None


def scenario_for(
    pipeline_run: Mapping[str, Any],
    *,
    default: Scenario,
    by_target: Mapping[str, Scenario] | None = None,
) -> Scenario:
    """The scenario: annotation, then ``SIM_SCENARIO`` param, then target mapping, then default.

    Raises:
        ValueError: the annotation or the parameter names no scenario.
    """
    annotations = (pipeline_run.get("metadata") or {}).get("annotations") or {}
    name = annotations.get(SCENARIO_ANNOTATION)
    if name is None:
        for param in (pipeline_run.get("spec") or {}).get("params") or []:
            if param.get("name") == SCENARIO_PARAMETER:
                name = param.get("value")
    if name is None:
        return (by_target or {}).get(str(annotations.get(TARGET_ANNOTATION)), default)
    try:
        return Scenario(str(name))
    except ValueError:
        known = ", ".join(s.value for s in Scenario)
        raise ValueError(f"unknown Tekton simulator scenario {name!r} (known: {known})") from None


def duration_for(pipeline_run: Mapping[str, Any], *, default: float) -> float:
    """Seconds from annotation ``sim.kubernaut.ai/duration``, else ``default``.

    Raises:
        ValueError: the annotation is not a positive number.
    """
    annotations = (pipeline_run.get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(DURATION_ANNOTATION)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ValueError(f"{DURATION_ANNOTATION} must be a positive number of seconds: {raw!r}")
    return value


def running_for(pipeline_run: Mapping[str, Any]) -> float | None:
    """Seconds of running phase from parameter ``SIM_DURATION`` (a Go duration), else None.

    Raises:
        ValueError: the parameter is not a positive Go duration.
    """
    for param in (pipeline_run.get("spec") or {}).get("params") or []:
        if param.get("name") == DURATION_PARAMETER:
            text = str(param.get("value"))
            try:
                seconds = parse_duration(text).total_seconds()
            except ValueError:
                seconds = 0.0
            if not seconds > 0:
                raise ValueError(
                    f"{DURATION_PARAMETER} must be a positive Go duration such as 30s: {text!r}"
                )
            return seconds
    return None


def simulate(
    pipeline_run: Mapping[str, Any],
    *,
    scenario: Scenario,
    start: datetime,
    elapsed: float,
    duration: float,
    stop_seen_at: float | None = None,
    running: float | None = None,
) -> SimulatedRun:
    """The status and TaskRuns Tekton would have written ``elapsed`` seconds after ``start``.

    ``start`` is when the run was first seen (it becomes ``status.startTime``); ``duration``
    the scenario's length; ``stop_seen_at`` the elapsed second at which ``spec.status`` was
    first seen set (the caller remembers it; when ``spec.status`` is set and it is None, the
    stop happens now); ``running`` the length of the running phase when ``SIM_DURATION`` sets
    it (:func:`running_for`).
    """
    if (pipeline_run.get("spec") or {}).get("status") == PENDING:
        # pipelinerun.go: a pending run is not started (no startTime) and creates nothing.
        name = (pipeline_run.get("metadata") or {}).get("name")
        text = f'PipelineRun "{name}" is pending'
        return SimulatedRun(
            status={"conditions": shapes.condition("Unknown", "PipelineRunPending", text, start)},
            task_runs=(),
            labels={},
            done=False,
            next_change=None,
        )
    timeline = Timeline.of(
        pipeline_run,
        scenario=scenario,
        start=start,
        elapsed=elapsed,
        duration=duration,
        stop_seen_at=stop_seen_at,
        running=running,
    )
    runs = tuple(task_run(timeline, life) for life in timeline.created())
    return SimulatedRun(
        status=_status(timeline, runs),
        task_runs=runs,
        labels={"tekton.dev/pipeline": timeline.pipeline},
        done=timeline.done,
        next_change=timeline.next_change(),
    )


def _status(tl: Timeline, runs: tuple[Json, ...]) -> Json:
    """The PipelineRun status: pipelinerun.go reconcile + pipelinerunstate.go."""
    x, done = tl.x, tl.done
    status: Json = {"startTime": shapes.timestamp(tl.start)}
    resolved = x >= tl.resolved_at and tl.scenario is not Scenario.RESOLUTION_FAILED
    if not done and not resolved:
        text = f"PipelineRun {tl.namespace}/{tl.name} awaiting remote resource"
        status["conditions"] = shapes.condition("Unknown", "ResolvingPipelineRef", text, tl.start)
        return status
    if done:
        status["completionTime"] = shapes.timestamp(tl.at(x))
    if tl.scenario in CONFIG_SCENARIOS and tl.kind == "natural":
        return _config_failure(tl, status)
    if resolved:
        status["pipelineSpec"] = pipeline_spec(tl, substituted=True)
    succeeded, failed, cancelled, incomplete, skipped = _counts(tl, runs)
    finished = succeeded + failed + cancelled
    since = tl.at(x if done else tl.last_count_change())
    if not done:
        # GetPipelineConditionStatus while tasks remain.
        reason = "StoppedRunningFinally" if tl.mode == "StoppedRunFinally" else "Running"
        text = shapes.running_message(
            done=finished,
            failed=failed,
            cancelled=cancelled,
            incomplete=incomplete,
            skipped=len(skipped),
        )
        status["conditions"] = shapes.condition("Unknown", reason, text, since)
    elif tl.kind == "timeout":
        # SetTimeoutCondition: the pipeline timeout as Go prints a Duration.
        timeout = shapes.go_duration(tl.timeout or 0)
        text = f'PipelineRun "{tl.name}" failed to finish within "{timeout}"'
        status["conditions"] = shapes.condition("False", "PipelineRunTimeout", text, since)
    elif tl.kind == "cancel" or (tl.gracefully_stopped and not failed):
        # cancel.go cancelPipelineRun, or a graceful stop once nothing runs any more.
        text = f'PipelineRun "{tl.name}" was cancelled'
        status["conditions"] = shapes.condition("False", "Cancelled", text, since)
    else:
        text = shapes.done_message(
            done=finished, failed=failed, cancelled=cancelled, skipped=len(skipped)
        )
        ok = failed == 0 and cancelled == 0
        status["conditions"] = shapes.condition(
            "True" if ok else "False", "Succeeded" if ok else "Failed", text, since
        )
    if runs:
        tasks = [r["metadata"]["labels"]["tekton.dev/pipelineTask"] for r in runs]
        status["childReferences"] = shapes.child_references(tl.name, tasks)
    if skipped:
        status["skippedTasks"] = skipped
    if resolved:
        status["provenance"] = _provenance(tl)
    return status


def _counts(tl: Timeline, runs: tuple[Json, ...]) -> tuple[int, int, int, int, list[Json]]:
    """pipelinerunstate.go getPipelineTasksCount and GetSkippedTasks for the two tasks."""
    succeeded = failed = cancelled = incomplete = 0
    by_task = {r["metadata"]["labels"]["tekton.dev/pipelineTask"]: r for r in runs}
    skipped: list[Json] = []
    for task in TASKS:
        run = by_task.get(task)
        cond = run["status"]["conditions"][0] if run else None
        if run and cond and cond["status"] == "True":
            succeeded += 1
        elif run and cond and cond["status"] == "False":
            # isCancelledForTimeOut counts as failed; any other cancellation as cancelled.
            by_timeout = run["spec"].get("statusMessage") == shapes.TASKRUN_CANCELLED_BY_TIMEOUT
            if cond["reason"] == "TaskRunCancelled" and not by_timeout:
                cancelled += 1
            else:
                failed += 1
        elif cond:
            incomplete += 1
        elif failed and tl.kind != "timeout":
            skipped.append({"name": task, "reason": "PipelineRun was stopping"})
        elif tl.gracefully_stopped:
            skipped.append({"name": task, "reason": "PipelineRun was gracefully stopped"})
        elif tl.done and tl.kind == "cancel" and tl.mode == "CancelledRunFinally":
            skipped.append({"name": task, "reason": "PipelineRun was gracefully cancelled"})
        else:
            incomplete += 1
    return succeeded, failed, cancelled, incomplete, skipped


def _config_failure(tl: Timeline, status: Json) -> Json:
    """The PipelineRun fails on its Pipeline: resolution, missing or invalid parameters."""
    ns, name, at = tl.namespace, tl.name, tl.at(tl.x)
    ref = (tl.pipeline_run.get("spec") or {}).get("pipelineRef") or {}
    ref_params = ref.get("params") or []
    if tl.scenario is Scenario.RESOLUTION_FAILED:
        request = shapes.resolution_request_name(
            str(ref.get("resolver") or "bundles"), ns, name, ref_params
        )
        text = (
            f"Error retrieving pipeline for pipelinerun {ns}/{name}: resolver failed to get "
            f'Pipeline : error requesting remote resource: error getting "bundleresolver" '
            f'"{ns}/{request}": cannot retrieve the oci image: GET '
            f"{_manifest_url(_bundle(tl))}: MANIFEST_UNKNOWN: manifest unknown"
        )
        status["conditions"] = shapes.condition("False", "CouldntGetPipeline", text, at)
        return status
    spec = pipeline_spec(tl, substituted=False)
    provenance = _provenance(tl)
    pipeline = tl.pipeline
    if tl.scenario is Scenario.INVALID_PARAM:
        spec["params"] = sorted(
            [*spec["params"], {"name": _MISSING_PARAMETER, "type": "string"}],
            key=lambda p: str(p["name"]),
        )
        # ValidateRequiredParametersProvided returns a user error (LabelUserError): the
        # "[User error] " prefix, and its own "pipelineRun missing parameters".
        reason = "ParameterMissing"
        text = (
            f"[User error] PipelineRun {ns}/{name} is missing some parameters required by "
            f"Pipeline {ns}/{pipeline}: pipelineRun missing parameters: [{_MISSING_PARAMETER}]"
        )
    else:
        ours = (SCENARIO_PARAMETER, DURATION_PARAMETER)  # the simulator's, not the workflow's
        names = [p for p in sorted(tl.params) if p not in ours] or [SCENARIO_PARAMETER]
        param, value = names[0], tl.params.get(names[0], "")
        for declared in spec["params"]:
            if declared["name"] == param:
                declared["enum"] = [f"not-{value}"]
        provenance["featureFlags"]["enableParamEnum"] = True
        reason = "InvalidParamValue"
        text = (
            f"[User error] PipelineRun {ns}/{name} parameters have invalid value: "
            f"param `{param}` value: {value} is not in the enum list"
        )
    status["conditions"] = shapes.condition("False", reason, text, at)
    status["pipelineSpec"] = spec
    status["provenance"] = provenance
    return status


def _bundle(tl: Timeline) -> str:
    ref = (tl.pipeline_run.get("spec") or {}).get("pipelineRef") or {}
    params = {p.get("name"): p.get("value") for p in ref.get("params") or []}
    return str(params.get("bundle") or "")


def _provenance(tl: Timeline) -> Json:
    """storePipelineSpecAndMergeMeta: the bundle's refSource and the feature flags."""
    bundle = _bundle(tl)
    repository, _, digest = bundle.partition("@")
    if ":" in repository.rsplit("/", 1)[-1]:
        repository = repository.rsplit(":", 1)[0]
    algorithm, _, value = digest.partition(":")
    if not value:  # a tag: the resolver records the digest it pulled
        algorithm, value = "sha256", hashlib.sha256(bundle.encode()).hexdigest()
    return {
        "refSource": {
            "uri": repository,
            "digest": {algorithm: value},
            "entryPoint": tl.pipeline,
        },
        "featureFlags": dict(shapes.FEATURE_FLAGS),
    }


def _manifest_url(bundle: str) -> str:
    """go-containerregistry's manifest URL for an image reference."""
    name, _, digest = bundle.partition("@")
    tail = name.rsplit("/", 1)[-1]
    tag = name.rsplit(":", 1)[1] if ":" in tail else "latest"
    repo = name.rsplit(":", 1)[0] if ":" in tail else name
    first, _, rest = repo.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "index.docker.io", repo if "/" in repo else f"library/{repo}"
    return f"https://{registry}/v2/{path}/manifests/{digest or tag}"
