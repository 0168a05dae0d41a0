"""Tekton simulator: the TaskRun of one task at a moment of its timeline (a test tool, pure).

Each state is the one Tekton v1.15.1 stores (``pkg/reconciler/taskrun/taskrun.go`` and
``pkg/pod/status.go``): running, the kubelet's end of the step (``Completed``, ``Error``,
``OOMKilled``), Tekton's own ends (``TaskRunTimeout``, ``TaskRunImagePullFailed``,
``PodAdmissionFailed``, ``PodCreationFailed``, ``CreateContainerConfigError``), the failed step
(``StepFailed``, ``StepOOM``: ``getFailureInfo``, v1.12+), the pending states that end only by
a timeout (``ExceededResourceQuota``, ``ExceededNodeResources``, ``Pending``,
``PullImageFailed``) and the cancellation a PipelineRun timeout or stop request causes, which
keeps the previous condition as ``Previous status: [...]``.
"""

from __future__ import annotations

import json
from datetime import datetime

from wfe.dev import tekton_shapes as shapes
from wfe.dev.tekton_plan import STEP_AFTER_TIMEOUT, Life, Outcome, Timeline, task_spec
from wfe.dev.tekton_shapes import Json

__all__ = [
    "BACKOFF_MESSAGE",
    "DENIED_BACKOFF_MESSAGE",
    "PULL_ERROR",
    "TRICKY_SUMMARY",
    "UNSCHEDULABLE_MESSAGE",
    "task_run",
]

PULL_ERROR = (
    f'rpc error: code = NotFound desc = failed to pull and unpack image "{shapes.STEP_IMAGE}": '
    f'failed to resolve reference "{shapes.STEP_IMAGE}": {shapes.STEP_IMAGE}: not found'
)
# kubelet image_manager.go: "Back-off pulling image %q" + ": " + the previous pull error.
BACKOFF_MESSAGE = f'Back-off pulling image "{shapes.STEP_IMAGE}": ErrImagePull: {PULL_ERROR}'
# containerd's error for a private or missing repository, and the kubelet's back-off on it.
DENIED_PULL_ERROR = (
    f'rpc error: code = Unknown desc = failed to pull and unpack image "{shapes.STEP_IMAGE}": '
    f'failed to resolve reference "{shapes.STEP_IMAGE}": pull access denied, repository does '
    "not exist or may require authorization: server message: insufficient_scope: "
    "authorization failed"
)
DENIED_BACKOFF_MESSAGE = (
    f'Back-off pulling image "{shapes.STEP_IMAGE}": ErrImagePull: {DENIED_PULL_ERROR}'
)
# kube-scheduler's PodScheduled=False message when every node carries an untolerated taint.
UNSCHEDULABLE_MESSAGE = (
    "0/3 nodes are available: 3 node(s) had untolerated taint "
    "{node.kubernetes.io/disk-pressure: }. preemption: 0/3 nodes are available: "
    "3 Preemption is not helpful for scheduling."
)
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
        if life.outcome is Outcome.PULL_PENDING:
            # timeout.go patched spec.status; the TaskRun reconciler has not caught up (yet:
            # in the simulator, never), so the status is still the pending pull's.
            status = _running(timeline, life, name, timeline.x)
        else:
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
    if life.outcome is Outcome.NODE_RESOURCES:
        # updateIncompleteTaskRunStatus -> IsPodExceedingNodeResources: an Unschedulable pod
        # with "Insufficient" in its message; no container status, the step as prepared.
        text = "TaskRun Pod exceeded available resources"
        return _unscheduled("ExceededNodeResources", text, pod, step, begin)
    if life.outcome is Outcome.UNSCHEDULABLE:
        # updateIncompleteTaskRunStatus: Pending + getWaitingMessage ("pod status %q:%q;
        # message: %q" of the first pod condition that is not True).
        text = (
            f'pod status "PodScheduled":"False"; message: {shapes.go_quote(UNSCHEDULABLE_MESSAGE)}'
        )
        return _unscheduled("Pending", text, pod, step, begin)
    if life.outcome is Outcome.PULL_PENDING:
        # As below, but the pull keeps failing past the run (default-imagepullbackoff-timeout
        # longer than the run); getWaitingMessage quotes with %q.
        detail = DENIED_BACKOFF_MESSAGE
        text = f'build step "step-{step}" is pending with reason {shapes.go_quote(detail)}'
        return {
            "conditions": shapes.condition("Unknown", "PullImageFailed", text, begin),
            "podName": pod,
            "startTime": shapes.timestamp(begin),
            "steps": [shapes.step_waiting(step, "ImagePullBackOff", detail)],
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
        "steps": [shapes.step_running(s["name"], begin) for s in _steps(timeline, life)],
    }


def _steps(timeline: Timeline, life: Life) -> list[Json]:
    steps: list[Json] = task_spec(timeline, life.task)["steps"]
    return steps


def _unscheduled(reason: str, text: str, pod: str, step: str, begin: datetime) -> Json:
    """A pod the scheduler cannot place: Unknown, no container status, the step as prepared."""
    return {
        "conditions": shapes.condition("Unknown", reason, text, begin),
        "podName": pod,
        "startTime": shapes.timestamp(begin),
        "steps": [shapes.step_prepared(step)],
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
    if outcome in _AT_ONCE:
        return _failed_at_once(timeline, life, name, end)
    if outcome is Outcome.STEP_TIMEOUT:
        return _step_timeout(life, pod, times, begin, end)
    if outcome is Outcome.NODE_RESOURCES:
        # HasTimedOut -> failTaskRun(TaskRunTimeout) + appendPreviousConditionContext; the
        # step has no container state, so terminateStepsInPod leaves it as prepared.
        before = _running(timeline, life, name, life.begin)["conditions"][0]
        text = f'TaskRun "{name}" failed to finish within "{life.timeout}"'
        return {
            "conditions": shapes.condition(
                "False", "TaskRunTimeout", shapes.with_previous(text, before), end
            ),
            "podName": pod,
            **times,
            "steps": [shapes.step_prepared(step)],
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


_AT_ONCE = {Outcome.NO_SERVICE_ACCOUNT, Outcome.CONFIG_ERROR}


def _failed_at_once(timeline: Timeline, life: Life, name: str, end: datetime) -> Json:
    """A TaskRun failed in the reconcile that creates it (its creation is ``end``)."""
    step, at = life.task, shapes.timestamp(end)
    if life.outcome is Outcome.NO_SERVICE_ACCOUNT:
        # creds_init.go credsInit gets NotFound for the ServiceAccount; taskrun.go createPod
        # wraps it and handlePodCreationError's default case fails the TaskRun: no pod.
        template = (timeline.pipeline_run.get("spec") or {}).get("taskRunTemplate") or {}
        account = template.get("serviceAccountName") or "default"
        text = (
            f'failed to create task run pod "{name}": translating TaskSpec to Pod: '
            f'serviceaccounts "{account}" not found. Maybe invalid TaskSpec'
        )
        return {
            "conditions": shapes.condition("False", "PodCreationFailed", text, end),
            "podName": "",
            "startTime": at,
            "completionTime": at,
            "steps": [shapes.step_prepared(step)],
        }
    # Outcome.CONFIG_ERROR: a step env var from a missing Secret; the pod stays Pending.
    # pkg/pod/status.go updateIncompleteTaskRunStatus -> isPodHitConfigError ->
    # markStatusFailure: no completionTime, no terminateStepsInPod, the step stays waiting.
    waiting = shapes.step_waiting(
        step, "CreateContainerConfigError", 'secret "workflow-credentials" not found'
    )
    return {
        "conditions": shapes.condition(
            "False", "CreateContainerConfigError", "Failed to create pod due to config error", end
        ),
        "podName": shapes.pod_name(name),
        "startTime": at,
        "steps": [waiting],
    }


def _step_timeout(life: Life, pod: str, times: Json, begin: datetime, end: datetime) -> Json:
    """The step's own ``timeout`` ran out (entrypoint ``TimeoutExceeded``), the next skipped.

    pkg/entrypoint/entrypointer.go writes Reason=TimeoutExceeded and exits 1 (the kubelet says
    ``Error``); the next step's entrypoint finds the .err file, writes Skipped and exits 1.
    status.go getFailureInfo -> extractContainerFailureMessage names the timed-out step.
    """
    timed_out = shapes.step_terminated(
        life.task,
        exit_code=1,
        reason="Error",
        started=begin,
        finished=end,
        termination_reason="TimeoutExceeded",
    )
    skipped = shapes.step_terminated(
        STEP_AFTER_TIMEOUT,
        exit_code=1,
        reason="Error",
        started=end,
        finished=end,
        termination_reason="Skipped",
    )
    text = f'"step-{life.task}" exited because the step exceeded the specified timeout limit'
    return {
        "conditions": shapes.condition("False", "StepFailed", text, end),
        "podName": pod,
        **times,
        "steps": [timed_out, skipped],
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
    # pkg/pod/status.go getFailureInfo (v1.12+): StepOOM for an OOM-killed step, else
    # StepFailed; extractContainerFailureMessage: "%q exited with code %d: %s".
    reason = "StepOOM" if life.outcome is Outcome.OOM else "StepFailed"
    text = f'"step-{life.task}" exited with code {code}: {kubelet}'
    status: Json = {
        "conditions": shapes.condition("False", reason, text, end),
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
