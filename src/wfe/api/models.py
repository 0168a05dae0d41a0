"""Pydantic models of `kubernaut.ai/v1alpha1` WorkflowExecution (SPEC §2).

Field names are the upstream kubernaut ones (camelCase on the wire), so objects written for
the upstream controller are accepted unchanged (docs/api.md). The spec models live in
`wfe.api.spec` and are re-exported here; this module holds the status the controller writes.
The CRD manifest is generated from these models (`wfe.api.crd`), so the schema the server
enforces and the models the controller writes cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from wfe.api.base import KubeTime, format_time
from wfe.api.base import Model as _Model
from wfe.api.enums import FailureReason, Outcome, Phase, SkipReason
from wfe.api.spec import (
    ExecutionConfig,
    ObjectReference,
    WorkflowDependencies,
    WorkflowExecutionSpec,
    WorkflowRef,
    WorkflowResourceDependency,
)

__all__ = [
    "API_VERSION",
    "GROUP",
    "KIND",
    "PLURAL",
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
    "WorkflowDependencies",
    "WorkflowExecutionSpec",
    "WorkflowExecutionStatus",
    "WorkflowRef",
    "WorkflowResourceDependency",
    "format_time",
]

GROUP = "kubernaut.ai"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "WorkflowExecution"
PLURAL = "workflowexecutions"


class LocalObjectReference(_Model):
    """A reference by name within a known namespace."""

    name: str = Field(min_length=1, max_length=253)


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
