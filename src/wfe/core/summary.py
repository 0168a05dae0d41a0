"""Natural-language summaries of failures: a few sentences a person or an AI can act on.

Each summary says what failed, where (task, TaskRun, step or sidecar), why (the classified
reason in plain words, and Tekton's own reason and message), whether the cluster may have been
changed, and what to check next (specific to Tekton's reason where it says more,
`wfe.core.reasons.hint`).
"""

from __future__ import annotations

from collections.abc import Sequence

from wfe.api.enums import FailureReason
from wfe.api.models import FailureDetails
from wfe.core.errors import Problem
from wfe.core.reasons import TEKTON, hint

__all__ = ["configuration_summary", "failure_summary"]

_WHY = {
    FailureReason.OOM_KILLED: "the container ran out of memory and was killed (OOMKilled)",
    FailureReason.DEADLINE_EXCEEDED: "it did not finish within its timeout",
    FailureReason.FORBIDDEN: "it was not permitted to do what it tried (forbidden)",
    FailureReason.RESOURCE_EXHAUSTED: "the cluster had no room for it (quota, node capacity "
    "or node pressure)",
    FailureReason.CONFIGURATION_ERROR: "the workflow, its parameters or something it needs in "
    "the execution namespace is invalid or missing",
    FailureReason.IMAGE_PULL_BACK_OFF: "a container image could not be pulled",
    FailureReason.TASK_FAILED: "a step (or sidecar) exited with an error",
    FailureReason.UNKNOWN: "it stopped for a reason Tekton did not classify (or was cancelled)",
}

# Tekton's message is quoted for the specifics (names, quota, the missing object); long ones
# (Pod Security lists every container) are cut, the full text is in failureDetails.message.
_QUOTED = 300


def _quote(message: str) -> str:
    text = " ".join(message.split())
    if len(text) > _QUOTED:
        return text[: _QUOTED - 1].rstrip() + "…"
    return text if text.endswith((".", "!", "?")) else text + "."


def failure_summary(
    details: FailureDetails,
    pipeline_run: str,
    *,
    tekton_reason: str | None = None,
    tekton_message: str | None = None,
    sidecar: bool = False,
) -> str:
    """Explain a classified PipelineRun failure; `tekton_reason`/`tekton_message` are the
    reason that decided it and the message Tekton (or the kubelet) wrote with it."""
    where = ""
    if details.failed_task_name:
        where = f" in task {details.failed_task_name!r}"
        if details.failed_task_run_name:
            where += f" (TaskRun {details.failed_task_run_name})"
        if details.failed_step_name:
            where += f", {'sidecar' if sidecar else 'step'} {details.failed_step_name!r}"
        if details.exit_code is not None:
            where += f" (exit code {details.exit_code})"
    sentences = [
        f"Workflow PipelineRun {pipeline_run} failed{where} because {_WHY[details.reason]}."
    ]
    if tekton_reason and tekton_message:
        # Condition reasons are Tekton's; container reasons the kubelet's or the entrypoint's.
        who = "Tekton" if tekton_reason in TEKTON else "The container"
        sentences.append(f"{who} reported {tekton_reason}: {_quote(tekton_message)}")
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
    sentences.append(hint(details.reason, tekton_reason))
    return " ".join(sentences)


def configuration_summary(problems: Sequence[Problem]) -> str:
    """Explain a spec rejected before anything ran."""
    listed = "; ".join(str(p) for p in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return (
        f"The WorkflowExecution was not run because its spec is invalid: {listed}{more}. "
        "Nothing ran, so the target is unchanged. " + hint(FailureReason.CONFIGURATION_ERROR)
    )
