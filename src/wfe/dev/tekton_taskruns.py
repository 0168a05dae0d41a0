"""Tekton simulator: the TaskRun of one task at a moment of its timeline (a test tool, pure).

Each state is the one Tekton v1.15.1 stores (``pkg/reconciler/taskrun/taskrun.go`` and
``pkg/pod/status.go``): running, the kubelet's end of the step (``Completed``, ``Error``,
``OOMKilled``), Tekton's own ends (``TaskRunTimeout``, ``TaskRunImagePullFailed``,
``PodAdmissionFailed``), the pending states that never end on their own
(``ExceededResourceQuota``, ``PullImageFailed``) and the cancellation a PipelineRun timeout or
stop request causes, which keeps the previous condition as ``Previous status: [...]``.
"""

from __future__ import annotations

import json
from datetime import datetime

from wfe.dev import tekton_shapes as shapes
from wfe.dev.tekton_plan import Life, Outcome, Timeline, task_spec
from wfe.dev.tekton_shapes import Json

__all__ = ["BACKOFF_MESSAGE", "PULL_ERROR", "TRICKY_SUMMARY", "task_run"]

PULL_ERROR = (
    f'rpc error: code = NotFound desc = failed to pull and unpack image "{shapes.STEP_IMAGE}": '
    f'failed to resolve reference "{shapes.STEP_IMAGE}": {shapes.STEP_IMAGE}: not found'
)
# kubelet image_manager.go: "Back-off pulling image %q" + ": " + the previous pull error.
BACKOFF_MESSAGE = f'Back-off pulling image "{shapes.STEP_IMAGE}": ErrImagePull: {PULL_ERROR}'
TRICKY_SUMMARY = (
    "zoom-room-booker: no room left in the broom-closet pool; "
    "forbiddenfruit canary check failed, rollout paused"
)
_RUNNING = "Not all Steps in the Task have finished executing"
_EXIT = {
    Outcome.OOM: (137, "OOMKilled"),
    Outcome.EXIT_1: (1, "Error"),
    Outcome.EXIT_2: (2, "Error"),
    Outcome.TRICKY: (1, "Error"),
}


def task_run(timeline: Timeline, life: Life) -> Json:
    """The TaskRun object of ``life`` at ``timeline.x`` (metadata, spec and status)."""
    name = shapes.task_run_name(timeline.name, life.task)
    ended = life.end is not None and life.end <= timeline.x
    spec_status = message = None
    if timeline.done and timeline.kind != "natural" and not ended:
        spec_status = "TaskRunCancelled"
        message = (
            shapes.TASKRUN_CANCELLED_BY_TIMEOUT
            if timeline.kind == "timeout"
            else shapes.TASKRUN_CANCELLED_BY_PIPELINE
        )
        status = _cancelled(timeline, life, name, message)
    elif ended:
        status = _ended(timeline, life, name)
    else:
        status = _running(timeline, life, name, timeline.x)
    return shapes.task_run_object(
        timeline.pipeline_run,
        task=life.task,
        params=[{"name": k, "value": v} for k, v in sorted(timeline.params.items())],
        task_spec=task_spec(timeline, life.task),
        resolved_task_spec=task_spec(timeline, life.task),
        created=timeline.at(life.visible),
        timeout=life.timeout,
        status=status,
        pipeline_label=timeline.pipeline,
        spec_status=spec_status,
        status_message=message,
    )


def _running(timeline: Timeline, life: Life, name: str, x: float) -> Json:
    pod, begin, step = shapes.pod_name(name), timeline.at(life.begin), life.task
    if life.outcome is Outcome.QUOTA:
        # handlePodCreationError: Unknown, startTime cleared, no pod; retried every minute.
        quota = (
            f'pods "{pod}" is forbidden: exceeded quota: kubernaut-workflows-quota, requested: '
            "limits.memory=512Mi, used: limits.memory=2Gi, limited: limits.memory=2Gi"
        )
        text = f"TaskRun Pod exceeded available resources: {quota}"
        return {
            "conditions": shapes.condition("Unknown", "ExceededResourceQuota", text, begin),
            "podName": "",
        }
    if life.outcome in (Outcome.IMAGE_PULL, Outcome.ERR_IMAGE_PULL):
        # updateIncompleteTaskRunStatus: PullImageFailed + getWaitingMessage.
        mid = life.mid
        backoff = mid is not None and x >= mid
        waiting, detail = (
            ("ImagePullBackOff", BACKOFF_MESSAGE) if backoff else ("ErrImagePull", PULL_ERROR)
        )
        since = timeline.at(mid) if backoff and mid is not None else begin
        text = f'build step "step-{step}" is pending with reason "{detail}"'
        return {
            "conditions": shapes.condition("Unknown", "PullImageFailed", text, since),
            "podName": pod,
            "startTime": shapes.timestamp(begin),
            "steps": [shapes.step_waiting(step, waiting, detail)],
        }
    return {
        "conditions": shapes.condition("Unknown", "Running", _RUNNING, begin),
        "podName": pod,
        "startTime": shapes.timestamp(begin),
        "steps": [shapes.step_running(step, begin)],
    }


def _ended(timeline: Timeline, life: Life, name: str) -> Json:
    assert life.end is not None
    pod, step = shapes.pod_name(name), life.task
    begin, end = timeline.at(life.begin), timeline.at(life.end)
    times = {"startTime": shapes.timestamp(begin), "completionTime": shapes.timestamp(end)}
    outcome = life.outcome
    if outcome is Outcome.SUCCEED:
        completed = shapes.step_terminated(
            step,
            exit_code=0,
            reason="Completed",
            started=begin,
            finished=end,
            termination_reason="Completed",
        )
        return {
            "conditions": shapes.condition(
                "True", "Succeeded", "All Steps have completed executing", end
            ),
            "podName": pod,
            **times,
            "steps": [completed],
        }
    if outcome in _EXIT:
        return _failed_step(life, pod, times, begin, end)
    if outcome is Outcome.TIMEOUT:
        text = f'TaskRun "{name}" failed to finish within "{life.timeout}"'
        killed = shapes.step_synthetic_end(
            shapes.step_running(step, begin),
            reason="TaskRunTimeout",
            pod=pod,
            at=end,
            created=begin,
        )
        return {
            "conditions": shapes.condition("False", "TaskRunTimeout", text, end),
            "podName": pod,
            **times,
            "steps": [killed],
        }
    if outcome is Outcome.FORBIDDEN:
        # handlePodCreationError -> isPodAdmissionFailed -> MarkResourceFailed: no pod, no steps.
        return {
            "conditions": shapes.condition("False", "PodAdmissionFailed", _psa(pod, step), end),
            "podName": "",
            "startTime": shapes.timestamp(end),
            "completionTime": shapes.timestamp(end),
        }
    # Outcome.IMAGE_PULL: checkContainerFailure on ImagePullBackOff, then terminateStepsInPod.
    text = (
        f'the step "{step}" in TaskRun "{name}" failed to pull the image "". '
        f'The pod errored with the message: "{BACKOFF_MESSAGE}."'
    )
    never = shapes.step_never_started(
        step, reason="TaskRunImagePullFailed", pod=pod, created=begin, at=end
    )
    return {
        "conditions": shapes.condition("False", "TaskRunImagePullFailed", text, end),
        "podName": pod,
        **times,
        "steps": [never],
    }


def _failed_step(life: Life, pod: str, times: Json, begin: datetime, end: datetime) -> Json:
    code, kubelet = _EXIT[life.outcome]
    tricky = life.outcome is Outcome.TRICKY
    result = [{"key": "summary", "value": TRICKY_SUMMARY, "type": 1}]
    step = shapes.step_terminated(
        life.task,
        exit_code=code,
        reason=kubelet,
        started=begin,
        finished=end,
        message=json.dumps(result, separators=(",", ":")) if tricky else "",
        # An OOM kill takes the entrypoint with it: no termination message, no reason from it.
        termination_reason=None if life.outcome is Outcome.OOM else kubelet,
    )
    # pkg/pod/status.go extractContainerFailureMessage: "%q exited with code %d: %s".
    text = f'"step-{life.task}" exited with code {code}: {kubelet}'
    status: Json = {
        "conditions": shapes.condition("False", "Failed", text, end),
        "podName": pod,
        **times,
        "steps": [step],
    }
    if tricky:
        status["results"] = [{"name": "summary", "type": "string", "value": TRICKY_SUMMARY}]
    return status


def _cancelled(timeline: Timeline, life: Life, name: str, message: str) -> Json:
    assert timeline.final is not None
    before = _running(timeline, life, name, timeline.final)
    end = timeline.at(timeline.final)
    text = shapes.cancelled_message(name, message, before["conditions"][0])
    status: Json = {
        "conditions": shapes.condition("False", "TaskRunCancelled", text, end),
        "podName": before["podName"],
        # A TaskRun held back by quota has no startTime; the cancelling reconcile sets one.
        "startTime": before.get("startTime", shapes.timestamp(end)),
        "completionTime": shapes.timestamp(end),
    }
    if before["podName"]:  # without a pod, failTaskRun returns before terminateStepsInPod
        status["steps"] = [
            shapes.step_synthetic_end(
                s,
                reason="TaskRunCancelled",
                pod=before["podName"],
                at=end,
                created=timeline.at(life.begin),
            )
            for s in before.get("steps", [])
        ]
    return status


def _psa(pod: str, step: str) -> str:
    """The API server refusing a Tekton pod under Pod Security ``restricted``."""
    containers = f'"prepare", "place-scripts", "step-{step}"'
    return (
        f'pods "{pod}" is forbidden: violates PodSecurity "restricted:latest": '
        f"allowPrivilegeEscalation != false (containers {containers} must set "
        "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (containers "
        f'{containers} must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true '
        f"(pod or containers {containers} must set securityContext.runAsNonRoot=true), "
        f"seccompProfile (pod or containers {containers} must set "
        'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
    )
