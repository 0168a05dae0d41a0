"""What Tekton's and the kubelet's reason strings mean for the failure analysis (SPEC §6).

Owns the tables from reason string to failure class, the reasons Tekton writes into a step
when it stops a pod itself, what to check for each class of cause, and the word rules for
messages. The reasons are those Tekton Pipelines v1.15 writes (docs/architecture.md, "Failure
analysis"; the corpus in tests/core/tekton_corpus shows each one in the documents Tekton
writes). Pure: strings in, classes out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wfe.api.enums import FailureReason

__all__ = [
    "CANCELLED",
    "CONTAINER",
    "CONTINUED",
    "IGNORED_FAILURE",
    "INIT_CONTAINER_FAILURES",
    "SKIPPED",
    "SYNTHETIC_STEP",
    "TEKTON",
    "TERMINATION",
    "Meaning",
    "classify_words",
    "hint",
]

_OOM = FailureReason.OOM_KILLED
_DEADLINE = FailureReason.DEADLINE_EXCEEDED
_FORBIDDEN = FailureReason.FORBIDDEN
_EXHAUSTED = FailureReason.RESOURCE_EXHAUSTED
_CONFIG = FailureReason.CONFIGURATION_ERROR
_IMAGE = FailureReason.IMAGE_PULL_BACK_OFF
_TASK = FailureReason.TASK_FAILED
_UNKNOWN = FailureReason.UNKNOWN


@dataclass(frozen=True, slots=True)
class Meaning:
    """What one reason says about the cause.

    A *specific* reason decides the class on its own. A *generic* one (Tekton uses it for
    several causes) lets the words of its message decide and falls back to ``reason``.
    ``reason`` None: the evidence says nothing about the cause (e.g. a step's ``Error``).
    """

    reason: FailureReason | None
    generic: bool = False
    check: str | None = None


def _specific(reason: FailureReason, check: str | None = None) -> Meaning:
    return Meaning(reason, check=check)


def _generic(fallback: FailureReason | None, check: str | None = None) -> Meaning:
    return Meaning(fallback, generic=True, check=check)


_NOTHING = Meaning(None)

_WORKFLOW = "Fix the workflow bundle (its Pipeline or Tasks) and create a new WorkflowExecution."

# Condition reasons of TaskRuns and PipelineRuns (pkg/apis/pipeline/v1 taskrun_types.go and
# pipelinerun_types.go, pkg/pod/status.go, pkg/reconciler/...). A reason may be written on
# both kinds (InvalidParamValue, ResourceVerificationFailed): it means the same on both.
TEKTON: dict[str, Meaning] = {
    # -- TaskRun ------------------------------------------------------------------------------
    "StepOOM": _specific(_OOM),
    "SidecarOOM": _specific(_OOM),
    "InitContainerOOM": _specific(
        _OOM,
        "A memory limit (often a namespace LimitRange default) is too small for Tekton's own "
        "init containers: raise it.",
    ),
    "TaskRunTimeout": _specific(_DEADLINE),
    "TaskRunImagePullFailed": _specific(_IMAGE),
    "PullImageFailed": _specific(_IMAGE),
    "ExceededResourceQuota": _specific(
        _EXHAUSTED, "Check the ResourceQuota of the execution namespace."
    ),
    "ExceededNodeResources": _specific(
        _EXHAUSTED,
        "No node has the CPU or memory the task requests: lower the requests in the workflow "
        "bundle or add node capacity.",
    ),
    "PodEvicted": _specific(
        _EXHAUSTED, "The node ran short of a resource and evicted the pod: check the node."
    ),
    "PodAdmissionFailed": _specific(
        _FORBIDDEN,
        "Pod Security admission refused the pod: make the workflow's steps meet the "
        "namespace's Pod Security level.",
    ),
    "CreateContainerConfigError": _specific(
        _CONFIG, "A ConfigMap or Secret the task's containers use is missing: create it."
    ),
    "TaskRunResolutionFailed": _specific(
        _CONFIG, "A Task or StepAction the workflow refers to could not be fetched."
    ),
    "TaskRunValidationFailed": _specific(_CONFIG, _WORKFLOW),
    "TaskValidationFailed": _specific(_CONFIG, _WORKFLOW),
    "TaskRunResultLargerThanAllowedLimit": _specific(_CONFIG, _WORKFLOW),
    "InitContainerFailed": _specific(
        _UNKNOWN,
        "One of Tekton's own init containers failed before any step ran: read the pod's "
        "events and the node's state.",
    ),
    "PodCreationFailed": _generic(
        _CONFIG,
        "Tekton could not create or start the task's pod: the message names what is missing "
        "(for instance the runner service account) or what the node refused.",
    ),
    "TaskRunStopSidecarFailed": _generic(
        _UNKNOWN, "The steps finished but Tekton could not stop a sidecar: read the message."
    ),
    "Pending": _generic(None, "The scheduler found no node for the pod: check node capacity."),
    "StepFailed": _generic(None),
    "SidecarFailed": _generic(None),
    "Failed": _generic(None),
    "TaskRunCancelled": _NOTHING,
    "FailureIgnored": _NOTHING,
    "Running": _NOTHING,
    "Started": _NOTHING,
    "Succeeded": _NOTHING,
    "ToBeRetried": _NOTHING,
    "TaskRunPending": _NOTHING,
    "ResolvingTaskRef": _NOTHING,
    "ResolvingStepActionRef": _NOTHING,
    # -- PipelineRun --------------------------------------------------------------------------
    "PipelineRunTimeout": _specific(_DEADLINE),
    "CouldntGetPipeline": _specific(
        _CONFIG, "Check the bundle reference (image, tag, digest) and registry access."
    ),
    "CouldntGetTask": _specific(_CONFIG, _WORKFLOW),
    "CouldntGetPipelineResult": _specific(_CONFIG, _WORKFLOW),
    "PipelineValidationFailed": _specific(_CONFIG, _WORKFLOW),
    "PipelineInvalidGraph": _specific(_CONFIG, _WORKFLOW),
    "ParameterMissing": _specific(_CONFIG),
    "ParameterTypeMismatch": _specific(_CONFIG),
    "InvalidParamValue": _specific(_CONFIG),
    "ObjectParameterMissKeys": _specific(_CONFIG),
    "ParamArrayIndexingInvalid": _specific(_CONFIG, _WORKFLOW),
    "InvalidWorkspaceBindings": _specific(
        _CONFIG, "The workflow's Pipeline needs a workspace the controller does not bind."
    ),
    "InvalidTaskRunSpecs": _specific(_CONFIG),
    "InvalidTaskResultReference": _specific(_CONFIG, _WORKFLOW),
    "InvalidPipelineResultReference": _specific(_CONFIG, _WORKFLOW),
    "RequiredWorkspaceMarkedOptional": _specific(_CONFIG, _WORKFLOW),
    "InvalidMatrixParameterTypes": _specific(_CONFIG, _WORKFLOW),
    "CELEvaluationFailed": _specific(_CONFIG, _WORKFLOW),
    "InvalidPipelineResourceBindings": _specific(_CONFIG),
    "CouldntCreateWorkspacePVC": _specific(_CONFIG),
    "ReasonCouldntCreateOrUpdateAffinityAssistantStatefulSet": _specific(_CONFIG),
    "ResourceVerificationFailed": _specific(
        _FORBIDDEN,
        "A VerificationPolicy refused the workflow: check the bundle's signature and the "
        "policies of the execution namespace.",
    ),
    "CreateRunFailed": _generic(
        _CONFIG, "The API server refused the TaskRun: the message names the webhook or field."
    ),
    "Cancelled": _NOTHING,
    "PipelineRunPending": _NOTHING,
    "PipelineRunStopping": _NOTHING,
    "PipelineRunTimeoutRunningFinally": _NOTHING,
    "CancelledRunningFinally": _NOTHING,
    "StoppedRunningFinally": _NOTHING,
    "ResolvingPipelineRef": _NOTHING,
    "PipelineRunCouldntCancel": _NOTHING,
    "PipelineRunCouldntTimeOut": _NOTHING,
    "Completed": _NOTHING,
}

# A container's terminated.reason or waiting.reason, as the kubelet and the container runtime
# write it (copied by Tekton into steps[] and sidecars[]).
CONTAINER: dict[str, Meaning] = {
    "OOMKilled": _specific(_OOM),
    "ErrImagePull": _specific(_IMAGE),
    "ImagePullBackOff": _specific(_IMAGE),
    "InvalidImageName": _specific(_IMAGE),
    "ErrImageNeverPull": _specific(_IMAGE),
    "ImageInspectError": _specific(_IMAGE),
    "RegistryUnavailable": _specific(_IMAGE),
    "CreateContainerConfigError": _specific(_CONFIG),
    "CreateContainerError": _specific(_CONFIG),
    "StartError": _specific(
        _CONFIG,
        "The container runtime could not start the step (often a volume or subPath mount): "
        "read the step's terminated message.",
    ),
    "ContainerCannotRun": _specific(_CONFIG),
    "Error": _NOTHING,
    "Completed": _NOTHING,
    "ContainerCreating": _NOTHING,
    "PodInitializing": _NOTHING,
    "ContainerStatusUnknown": _NOTHING,
}

# A step's terminationReason as Tekton's entrypoint reports it (pkg/pod/pod.go).
TERMINATION: dict[str, Meaning] = {
    "TimeoutExceeded": _specific(
        _DEADLINE,
        "The step ran past its own timeout (steps[].timeout in the workflow bundle): check "
        "what it was waiting for.",
    ),
}

# Tekton's entrypoint did not run the step's command (a previous step failed), or ran it and
# ignored its failure (onError: continue): neither step is the failure.
SKIPPED = "Skipped"
CONTINUED = "Continued"

# The TaskRun reasons taskrun.go failTaskRun passes to terminateStepsInPod, which writes them
# as the terminated.reason of every step still running or waiting: Tekton's, not the step's.
SYNTHETIC_STEP = frozenset(
    {
        "TaskRunCancelled",
        "TaskRunTimeout",
        "TaskRunImagePullFailed",
        "CreateContainerConfigError",
        "PodCreationFailed",
        "TaskRunResultLargerThanAllowedLimit",
    }
)

# A person or the orchestrator stopped the run: what it changed is unknown.
CANCELLED = frozenset({"Cancelled", "TaskRunCancelled", "PipelineRunCancelled"})
# A pipeline task with onError: continue failed; the PipelineRun goes on without it.
IGNORED_FAILURE = "FailureIgnored"
INIT_CONTAINER_FAILURES = frozenset({"InitContainerOOM", "InitContainerFailed"})

_CHECK: dict[FailureReason, str] = {
    _OOM: "Raise the step's memory limit in the workflow bundle or reduce what it processes.",
    _DEADLINE: "Check what the step was waiting for; raise spec.executionConfig.timeout only "
    "if the work legitimately takes longer.",
    _FORBIDDEN: "Check the runner service account's RBAC and any admission policy in the "
    "execution namespace.",
    _EXHAUSTED: "Check ResourceQuota and node capacity in the execution namespace.",
    _CONFIG: "Fix the workflow reference or parameters and create a new WorkflowExecution.",
    _IMAGE: "Check the image reference, registry credentials and registry reachability.",
    _TASK: "Read the step's logs for the error.",
    _UNKNOWN: "Read the PipelineRun's conditions and the TaskRuns' logs.",
}


def hint(reason: FailureReason, tekton_reason: str | None = None) -> str:
    """What to check next: specific to Tekton's reason when it says more than the class."""
    for table in (TEKTON, CONTAINER, TERMINATION):
        meaning = table.get(tekton_reason or "")
        if meaning is not None and meaning.check and meaning.reason in (reason, None):
            return meaning.check
    return _CHECK[reason]


# Phrases in messages, as lower-case word sequences, most specific class first.
_WORD_RULES: tuple[tuple[FailureReason, tuple[tuple[str, ...], ...]], ...] = (
    (_OOM, (("oomkilled",), ("out", "of", "memory"), ("oom", "killed"))),
    (_IMAGE, (("imagepullbackoff",), ("errimagepull",), ("failed", "to", "pull", "image"))),
    (_DEADLINE, (("deadline", "exceeded"), ("timed", "out"), ("failed", "to", "finish", "within"))),
    # Before Forbidden: a quota refusal reads "pods ... is forbidden: exceeded quota".
    (
        _EXHAUSTED,
        (
            ("exceeded", "quota"),
            ("insufficient", "cpu"),
            ("insufficient", "memory"),
            ("have", "enough", "resource"),
            ("nodes", "are", "available"),
            ("no", "space", "left", "on", "device"),
        ),
    ),
    (
        _FORBIDDEN,
        (
            ("forbidden",),
            ("unauthorized",),
            ("permission", "denied"),
            ("denied", "the", "request"),
        ),
    ),
)
_WORD = re.compile(r"[a-z0-9]+")


def classify_words(text: str | None) -> FailureReason | None:
    """The failure class a message names in whole words, if any."""
    if not text:
        return None
    words = _WORD.findall(text.lower())
    for reason, phrases in _WORD_RULES:
        for phrase in phrases:
            n = len(phrase)
            if any(tuple(words[i : i + n]) == phrase for i in range(len(words) - n + 1)):
                return reason
    return None
