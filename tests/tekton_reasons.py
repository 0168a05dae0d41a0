"""Every reason string Tekton Pipelines v1.15 writes on a run, where, and what it means.

Read from tektoncd/pipeline's source (the release-v1.15.x branch, whose pkg/ is that of v1.15.0;
the corpus documents are labelled v1.15.1, the release the test control plane installs): the
TaskRunReason* and PipelineRunReason* constants and the functions that set them, the pod
status conversion (pkg/pod/status.go), the entrypoint's termination reasons, and the kubelet's
and containerd's container reasons Tekton copies into steps[] and sidecars[].

Three lists, each entry naming its source:

- ``REASONS``: written in the documents of a finished (or running) WorkflowExecution run.
  Each has at least one corpus case (tests/core/tekton_corpus) that shows it where Tekton
  writes it, and ``tests/core/test_tekton_reasons.py`` fails for one that has none.
- ``TRANSIENT``: only seen while a run is still going, or carried along where it decides
  nothing; the classifier's reading of those that can be evidence is still tested.
- ``NOT_WRITTEN``: constants Tekton declares that a WorkflowExecution's PipelineRun cannot get,
  with the reason why (a feature flag off by default, a spec field the controller never sets,
  an earlier check that always fires first).

Places: ``PipelineRun`` / ``TaskRun`` (the Succeeded condition's reason), ``TaskRun.previous``
(the reason in "Previous status: [Reason] ..." that taskrun.go appendPreviousConditionContext
appends when it cancels or times out a TaskRun), ``container.terminated`` /
``container.waiting`` (a step's or sidecar's state) and ``step.terminationReason`` (the
entrypoint's reason, when it differs from terminated.reason).

``cls`` is what the failure analysis must conclude from that reason with nothing more specific
around (``with_`` is the TaskRun reason Tekton writes alongside a container reason; ``example``
a message for reasons whose words decide); ``ran`` whether anything can have run when Tekton
writes it (None: it depends).
"""

from __future__ import annotations

from dataclasses import dataclass

from wfe.api.enums import FailureReason

__all__ = ["NOT_WRITTEN", "PLACES", "REASONS", "TRANSIENT", "Reason"]

PLACES = (
    "PipelineRun",
    "TaskRun",
    "TaskRun.previous",
    "container.terminated",
    "container.waiting",
    "step.terminationReason",
)

OOM = FailureReason.OOM_KILLED
DEADLINE = FailureReason.DEADLINE_EXCEEDED
FORBIDDEN = FailureReason.FORBIDDEN
EXHAUSTED = FailureReason.RESOURCE_EXHAUSTED
CONFIG = FailureReason.CONFIGURATION_ERROR
IMAGE = FailureReason.IMAGE_PULL_BACK_OFF
TASK = FailureReason.TASK_FAILED
UNKNOWN = FailureReason.UNKNOWN

PR = "pkg/reconciler/pipelinerun/pipelinerun.go"
STATE = "pkg/reconciler/pipelinerun/resources/pipelinerunstate.go"
TR = "pkg/reconciler/taskrun/taskrun.go"
POD = "pkg/pod/status.go"
KUBELET = (
    "kubelet (Kubernetes v1.37), copied by pkg/pod/status.go setTaskRunStatusBasedOnStepStatus"
)


@dataclass(frozen=True, slots=True)
class Reason:
    name: str
    where: str
    source: str
    cls: FailureReason | None = None  # None: not a failure (success, or not the failure)
    ran: bool | None = None
    cases: tuple[str, ...] = ()
    with_: str | None = None
    example: str | None = None
    why: str | None = None  # NOT_WRITTEN / TRANSIENT: why no corpus case


def _r(name: str, where: str, source: str, cls: FailureReason | None, ran: bool | None,
       *cases: str, with_: str | None = None, example: str | None = None) -> Reason:  # fmt: skip
    return Reason(name, where, source, cls, ran, cases, with_=with_, example=example)


REASONS: tuple[Reason, ...] = (
    # -- PipelineRun ------------------------------------------------------------------------
    _r("Succeeded", "PipelineRun", f"{STATE} GetPipelineConditionStatus", None, True, "succeeded"),
    _r(
        "Completed",
        "PipelineRun",
        f"{STATE} GetPipelineConditionStatus (a task skipped)",
        None,
        True,
        "completed_with_skipped_task",
    ),
    _r("Running", "PipelineRun", f"{STATE} GetPipelineConditionStatus", None, None, "running"),
    _r(
        "Failed",
        "PipelineRun",
        f"{STATE} GetPipelineConditionStatus",
        UNKNOWN,
        None,
        "task_failed_exit_code",
        "second_task_failed",
        "step_oomkilled",
        "sidecar_failed",
    ),
    _r(
        "Cancelled",
        "PipelineRun",
        "pkg/reconciler/pipelinerun/cancel.go cancelPipelineRun",
        UNKNOWN,
        None,
        "cancelled",
    ),
    _r(
        "PipelineRunTimeout",
        "PipelineRun",
        "pkg/apis/pipeline/v1/pipelinerun_types.go SetTimeoutCondition; "
        f"{STATE} GetPipelineConditionStatus",
        DEADLINE,
        None,
        "pipelinerun_timeout",
        "exceeded_quota",
        "err_image_pull",
        "unschedulable",
        "pipelinerun_timeout_pull_pending",
    ),
    _r("CouldntGetPipeline", "PipelineRun", f"{PR} reconcile", CONFIG, False, "resolution_failed"),
    _r(
        "CouldntGetTask",
        "PipelineRun",
        f"{PR} resolvePipelineState",
        CONFIG,
        False,
        "couldnt_get_task",
    ),
    _r(
        "PipelineValidationFailed",
        "PipelineRun",
        f"{PR} reconcile (dry run); {STATE} GetPipelineConditionStatus (Failed Validation)",
        CONFIG,
        None,
        "dry_run_validation_failed",
        "missing_task_result",
    ),
    _r("ParameterMissing", "PipelineRun", f"{PR} reconcile", CONFIG, False, "invalid_param"),
    _r(
        "ParameterTypeMismatch",
        "PipelineRun",
        f"{PR} reconcile",
        CONFIG,
        False,
        "parameter_type_mismatch",
    ),
    _r(
        "InvalidParamValue",
        "PipelineRun",
        f"{PR} reconcile, createTaskRuns",
        CONFIG,
        False,
        "invalid_param_value",
    ),
    _r(
        "ParamArrayIndexingInvalid",
        "PipelineRun",
        f"{PR} reconcile",
        CONFIG,
        False,
        "param_array_index_out_of_bounds",
    ),
    _r(
        "InvalidWorkspaceBindings",
        "PipelineRun",
        f"{PR} reconcile",
        CONFIG,
        False,
        "workspace_not_bound",
    ),
    _r(
        "RequiredWorkspaceMarkedOptional",
        "PipelineRun",
        f"{PR} reconcile",
        CONFIG,
        False,
        "optional_workspace_required",
    ),
    _r(
        "InvalidTaskResultReference",
        "PipelineRun",
        f"{PR} reconcile",
        CONFIG,
        False,
        "invalid_task_result_reference",
    ),
    _r(
        "InvalidPipelineResultReference",
        "PipelineRun",
        f"{PR} reconcile",
        CONFIG,
        False,
        "invalid_pipeline_result_reference",
    ),
    _r(
        "InvalidMatrixParameterTypes",
        "PipelineRun",
        f"{PR} runNextSchedulableTask",
        CONFIG,
        None,
        "matrix_parameter_type",
    ),
    _r(
        "CreateRunFailed",
        "PipelineRun",
        f"{PR} handleRunCreationError",
        CONFIG,
        None,
        "create_run_failed",
    ),
    _r(
        "CreateRunFailed",
        "PipelineRun",
        f"{PR} handleRunCreationError",
        FORBIDDEN,
        None,
        "create_run_failed",
        example='admission webhook "validate.kyverno.svc-fail" denied the request: blocked',
    ),
    _r(
        "CouldntGetPipelineResult",
        "PipelineRun",
        f"{PR} reconcile",
        CONFIG,
        True,
        "pipeline_result_missing",
    ),
    _r(
        "ResourceVerificationFailed",
        "PipelineRun",
        f"{PR} reconcile, resolvePipelineState",
        FORBIDDEN,
        False,
        "pipeline_verification_failed",
    ),
    # -- TaskRun ----------------------------------------------------------------------------
    _r("Succeeded", "TaskRun", f"{POD} markStatusSuccess", None, True, "succeeded"),
    _r(
        "Running",
        "TaskRun",
        f"{POD} MakeTaskRunStatus, updateIncompleteTaskRunStatus",
        None,
        None,
        "running",
    ),
    _r(
        "Failed",
        "TaskRun",
        f"{POD} getFailureInfo (fallthrough)",
        TASK,
        None,
        "pod_rejected_by_kubelet",
    ),
    _r(
        "Failed",
        "TaskRun",
        f"{POD} getFailureInfo (fallthrough), getFailureMessage",
        EXHAUSTED,
        None,
        "pod_rejected_by_kubelet",
        example="Pod was rejected: Node didn't have enough resource: cpu, requested: 2000",
    ),
    _r(
        "StepFailed",
        "TaskRun",
        f"{POD} getFailureInfo",
        TASK,
        None,
        "task_failed_exit_code",
        "second_task_failed",
        "tricky_words",
        "step_timeout",
        "step_on_error_continue",
        "step_start_error",
        "failure_ignored",
    ),
    _r("StepOOM", "TaskRun", f"{POD} getFailureInfo", OOM, True, "step_oomkilled"),
    _r("SidecarFailed", "TaskRun", f"{POD} getFailureInfo", TASK, True, "sidecar_failed"),
    _r("SidecarOOM", "TaskRun", f"{POD} getFailureInfo", OOM, True, "sidecar_oomkilled"),
    _r(
        "InitContainerOOM",
        "TaskRun",
        f"{POD} getFailureInfo",
        OOM,
        False,
        "init_container_oomkilled",
    ),
    _r(
        "InitContainerFailed",
        "TaskRun",
        f"{POD} getFailureInfo",
        UNKNOWN,
        False,
        "init_container_failed",
    ),
    _r("PodEvicted", "TaskRun", f"{POD} getFailureInfo", EXHAUSTED, None, "pod_evicted"),
    _r(
        "FailureIgnored",
        "TaskRun",
        f"{POD} updateCompletedTaskRunStatus",
        None,
        True,
        "failure_ignored",
    ),
    _r(
        "TaskRunCancelled",
        "TaskRun",
        f"{TR} ReconcileKind (IsCancelled), failTaskRun",
        UNKNOWN,
        None,
        "cancelled",
        "pipelinerun_timeout",
        "exceeded_quota",
        "err_image_pull",
        "unschedulable",
    ),
    _r(
        "TaskRunTimeout",
        "TaskRun",
        f"{TR} ReconcileKind (HasTimedOut), failTaskRun",
        DEADLINE,
        None,
        "taskrun_timeout",
        "exceeded_node_resources",
    ),
    _r(
        "TaskRunImagePullFailed",
        "TaskRun",
        f"{TR} checkContainerFailure",
        IMAGE,
        False,
        "image_pull_backoff",
    ),
    _r(
        "PullImageFailed",
        "TaskRun",
        f"{POD} updateIncompleteTaskRunStatus",
        IMAGE,
        False,
        "pipelinerun_timeout_pull_pending",
    ),
    _r(
        "CreateContainerConfigError",
        "TaskRun",
        f"{POD} updateIncompleteTaskRunStatus; {TR} checkContainerFailure",
        CONFIG,
        False,
        "create_container_config_error",
        "sidecar_config_error",
    ),
    _r(
        "PodCreationFailed",
        "TaskRun",
        f"{TR} handlePodCreationError, checkContainerFailure",
        CONFIG,
        False,
        "missing_service_account",
        "create_container_error",
    ),
    _r(
        "PodAdmissionFailed",
        "TaskRun",
        f"{TR} handlePodCreationError",
        FORBIDDEN,
        False,
        "forbidden",
    ),
    _r(
        "TaskRunStopSidecarFailed",
        "TaskRun",
        f"{TR} stopSidecars",
        UNKNOWN,
        True,
        "stop_sidecar_failed",
    ),
    _r(
        "TaskRunStopSidecarFailed",
        "TaskRun",
        f"{TR} stopSidecars",
        FORBIDDEN,
        True,
        "stop_sidecar_failed",
        example='error stopping sidecars of Pod "p": admission webhook "w" denied the request',
    ),
    _r(
        "TaskRunResolutionFailed",
        "TaskRun",
        f"{TR} prepare",
        CONFIG,
        False,
        "step_action_not_found",
    ),
    _r("TaskValidationFailed", "TaskRun", f"{TR} prepare", CONFIG, False, "step_action_invalid"),
    _r(
        "TaskRunValidationFailed",
        "TaskRun",
        f"{TR} prepare, handlePodCreationError, reconcile (validateTaskRunResults)",
        CONFIG,
        None,
        "requests_exceed_limits",
    ),
    # -- TaskRun.previous -------------------------------------------------------------------
    _r(
        "ExceededResourceQuota",
        "TaskRun.previous",
        f"{TR} handlePodCreationError",
        EXHAUSTED,
        False,
        "exceeded_quota",
    ),
    _r(
        "ExceededNodeResources",
        "TaskRun.previous",
        f"{POD} updateIncompleteTaskRunStatus",
        EXHAUSTED,
        False,
        "exceeded_node_resources",
    ),
    _r(
        "PullImageFailed",
        "TaskRun.previous",
        f"{POD} updateIncompleteTaskRunStatus",
        IMAGE,
        False,
        "err_image_pull",
    ),
    _r(
        "Pending",
        "TaskRun.previous",
        f"{POD} updateIncompleteTaskRunStatus (getWaitingMessage)",
        EXHAUSTED,
        False,
        "unschedulable",
        example='pod status "PodScheduled":"False"; message: "0/3 nodes are available: 3 node(s) '
        'had untolerated taint {node.kubernetes.io/disk-pressure: }."',
    ),
    _r(
        "Pending",
        "TaskRun.previous",
        f"{POD} updateIncompleteTaskRunStatus (getWaitingMessage)",
        DEADLINE,
        False,
        "unschedulable",
        example="Pending",
    ),
    # -- containers -------------------------------------------------------------------------
    _r("Completed", "container.terminated", KUBELET, None, True, "succeeded"),
    _r(
        "Error",
        "container.terminated",
        KUBELET,
        TASK,
        True,
        "task_failed_exit_code",
        "sidecar_failed",
        "pod_evicted",
        with_="StepFailed",
    ),
    _r(
        "OOMKilled",
        "container.terminated",
        KUBELET,
        OOM,
        True,
        "step_oomkilled",
        "sidecar_oomkilled",
        with_="StepFailed",
    ),
    _r(
        "StartError",
        "container.terminated",
        f"containerd via the {KUBELET}",
        CONFIG,
        False,
        "step_start_error",
        with_="StepFailed",
    ),
    _r(
        "TaskRunCancelled",
        "container.terminated",
        f"{TR} terminateStepsInPod",
        UNKNOWN,
        None,
        "cancelled",
        "pipelinerun_timeout",
        "err_image_pull",
        with_="TaskRunCancelled",
    ),
    _r(
        "TaskRunTimeout",
        "container.terminated",
        f"{TR} terminateStepsInPod",
        DEADLINE,
        None,
        "taskrun_timeout",
        with_="TaskRunTimeout",
    ),
    _r(
        "TaskRunImagePullFailed",
        "container.terminated",
        f"{TR} terminateStepsInPod",
        IMAGE,
        False,
        "image_pull_backoff",
        with_="TaskRunImagePullFailed",
    ),
    _r(
        "CreateContainerConfigError",
        "container.terminated",
        f"{TR} terminateStepsInPod",
        CONFIG,
        False,
        "sidecar_config_error",
        with_="CreateContainerConfigError",
    ),
    _r(
        "PodCreationFailed",
        "container.terminated",
        f"{TR} terminateStepsInPod",
        CONFIG,
        False,
        "create_container_error",
        with_="PodCreationFailed",
    ),
    _r(
        "CreateContainerConfigError",
        "container.waiting",
        KUBELET,
        CONFIG,
        False,
        "create_container_config_error",
        "sidecar_config_error",
        with_="CreateContainerConfigError",
    ),
    _r(
        "ImagePullBackOff",
        "container.waiting",
        KUBELET,
        IMAGE,
        False,
        "pipelinerun_timeout_pull_pending",
        with_="PullImageFailed",
    ),
    _r(
        "PodInitializing",
        "container.waiting",
        KUBELET,
        UNKNOWN,
        False,
        "init_container_oomkilled",
        "init_container_failed",
        with_="InitContainerFailed",
    ),
    _r(
        "TimeoutExceeded",
        "step.terminationReason",
        "pkg/entrypoint/entrypointer.go Go; pkg/pod/status.go getTerminationReason",
        DEADLINE,
        True,
        "step_timeout",
        with_="StepFailed",
    ),
    _r(
        "Skipped",
        "step.terminationReason",
        "pkg/entrypoint/entrypointer.go Go",
        None,
        None,
        "step_timeout",
    ),
    _r(
        "Continued",
        "step.terminationReason",
        "pkg/pod/status.go getTerminationReason",
        None,
        True,
        "step_on_error_continue",
    ),
)


def _t(name: str, where: str, source: str, why: str, cls: FailureReason | None = None,
       with_: str | None = None) -> Reason:  # fmt: skip
    return Reason(name, where, source, cls, with_=with_, why=why)


TRANSIENT: tuple[Reason, ...] = (
    _t(
        "Started",
        "PipelineRun",
        "pkg/apis/pipeline/v1/pipelinerun_types.go InitializeConditions",
        "the first reconcile's reason, replaced in the same reconcile",
    ),
    _t(
        "ResolvingPipelineRef",
        "PipelineRun",
        f"{PR} reconcile",
        "while the bundle resolver works; ends in CouldntGetPipeline or a run",
    ),
    _t("ResolvingTaskRef", "PipelineRun", f"{PR} reconcile", "while a Task is being resolved"),
    _t(
        "PipelineRunStopping",
        "PipelineRun",
        f"{STATE} GetPipelineConditionStatus",
        "between a failed task and the end of the tasks still running",
    ),
    _t(
        "PipelineRunTimeoutRunningFinally",
        "PipelineRun",
        f"{STATE} GetPipelineConditionStatus",
        "needs timeouts.tasks, which the controller never sets",
    ),
    _t(
        "CancelledRunningFinally",
        "PipelineRun",
        f"{STATE} GetPipelineConditionStatus",
        "while finally tasks run after a graceful cancel; ends Cancelled",
    ),
    _t(
        "StoppedRunningFinally",
        "PipelineRun",
        f"{STATE} GetPipelineConditionStatus",
        "while finally tasks run after a graceful stop; ends Cancelled",
    ),
    _t(
        "PipelineRunCouldntCancel",
        "PipelineRun",
        "pkg/reconciler/pipelinerun/cancel.go",
        "status Unknown: Tekton retries the cancel",
    ),
    _t(
        "PipelineRunCouldntTimeOut",
        "PipelineRun",
        "pkg/reconciler/pipelinerun/timeout.go",
        "status Unknown: Tekton retries the timeout",
    ),
    _t(
        "Started",
        "TaskRun",
        "pkg/apis/pipeline/v1/taskrun_types.go InitializeConditions",
        "the first reconcile's reason; not kept as Previous status",
    ),
    _t(
        "ToBeRetried",
        "TaskRun",
        f"{TR} retryTaskRun",
        "between attempts of a pipeline task with retries",
    ),
    _t(
        "ResolvingTaskRef",
        "TaskRun.previous",
        f"{TR} prepare",
        "the TaskRun's reason while a remote Task is resolved; kept as Previous status when "
        "a timeout ends the wait, where it adds nothing to the timeout",
        DEADLINE,
    ),
    _t(
        "ResolvingStepActionRef",
        "TaskRun.previous",
        f"{TR} prepare",
        "the TaskRun's reason while a remote StepAction is resolved; as Previous status it "
        "adds nothing to the timeout",
        DEADLINE,
    ),
    _t(
        "Pending",
        "TaskRun",
        f"{POD} updateIncompleteTaskRunStatus; {TR} handlePodCreationError",
        "the TaskRun's reason while its pod is pending; kept in the message when cancelled",
    ),
    _t(
        "ErrImagePull",
        "container.waiting",
        KUBELET,
        "before ImagePullBackOff; terminateStepsInPod replaces it",
        IMAGE,
        "PullImageFailed",
    ),
    _t(
        "InvalidImageName",
        "container.waiting",
        KUBELET,
        "checkContainerFailure fails the TaskRun at once (TaskRunImagePullFailed)",
        IMAGE,
        "PullImageFailed",
    ),
    _t(
        "ErrImageNeverPull",
        "container.waiting",
        KUBELET,
        "stays PullImageFailed until a timeout replaces it",
        IMAGE,
        "PullImageFailed",
    ),
    _t(
        "ImageInspectError",
        "container.waiting",
        KUBELET,
        "stays PullImageFailed until a timeout replaces it",
        IMAGE,
        "PullImageFailed",
    ),
    _t(
        "RegistryUnavailable",
        "container.waiting",
        KUBELET,
        "stays PullImageFailed until a timeout replaces it",
        IMAGE,
        "PullImageFailed",
    ),
    _t(
        "CreateContainerError",
        "container.waiting",
        KUBELET,
        "checkContainerFailure fails the TaskRun (PodCreationFailed), terminateStepsInPod "
        "replaces it",
        CONFIG,
        "Pending",
    ),
    _t("ContainerCreating", "container.waiting", KUBELET, "before the container starts"),
    _t(
        "ContainerStatusUnknown",
        "container.terminated",
        KUBELET,
        "the kubelet lost the container (e.g. its node went away); the TaskRun fails on the "
        "exit code",
        TASK,
        "StepFailed",
    ),
)

NOT_WRITTEN: tuple[Reason, ...] = (
    _t(
        "InvalidPipelineResourceBindings",
        "PipelineRun",
        "pkg/apis/pipeline/v1/pipelinerun_types.go",
        "declared for the removed PipelineResources; nothing sets it",
        CONFIG,
    ),
    _t(
        "InvalidTaskRunSpecs",
        "PipelineRun",
        f"{PR} reconcile (ValidateTaskRunSpecs)",
        "the controller sets no spec.taskRunSpecs",
        CONFIG,
    ),
    _t(
        "ObjectParameterMissKeys",
        "PipelineRun",
        f"{PR} reconcile",
        "the controller passes only string parameters: ParameterTypeMismatch fires first",
        CONFIG,
    ),
    _t(
        "PipelineInvalidGraph",
        "PipelineRun",
        f"{PR} reconcile",
        "bundles are dry-run validated first: a cycle is PipelineValidationFailed "
        "(dry_run_validation_failed)",
        CONFIG,
    ),
    _t(
        "CELEvaluationFailed",
        "PipelineRun",
        f"{PR} reconcile, runNextSchedulableTask",
        "enable-cel-in-whenexpression is off by default: the dry run rejects CEL first",
        CONFIG,
    ),
    _t(
        "CouldntCreateWorkspacePVC",
        "PipelineRun",
        f"{PR} reconcile",
        "the controller binds no workspaces (volumeClaimTemplate)",
        CONFIG,
    ),
    _t(
        "ReasonCouldntCreateOrUpdateAffinityAssistantStatefulSet",
        "PipelineRun",
        f"{PR} reconcile",
        "only for PVC workspaces, which the controller never binds",
        CONFIG,
    ),
    _t(
        "PipelineRunPending",
        "PipelineRun",
        f"{PR} reconcile",
        "needs spec.status PipelineRunPending, which the controller never sets",
    ),
    _t(
        "TaskRunResultLargerThanAllowedLimit",
        "TaskRun",
        f"{TR} ReconcileKind",
        "only with results-from sidecar-logs (off by default); with termination messages an "
        "oversized result fails the step (StepFailed)",
        CONFIG,
    ),
    _t(
        "InvalidParamValue",
        "TaskRun",
        f"{TR} prepare",
        "a PipelineRun validates enums before it creates TaskRuns (PipelineRun InvalidParamValue)",
        CONFIG,
    ),
    _t(
        "ResourceVerificationFailed",
        "TaskRun",
        f"{TR} prepare",
        "a PipelineRun verifies its Tasks before it creates TaskRuns (PipelineRun reason)",
        FORBIDDEN,
    ),
    _t(
        "CouldntCreateWorkspacePVC",
        "TaskRun",
        f"{TR} reconcile",
        "the controller binds no workspaces",
        CONFIG,
    ),
    _t(
        "TaskRunPending",
        "TaskRun",
        f"{TR} ReconcileKind",
        "needs spec.status TaskRunPending, which a PipelineRun never sets",
    ),
    _t(
        "ContainerCannotRun",
        "container.terminated",
        KUBELET,
        "written by dockershim, gone since Kubernetes v1.24: containerd says StartError",
        CONFIG,
        "StepFailed",
    ),
    _t(
        "Cancelled",
        "step.terminationReason",
        "pkg/entrypoint/entrypointer.go Go",
        "needs keep-pod-on-cancel (off by default), and the TaskRun is done before the pod "
        "reports it",
    ),
)
