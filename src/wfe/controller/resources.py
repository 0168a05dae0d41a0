"""The API resources the controller reads and writes, and its fixed names."""

from __future__ import annotations

from wfe.api import models
from wfe.core import history
from wfe.kube.client import Resource
from wfe.tekton import pipelinerun

__all__ = ["FINALIZER", "PIPELINE_RUNS", "TASK_RUNS", "WORKFLOW_EXECUTIONS"]

FINALIZER = history.FINALIZER

WORKFLOW_EXECUTIONS = Resource(
    group=models.GROUP, version=models.VERSION, plural=models.PLURAL, kind=models.KIND
)
PIPELINE_RUNS = Resource(
    group="tekton.dev", version="v1", plural=pipelinerun.PLURAL, kind=pipelinerun.KIND
)
TASK_RUNS = Resource(group="tekton.dev", version="v1", plural="taskruns", kind="TaskRun")
