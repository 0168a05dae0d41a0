"""The objects and messages Tekton Pipelines writes, for the Tekton simulator (a test tool).

Tekton's controller cannot run here, so :mod:`wfe.dev.tekton_scenarios` plays it and these
pure builders give its output Tekton's exact shapes: reason constants, message formats and the
fields each reconciler fills in, as read from tektoncd/pipeline v1.15.1 (the release whose CRDs
the test control plane installs; file and function named at each builder). The corpus in
``tests/core/tekton_corpus`` documents the same shapes with concrete examples.

Nothing here does I/O or reads a clock; times are passed in.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from wfe.core.durations import format_duration

__all__ = [
    "API_VERSION",
    "FEATURE_FLAGS",
    "RELEASE",
    "STEP_IMAGE",
    "STEP_IMAGE_ID",
    "TASKRUN_CANCELLED_BY_PIPELINE",
    "TASKRUN_CANCELLED_BY_TIMEOUT",
    "Json",
    "cancelled_message",
    "child_references",
    "condition",
    "done_message",
    "go_duration",
    "go_quote",
    "pod_name",
    "resolution_request_name",
    "running_message",
    "step_never_started",
    "step_prepared",
    "step_running",
    "step_synthetic_end",
    "step_terminated",
    "step_waiting",
    "task_run_name",
    "task_run_object",
    "timestamp",
    "with_previous",
]

Json = dict[str, Any]

API_VERSION = "tekton.dev/v1"
# `pipeline.tekton.dev/release` carries the controller's commit; ours says who wrote the object.
RELEASE = "tekton-simulator"
# A step image that exists nowhere (.invalid is reserved, RFC 2606): nothing is ever pulled.
STEP_IMAGE = "registry.invalid/tekton-simulator/step:v1"
STEP_IMAGE_ID = (
    "registry.invalid/tekton-simulator/step@sha256:"
    + hashlib.sha256(STEP_IMAGE.encode()).hexdigest()
)
# v1 TaskRunCancelledByPipelineMsg / TaskRunCancelledByPipelineTimeoutMsg (taskrun_types.go).
TASKRUN_CANCELLED_BY_PIPELINE = (
    "TaskRun cancelled as the PipelineRun it belongs to has been cancelled."
)
TASKRUN_CANCELLED_BY_TIMEOUT = "TaskRun cancelled as the PipelineRun it belongs to has timed out."
# The default feature flags of v1.15.1 as stored in status.provenance.featureFlags
# (config.NewFeatureFlagsFromMap of an empty ConfigMap, JSON-encoded).
FEATURE_FLAGS: Mapping[str, Any] = {
    "runningInEnvWithInjectedSidecars": True,
    "enableAPIFields": "beta",
    "sendCloudEventsForRuns": True,
    "awaitSidecarReadiness": True,
    "enforceNonfalsifiability": "none",
    "verificationNoMatchPolicy": "ignore",
    "enableProvenanceInStatus": True,
    "resultExtractionMethod": "termination-message",
    "maxResultSize": 4096,
    "coschedule": "workspaces",
}
# Prior TaskRun reasons that appendPreviousConditionContext (taskrun.go) does not repeat: the
# generic progress ones. Pending (a pod not scheduled) is kept (tests/core/tekton_corpus
# unschedulable).
_UNREMARKABLE = {"Started", "Running", "TaskRunPending"}
# Since v1.10 taskspec.go GetStepActionsData records every step as {name, provenance: {}} when
# the TaskRun is prepared; that empty provenance stays in each step state.
_PROVENANCE: Mapping[str, Any] = {}


def timestamp(at: datetime) -> str:
    """A metav1.Time as the API server stores it: RFC 3339 in UTC, whole seconds."""
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` of a whole number of seconds (``1h0m0s``, ``30s``)."""
    return format_duration(timedelta(seconds=round(seconds)))


def condition(status: str, reason: str, message: str, at: datetime) -> list[Json]:
    """A knative ``Succeeded`` condition list, as Tekton sets it on runs."""
    cond: Json = {
        "type": "Succeeded",
        "status": status,
        "lastTransitionTime": timestamp(at),
        "reason": reason,
    }
    if message:
        cond["message"] = message
    return [cond]


def running_message(
    *, done: int, failed: int, cancelled: int, incomplete: int, skipped: int
) -> str:
    """``GetPipelineConditionStatus`` (pipelinerunstate.go) while tasks remain."""
    return (
        f"Tasks Completed: {done} (Failed: {failed}, Cancelled {cancelled}), "
        f"Incomplete: {incomplete}, Skipped: {skipped}"
    )


def done_message(*, done: int, failed: int, cancelled: int, skipped: int) -> str:
    """``GetPipelineConditionStatus`` once no task is incomplete."""
    return f"Tasks Completed: {done} (Failed: {failed}, Cancelled {cancelled}), Skipped: {skipped}"


def cancelled_message(
    task_run: str, status_message: str, previous: Mapping[str, Any] | None
) -> str:
    """taskrun.go: ``"TaskRun %q was cancelled. %s"`` + appendPreviousConditionContext."""
    return with_previous(f'TaskRun "{task_run}" was cancelled. {status_message}', previous)


def with_previous(message: str, previous: Mapping[str, Any] | None) -> str:
    """taskrun.go appendPreviousConditionContext (v1.15): ``"\\nPrevious status: [%s] %s"``."""
    if previous and previous.get("reason") not in _UNREMARKABLE and previous.get("message"):
        message += f"\nPrevious status: [{previous['reason']}] {previous['message']}"
    return message


def go_quote(text: str) -> str:
    """Go's ``%q`` of a printable ASCII string (what JSON's escaping gives for it)."""
    return json.dumps(text, ensure_ascii=False)


def child_references(pipeline_run: str, tasks: Iterable[str]) -> list[Json]:
    """``status.childReferences`` (pipelinerunstate.go getChildRefForTaskRun)."""
    return [
        {
            "apiVersion": API_VERSION,
            "kind": "TaskRun",
            "name": task_run_name(pipeline_run, task),
            "pipelineTaskName": task,
        }
        for task in tasks
    ]


def _fnv128a(data: bytes) -> int:
    value = 0x6C62272E07BB014262B821756295C58D
    for byte in data:
        value = ((value ^ byte) * 0x0000000001000000000000000000013B) % (1 << 128)
    return value


def resolution_request_name(
    resolver: str, namespace: str, owner: str, params: Sequence[Mapping[str, Any]]
) -> str:
    """The ResolutionRequest name (resolution/resource/name.go GenerateDeterministicName).

    ``{resolver}-{FNV-128a hex}`` of ``namespace/owner`` then each string param's name and
    value, sorted by name.
    """
    data = f"{namespace}/{owner}".encode()
    for param in sorted(params, key=lambda p: str(p.get("name"))):
        data += str(param.get("name")).encode() + str(param.get("value")).encode()
    return f"{resolver}-{_fnv128a(data):032x}"


def _container_id(seed: str) -> str:
    return "containerd://" + hashlib.sha256(seed.encode()).hexdigest()


def step_running(step: str, started: datetime) -> Json:
    """A running step (pkg/pod/status.go setTaskRunStatusBasedOnStepStatus)."""
    return {
        "running": {"startedAt": timestamp(started)},
        "name": step,
        "container": f"step-{step}",
        "imageID": STEP_IMAGE_ID,
        "provenance": dict(_PROVENANCE),
    }


def step_prepared(step: str) -> Json:
    """A step with no container status (no pod, or a pod never scheduled): as prepared."""
    return {"name": step, "provenance": dict(_PROVENANCE)}


def step_waiting(step: str, reason: str, message: str) -> Json:
    """A step container the kubelet has not started (image pull): no imageID yet."""
    return {
        "waiting": {"reason": reason, "message": message},
        "name": step,
        "container": f"step-{step}",
        "provenance": dict(_PROVENANCE),
    }


def step_terminated(
    step: str,
    *,
    exit_code: int,
    reason: str,
    started: datetime,
    finished: datetime,
    message: str = "",
    termination_reason: str | None = None,
) -> Json:
    """A step the kubelet reports terminated (``Completed``, ``Error``, ``OOMKilled``).

    ``terminationReason`` is set when the entrypoint wrote a termination message (v1.x
    getTerminationReason); an OOM kill takes the entrypoint with it, so pass ``None``.
    """
    terminated: Json = {
        "exitCode": exit_code,
        "reason": reason,
        "startedAt": timestamp(started),
        "finishedAt": timestamp(finished),
        "containerID": _container_id(f"{step}/{timestamp(started)}"),
    }
    if message:
        terminated["message"] = message
    state: Json = {
        "terminated": terminated,
        "name": step,
        "container": f"step-{step}",
        "imageID": STEP_IMAGE_ID,
        "provenance": dict(_PROVENANCE),
    }
    if termination_reason:
        state["terminationReason"] = termination_reason
    return state


def step_synthetic_end(
    state: Mapping[str, Any], *, reason: str, pod: str, at: datetime, created: datetime
) -> Json:
    """taskrun.go terminateStepsInPod: Tekton deleted the pod of a running or waiting step.

    A waiting step gets the TaskRun's creation time as ``startedAt`` (the CRD forbids null).
    The exit code 1 and that start time are Tekton's, not the step's. A terminated step, and
    one with no container state (the pod was never scheduled), is left as it is.
    """
    if "running" not in state and "waiting" not in state:
        return dict(state)
    running = state.get("running")
    started = running.get("startedAt") if isinstance(running, Mapping) else None
    new: Json = {
        "terminated": {
            "exitCode": 1,
            "reason": reason,
            "message": f"Step {state['name']} terminated as pod {pod} is terminated",
            "startedAt": started or timestamp(created),
            "finishedAt": timestamp(at),
        },
        "name": state["name"],
        "container": state["container"],
    }
    if "imageID" in state:
        new["imageID"] = state["imageID"]
    new["provenance"] = dict(_PROVENANCE)
    new["terminationReason"] = reason
    return new


def step_never_started(
    step: str, *, reason: str, pod: str, created: datetime, at: datetime
) -> Json:
    """terminateStepsInPod on a waiting step: ``startedAt`` is the TaskRun's creation time."""
    waiting: Json = {"waiting": {}, "name": step, "container": f"step-{step}"}
    return step_synthetic_end(waiting, reason=reason, pod=pod, at=at, created=created)


def task_run_object(
    pipeline_run: Mapping[str, Any],
    *,
    task: str,
    params: Sequence[Json],
    task_spec: Json,
    resolved_task_spec: Json,
    created: datetime,
    timeout: str,
    status: Json,
    pipeline_label: str,
    spec_status: str | None = None,
    status_message: str | None = None,
) -> Json:
    """A TaskRun as pipelinerun.go createTaskRun makes it and the TaskRun reconciler fills it.

    Labels: the PipelineRun's (with ``tekton.dev/pipeline``), ``tekton.dev/pipelineRun``,
    ``pipelineRunUID``, ``pipelineTask``, ``memberOf`` (createChildResourceLabels) and the
    defaulted ``app.kubernetes.io/managed-by``; annotations: the PipelineRun's and
    ``pipeline.tekton.dev/release``; a controller ownerReference to the PipelineRun.
    """
    meta = pipeline_run.get("metadata") or {}
    pr_name = str(meta.get("name"))
    pr_uid = str(meta.get("uid") or uuid.uuid5(uuid.NAMESPACE_URL, f"tekton-simulator/{pr_name}"))
    labels: dict[str, str] = {**(meta.get("labels") or {}), "tekton.dev/pipeline": pipeline_label}
    labels.update(
        {
            "tekton.dev/pipelineRun": pr_name,
            "tekton.dev/pipelineRunUID": pr_uid,
            "tekton.dev/pipelineTask": task,
            "tekton.dev/memberOf": "tasks",
        }
    )
    labels.setdefault("app.kubernetes.io/managed-by", "tekton-pipelines")
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k != "kubectl.kubernetes.io/last-applied-configuration"
    }
    annotations["pipeline.tekton.dev/release"] = RELEASE
    template = (pipeline_run.get("spec") or {}).get("taskRunTemplate") or {}
    spec: Json = {
        "params": list(params),
        "serviceAccountName": template.get("serviceAccountName") or "default",
        "taskSpec": task_spec,
        "timeout": timeout,
    }
    if spec_status:
        spec["status"] = spec_status
        spec["statusMessage"] = status_message or ""
    full_status = {"podName": "", **status}
    full_status["taskSpec"] = resolved_task_spec
    full_status["provenance"] = {"featureFlags": dict(FEATURE_FLAGS)}
    return {
        "apiVersion": API_VERSION,
        "kind": "TaskRun",
        "metadata": {
            "name": task_run_name(pr_name, task),
            "namespace": meta.get("namespace"),
            "creationTimestamp": timestamp(created),
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": "PipelineRun",
                    "name": pr_name,
                    "uid": pr_uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": spec,
        "status": full_status,
    }


def task_run_name(pipeline_run: str, task: str) -> str:
    """``<pipelinerun>-<pipelinetask>`` (knative kmeta.ChildName, hashed past 63 characters)."""
    return _child_name(pipeline_run, f"-{task}")


def pod_name(task_run: str) -> str:
    """The TaskRun's pod, ``<taskrun>-pod`` (pkg/pod GetPodName)."""
    return _child_name(task_run, "-pod")


def _child_name(parent: str, suffix: str) -> str:
    """knative kmeta.ChildName: ``parent + suffix``, hashed when longer than 63 characters."""
    if len(parent) + len(suffix) <= 63:
        return parent + suffix
    digest = hashlib.md5((parent + suffix).encode(), usedforsecurity=False).hexdigest()
    return (parent + digest)[: 63 - len(digest)] + digest
