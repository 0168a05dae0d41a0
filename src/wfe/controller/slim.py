"""What the controller caches of each object: everything it reads, nothing else.

Like client-go's informer transforms. `metadata.managedFields` alone is often half an object;
a TaskRun's status also carries its whole resolved `taskSpec` (scripts included) and a
PipelineRun's its resolved `pipelineSpec`. Dropping them keeps 10,000 cached
WorkflowExecutions and their runs within a small controller's memory. The failure analysis
reads the slimmed objects exactly as it reads full ones (tests/controller/test_slim.py proves
it on the Tekton corpus).
"""

from __future__ import annotations

from typing import Any

__all__ = ["slim_object", "slim_pipeline_run", "slim_task_run"]


def slim_object(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop `metadata.managedFields` (server-side apply bookkeeping)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return obj


def slim_pipeline_run(obj: dict[str, Any]) -> dict[str, Any]:
    """Keep only the task names of the resolved pipeline (their order and count are read)."""
    obj = slim_object(obj)
    status = obj.get("status")
    if not isinstance(status, dict):
        return obj
    slim = {k: v for k, v in status.items() if k not in ("pipelineSpec", "provenance")}
    spec = status.get("pipelineSpec")
    if isinstance(spec, dict):
        slim["pipelineSpec"] = {
            part: [{"name": t.get("name")} for t in spec.get(part) or [] if isinstance(t, dict)]
            for part in ("tasks", "finally")
            if spec.get(part)
        }
    return {**obj, "status": slim}


def slim_task_run(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop the resolved task definition and provenance; keep conditions and step states."""
    obj = slim_object(obj)
    status = obj.get("status")
    if isinstance(status, dict):
        obj = {
            **obj,
            "status": {k: v for k, v in status.items() if k not in ("taskSpec", "provenance")},
        }
    spec = obj.get("spec")
    if isinstance(spec, dict) and "taskSpec" in spec:
        obj = {**obj, "spec": {k: v for k, v in spec.items() if k != "taskSpec"}}
    return obj
