"""Building the lock PipelineRun for a WorkflowExecution (SPEC §3, §5).

Pure and deterministic: the same WorkflowExecution and policy give a byte-identical manifest
(parameters sorted by name), so a retried create after a lost status write asks for exactly
what the first one did. Parameters are data only: they go into `spec.params` as strings and are
never interpolated into anything the controller executes.

Labels carry names only as valid label values (a WorkflowExecution name may be 253 characters,
a label value 63): `label_value` keeps a short valid name as it is and otherwise shortens it
with a hash. The exact owner is in the annotations, which hold any string (docs/architecture.md).
"""

from __future__ import annotations

from typing import Any

from wfe.core.contention import (
    LOCK_FINALIZER,
    OWNER_LABEL,
    OWNER_NAME_ANNOTATION,
    OWNER_NAMESPACE_ANNOTATION,
    OWNER_NAMESPACE_LABEL,
    OWNER_UID_ANNOTATION,
)
from wfe.core.durations import format_duration
from wfe.core.lock import label_value, lock_name, target_label_value
from wfe.core.validation import Dependency, ValidSpec

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
    "workspace",
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


def workspace(dependency: Dependency) -> dict[str, Any]:
    """The workspace binding that mounts a Secret or ConfigMap dependency (upstream's naming)."""
    if dependency.kind == "secret":
        return {"name": dependency.workspace, "secret": {"secretName": dependency.name}}
    return {"name": dependency.workspace, "configMap": {"name": dependency.name}}


def build_pipeline_run(
    valid: ValidSpec, *, namespace: str, name: str, uid: str, execution_namespace: str
) -> dict[str, Any]:
    """The PipelineRun that runs, and is the lock for, WorkflowExecution `namespace/name`."""
    spec = valid.spec
    target = valid.target.raw
    run_spec: dict[str, Any] = {
        "pipelineRef": {
            "resolver": "bundles",
            "params": [
                {"name": "bundle", "value": valid.bundle.reference},
                {"name": "name", "value": PIPELINE_NAME},
                {"name": "kind", "value": "pipeline"},
            ],
        },
        "params": [{"name": k, "value": v} for k, v in valid.parameters],
        "taskRunTemplate": {"serviceAccountName": valid.service_account},
        "timeouts": {"pipeline": format_duration(valid.timeout)},
    }
    if valid.dependencies:
        run_spec["workspaces"] = [workspace(d) for d in valid.dependencies]
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": lock_name(target),
            "namespace": execution_namespace,
            "finalizers": [LOCK_FINALIZER],
            "labels": {
                OWNER_LABEL: label_value(name),
                OWNER_NAMESPACE_LABEL: label_value(namespace),
                WORKFLOW_ID_LABEL: label_value(spec.workflow_ref.workflow_id),
                TARGET_LABEL: target_label_value(target),
                "app.kubernetes.io/managed-by": MANAGED_BY,
            },
            "annotations": {
                TARGET_ANNOTATION: target,
                OWNER_NAME_ANNOTATION: name,
                OWNER_NAMESPACE_ANNOTATION: namespace,
                OWNER_UID_ANNOTATION: uid,
            },
        },
        "spec": run_spec,
    }
