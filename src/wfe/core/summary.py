"""Natural-language summaries of failures: a few sentences a person or an AI can act on.

Each summary says what failed, where, why (the classified reason in plain words), whether the
cluster may have been changed, and what to check next.
"""

from __future__ import annotations

from collections.abc import Sequence

from wfe.api.enums import FailureReason
from wfe.api.models import FailureDetails
from wfe.core.errors import Problem

__all__ = ["configuration_summary", "failure_summary"]

_WHY = {
    FailureReason.OOM_KILLED: "the container ran out of memory and was killed (OOMKilled)",
    FailureReason.DEADLINE_EXCEEDED: "it did not finish within its timeout",
    FailureReason.FORBIDDEN: "it was not permitted to do what it tried (forbidden)",
    FailureReason.RESOURCE_EXHAUSTED: "the cluster had no room for it (quota or capacity)",
    FailureReason.CONFIGURATION_ERROR: "the workflow or its parameters are invalid",
    FailureReason.IMAGE_PULL_BACK_OFF: "a container image could not be pulled",
    FailureReason.TASK_FAILED: "a step exited with an error",
    FailureReason.UNKNOWN: "it stopped for a reason Tekton did not classify (or was cancelled)",
}

_NEXT = {
    FailureReason.OOM_KILLED: "Raise the step's memory limit in the workflow bundle or "
    "reduce what it processes.",
    FailureReason.DEADLINE_EXCEEDED: "Check what the step was waiting for; raise "
    "spec.executionConfig.timeout only if the work legitimately takes longer.",
    FailureReason.FORBIDDEN: "Check the runner service account's RBAC and any admission "
    "policy in the execution namespace.",
    FailureReason.RESOURCE_EXHAUSTED: "Check ResourceQuota and node capacity in the "
    "execution namespace.",
    FailureReason.CONFIGURATION_ERROR: "Fix the workflow reference or parameters and create "
    "a new WorkflowExecution.",
    FailureReason.IMAGE_PULL_BACK_OFF: "Check the image reference, registry credentials "
    "and registry reachability.",
    FailureReason.TASK_FAILED: "Read the step's logs for the error.",
    FailureReason.UNKNOWN: "Read the PipelineRun's conditions and the TaskRuns' logs.",
}


def failure_summary(details: FailureDetails, pipeline_run: str) -> str:
    """Explain a classified PipelineRun failure."""
    where = ""
    if details.failed_task_name:
        where = f" in task {details.failed_task_name!r}"
        if details.failed_step_name:
            where += f", step {details.failed_step_name!r}"
        if details.exit_code is not None:
            where += f" (exit code {details.exit_code})"
    sentences = [
        f"Workflow PipelineRun {pipeline_run} failed{where} because {_WHY[details.reason]}."
    ]
    if details.execution_time_before_failure:
        sentences.append(f"It failed {details.execution_time_before_failure} after starting.")
    if details.was_execution_failure:
        sentences.append(
            "Steps had already run, so the target may be partly changed: the target is "
            "blocked until a person checks it and clears the block."
        )
    else:
        sentences.append(
            "Nothing ran, so the target is unchanged; it will be retried after a backoff."
        )
    sentences.append(_NEXT[details.reason])
    return " ".join(sentences)


def configuration_summary(problems: Sequence[Problem]) -> str:
    """Explain a spec rejected before anything ran."""
    listed = "; ".join(str(p) for p in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return (
        f"The WorkflowExecution was not run because its spec is invalid: {listed}{more}. "
        "Nothing ran, so the target is unchanged. " + _NEXT[FailureReason.CONFIGURATION_ERROR]
    )
