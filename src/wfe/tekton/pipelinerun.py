"""Building the lock PipelineRun for a WorkflowExecution (SPEC §3, §5).

Pure and deterministic: the same WorkflowExecution and policy give a byte-identical manifest
(parameters sorted by name), so a retried create after a lost status write asks for exactly
what the first one did. Parameters are data only: they go into `spec.params` as strings and are
never interpolated into anything the controller executes.
"""

from __future__ import annotations

from typing import Any

from wfe.api.models import WorkflowRef
from wfe.core.contention import OWNER_LABEL, OWNER_NAMESPACE_LABEL, OWNER_UID_ANNOTATION
from wfe.core.durations import format_duration
from wfe.core.lock import label_value, lock_name, target_label_value
from wfe.core.validation import TARGET_PARAMETER, ValidSpec

__all__ = [
    "API_VERSION",
    "KIND",
    "MANAGED_BY",
    "PIPELINE_NAME",
    "PLURAL",
    "TARGET_ANNOTATION",
    "TARGET_LABEL",
    "WORKFLOW_ID_LABEL",
    "build_pipeline_run",
    "bundle_reference",
]

GROUP = "tekton.dev"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "PipelineRun"
PLURAL = "pipelineruns"
PIPELINE_NAME = "workflow"
WORKFLOW_ID_LABEL = "kubernaut.ai/workflow-id"
TARGET_LABEL = "kubernaut.ai/target-resource"
TARGET_ANNOTATION = "kubernaut.ai/target-resource"
MANAGED_BY = "workflow-execution"


def bundle_reference(ref: WorkflowRef) -> str:
    """The bundle to resolve: `image@digest` when a digest pins it, else the image."""
    if ref.container_digest and "@" not in ref.container_image:
        return f"{ref.container_image}@{ref.container_digest}"
    return ref.container_image


def build_pipeline_run(
    valid: ValidSpec, *, namespace: str, name: str, uid: str, execution_namespace: str
) -> dict[str, Any]:
    """The PipelineRun that runs, and is the lock for, WorkflowExecution `namespace/name`."""
    spec = valid.spec
    target = valid.target.raw
    params = dict(spec.parameters or {})
    params[TARGET_PARAMETER] = target
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": lock_name(target),
            "namespace": execution_namespace,
            "labels": {
                OWNER_LABEL: name,
                OWNER_NAMESPACE_LABEL: namespace,
                WORKFLOW_ID_LABEL: label_value(spec.workflow_ref.workflow_id),
                TARGET_LABEL: target_label_value(target),
                "app.kubernetes.io/managed-by": MANAGED_BY,
            },
            "annotations": {TARGET_ANNOTATION: target, OWNER_UID_ANNOTATION: uid},
        },
        "spec": {
            "pipelineRef": {
                "resolver": "bundles",
                "params": [
                    {"name": "bundle", "value": bundle_reference(spec.workflow_ref)},
                    {"name": "name", "value": PIPELINE_NAME},
                    {"name": "kind", "value": "pipeline"},
                ],
            },
            "params": [{"name": k, "value": params[k]} for k in sorted(params)],
            "taskRunTemplate": {"serviceAccountName": valid.service_account},
            "timeouts": {"pipeline": format_duration(valid.timeout)},
        },
    }
