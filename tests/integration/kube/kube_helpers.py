"""Resource types and object builders shared by wfe.kube's integration tests."""

from __future__ import annotations

from typing import Any

from wfe.kube.client import Resource

CONFIG_MAPS = Resource("", "v1", "configmaps", "ConfigMap")
WORKFLOW_EXECUTIONS = Resource(
    "kubernaut.ai", "v1alpha1", "workflowexecutions", "WorkflowExecution"
)


def config_map(name: str, data: dict[str, str] | None = None, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": data or {},
    }


def workflow_execution(name: str, target: str = "payment/Deployment/api") -> dict[str, Any]:
    return {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "WorkflowExecution",
        "metadata": {"name": name},
        "spec": {
            "targetResource": target,
            "workflowRef": {
                "workflowId": "restart-pod",
                "version": "1.0.0",
                "containerImage": "registry.example.com/workflows/restart-pod:1.0.0",
            },
        },
    }
