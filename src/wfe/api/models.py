"""Pydantic models of `kubernaut.ai/v1alpha1` WorkflowExecution (SPEC §2).

Field names are the upstream kubernaut ones (camelCase on the wire), so objects written for
the upstream controller are accepted unchanged; unknown fields are ignored, not rejected,
because the API server's structural schema already prunes them. The CRD manifest is generated
from these models (`wfe.api.crd`), so the schema the server enforces and the models the
controller writes cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

from wfe.api.enums import FailureReason, Outcome, Phase, SkipReason

__all__ = [
    "API_VERSION",
    "GROUP",
    "KIND",
    "PARAMETER_KEY_PATTERN",
    "PLURAL",
    "TARGET_PATTERN",
    "VERSION",
    "BlockClearance",
    "Condition",
    "ConflictingWorkflow",
    "ExecutionConfig",
    "FailureDetails",
    "KubeTime",
    "LocalObjectReference",
    "ObjectReference",
    "PipelineRunStatusSummary",
    "RecentRemediation",
    "SkipDetails",
    "WorkflowExecutionSpec",
    "WorkflowExecutionStatus",
    "WorkflowRef",
    "format_time",
]

GROUP = "kubernaut.ai"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "WorkflowExecution"
PLURAL = "workflowexecutions"

# `namespace/Kind/name` or `Kind/name`. Namespace is a DNS label; Kind an identifier; the name
# any Kubernetes object name (path-segment safe: no `/`, no whitespace, e.g. `system:node`).
_NAMESPACE = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_KIND = r"[A-Za-z][A-Za-z0-9]*"
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9._:]*[A-Za-z0-9])?"
TARGET_PATTERN = rf"^({_NAMESPACE}/)?{_KIND}/{_NAME}$"
PARAMETER_KEY_PATTERN = r"^[A-Z][A-Z0-9_]*$"
# Go's time.ParseDuration syntax, as accepted by metav1.Duration.
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"
_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
_DIGEST = r"^[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$"
# Bounds keep CEL's cost estimate for the spec immutability rule inside the server's budget.
_MAX_PARAMETERS = 64
_MAX_VALUE = 8192


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with second precision, as Kubernetes writes metav1.Time."""
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


KubeTime = Annotated[
    datetime,
    PlainSerializer(format_time, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
        use_enum_values=False,
    )


class ObjectReference(_Model):
    """A reference to another object (corev1.ObjectReference)."""

    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    field_path: str | None = None


class LocalObjectReference(_Model):
    """A reference by name within a known namespace."""

    name: str = Field(min_length=1, max_length=253)


class WorkflowRef(_Model):
    """The remediation workflow: a Tekton bundle holding a Pipeline named `workflow`."""

    workflow_id: str = Field(min_length=1, max_length=253, description="Catalog workflow ID.")
    version: str = Field(min_length=1, max_length=128, description="Workflow version.")
    container_image: str = Field(
        min_length=1,
        max_length=1024,
        pattern=r"^[^\s@]+(@[^\s]+)?$",
        description="OCI reference of the Tekton bundle.",
    )
    container_digest: str | None = Field(
        default=None,
        max_length=1024,
        pattern=_DIGEST,
        description="Optional digest (e.g. sha256:...); when set the bundle is pinned.",
    )


class ExecutionConfig(_Model):
    """Per-execution overrides, each bounded by the controller's configuration."""

    timeout: str | None = Field(
        default=None,
        max_length=64,
        pattern=DURATION_PATTERN,
        description="Pipeline timeout (Go duration, e.g. 30m); capped by the configured maximum.",
    )
    service_account_name: str | None = Field(
        default=None,
        max_length=253,
        pattern=_DNS_SUBDOMAIN,
        description="Runner service account; must be in the controller's allow-list.",
    )


class WorkflowExecutionSpec(_Model):
    """What to run against which target. Immutable after creation."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": "self == oldSelf", "message": "spec is immutable"}
            ]
        }
    )

    remediation_request_ref: ObjectReference | None = None
    workflow_ref: WorkflowRef
    target_resource: str = Field(
        min_length=3,
        max_length=600,
        pattern=TARGET_PATTERN,
        description="namespace/Kind/name or Kind/name; the lock key, compared exactly.",
    )
    parameters: dict[str, Annotated[str, Field(max_length=_MAX_VALUE)]] | None = Field(
        default=None,
        max_length=_MAX_PARAMETERS,
        description="Workflow parameters; keys UPPER_SNAKE_CASE, passed to Tekton as strings.",
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.all(k, k.matches('" + PARAMETER_KEY_PATTERN + "'))",
                    "message": "parameter keys must be UPPER_SNAKE_CASE",
                }
            ]
        },
    )
    confidence: float | None = Field(default=None, ge=0, le=1, description="Audit only.")
    rationale: str | None = Field(default=None, max_length=_MAX_VALUE, description="Audit only.")
    execution_config: ExecutionConfig | None = None


class PipelineRunStatusSummary(_Model):
    """A mirror of the PipelineRun's Succeeded condition and task progress."""

    status: str | None = None
    reason: str | None = None
    message: str | None = None
    completed_tasks: int | None = None
    total_tasks: int | None = None


class FailureDetails(_Model):
    """A precise analysis of why a WorkflowExecution failed (SPEC §6)."""

    failed_task_index: int | None = None
    failed_task_name: str | None = None
    failed_task_run_name: str | None = None
    failed_step_name: str | None = None
    reason: FailureReason
    message: str
    exit_code: int | None = None
    failed_at: KubeTime | None = None
    execution_time_before_failure: str | None = None
    natural_language_summary: str | None = None
    was_execution_failure: bool


class ConflictingWorkflow(_Model):
    """The running WorkflowExecution that holds the target (ResourceBusy)."""

    name: str
    workflow_id: str | None = None
    started_at: KubeTime | None = None
    target_resource: str | None = None


class RecentRemediation(_Model):
    """The remediation that makes this one wait or stop (all skip reasons but ResourceBusy)."""

    name: str
    workflow_id: str | None = None
    completed_at: KubeTime | None = None
    outcome: Outcome | None = None
    target_resource: str | None = None
    cooldown_remaining: str | None = None


class SkipDetails(_Model):
    """Why this WorkflowExecution was not run."""

    reason: SkipReason
    message: str
    skipped_at: KubeTime
    conflicting_workflow: ConflictingWorkflow | None = None
    recent_remediation: RecentRemediation | None = None


class BlockClearance(_Model):
    """An audited human decision that a failed target may be remediated again."""

    cleared_at: KubeTime
    cleared_by: str = Field(min_length=1)
    clear_reason: str = Field(min_length=1)


class Condition(_Model):
    """metav1.Condition."""

    type: str
    status: str = Field(pattern=r"^(True|False|Unknown)$")
    reason: str
    message: str = ""
    last_transition_time: KubeTime
    observed_generation: int | None = None


class WorkflowExecutionStatus(_Model):
    """Everything the controller records about a WorkflowExecution."""

    phase: Phase | None = None
    start_time: KubeTime | None = None
    completion_time: KubeTime | None = None
    duration: str | None = None
    pipeline_run_ref: LocalObjectReference | None = None
    pipeline_run_status: PipelineRunStatusSummary | None = None
    failure_details: FailureDetails | None = None
    skip_details: SkipDetails | None = None
    consecutive_failures: int | None = Field(default=None, ge=0)
    next_allowed_execution: KubeTime | None = None
    lock_released_at: KubeTime | None = None
    block_clearance: BlockClearance | None = None
    conditions: list[Condition] | None = Field(
        default=None,
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
    )
    observed_generation: int | None = None

    def to_wire(self) -> dict[str, Any]:
        """The status as the API server stores it (camelCase, no nulls)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
