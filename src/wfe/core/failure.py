"""Failure analysis: why did a PipelineRun fail, where, and did anything run? (SPEC §6)

Evidence is read most specific first: a step's `terminated.reason` (the kubelet's word, e.g.
`OOMKilled`) beats a TaskRun's condition reason (`TaskRunTimeout`, `ExceededResourceQuota`),
which beats the PipelineRun's (`PipelineRunTimeout`, `CouldntGetPipeline`), which beats words
in messages. Messages are matched as words, never substrings: "room" is not OOM and
"forbiddenfruit" is not Forbidden.

`wasExecutionFailure` is false only when nothing ran — no step container ever started — which
is what makes it safe to retry with backoff instead of blocking the target for a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from wfe.api.enums import FailureReason
from wfe.api.models import FailureDetails
from wfe.core import summary
from wfe.core.durations import format_duration

__all__ = ["RunEvidence", "StepEvidence", "TaskRunEvidence", "analyse", "classify_words"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StepEvidence:
    """One step container's state, as Tekton copies it into the TaskRun status."""

    name: str
    started: bool = False
    exit_code: int | None = None
    terminated_reason: str | None = None
    waiting_reason: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRunEvidence:
    """A TaskRun of the PipelineRun: its task, condition and steps."""

    name: str
    pipeline_task: str | None
    index: int | None
    succeeded: bool | None
    reason: str | None = None
    message: str | None = None
    completion_time: datetime | None = None
    steps: tuple[StepEvidence, ...] = ()
    # Reasons the TaskRun showed before its final one (Tekton appends them to the message
    # when it cancels a run, e.g. a quota wait that ended in a timeout).
    earlier_reasons: tuple[str, ...] = ()

    @property
    def ran(self) -> bool:
        return self.succeeded is True or any(s.started for s in self.steps)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEvidence:
    """A PipelineRun's `Succeeded` condition, timing and TaskRuns."""

    name: str
    succeeded: bool | None
    reason: str | None = None
    message: str | None = None
    start_time: datetime | None = None
    completion_time: datetime | None = None
    total_tasks: int | None = None
    task_runs: tuple[TaskRunEvidence, ...] = field(default_factory=tuple)

    @property
    def completed_tasks(self) -> int:
        return sum(1 for t in self.task_runs if t.succeeded is True)

    @property
    def ran(self) -> bool:
        return any(t.ran for t in self.task_runs)


_OOM_REASONS = {"OOMKilled"}
_IMAGE_REASONS = {
    "ImagePullBackOff",
    "PullImageFailed",
    "ErrImagePull",
    "InvalidImageName",
    "ErrImageNeverPull",
    "TaskRunImagePullFailed",
}
_TIMEOUT_REASONS = {"TaskRunTimeout", "PipelineRunTimeout", "DeadlineExceeded"}
_QUOTA_REASONS = {"ExceededResourceQuota", "ExceededNodeResources"}
# A person or the remediation orchestrator stopped the run: what it changed is unknown.
_CANCEL_REASONS = {
    "Cancelled",
    "PipelineRunCancelled",
    "CancelledRunFinally",
    "StoppedRunFinally",
    "TaskRunCancelled",
}
_CONFIG_REASONS = {
    "CouldntGetPipeline",
    "CouldntGetTask",
    "CouldntGetPipelineResult",
    "PipelineValidationFailed",
    "TaskRunValidationFailed",
    "PipelineInvalidGraph",
    "ParameterMissing",
    "ParameterTypeMismatch",
    "InvalidParamValue",
    "ObjectParameterMissKeys",
    "ParamArrayIndexingInvalid",
    "InvalidWorkspaceBindings",
    "InvalidTaskResultReference",
    "InvalidPipelineResultReference",
    "RequiredWorkspaceMarkedOptional",
    "ResolutionFailed",
    "CreateContainerConfigError",
    "InvalidServiceAccount",
}

# Phrases in messages, as lower-case word sequences, most specific class first.
_WORD_RULES: tuple[tuple[FailureReason, tuple[tuple[str, ...], ...]], ...] = (
    (FailureReason.OOM_KILLED, (("oomkilled",), ("out", "of", "memory"), ("oom", "killed"))),
    (
        FailureReason.IMAGE_PULL_BACK_OFF,
        (("imagepullbackoff",), ("errimagepull",), ("failed", "to", "pull", "image")),
    ),
    (
        FailureReason.DEADLINE_EXCEEDED,
        (("deadline", "exceeded"), ("timed", "out"), ("failed", "to", "finish", "within")),
    ),
    (FailureReason.FORBIDDEN, (("forbidden",), ("unauthorized",), ("permission", "denied"))),
    (
        FailureReason.RESOURCE_EXHAUSTED,
        (("exceeded", "quota"), ("insufficient", "cpu"), ("insufficient", "memory")),
    ),
)
_WORD = re.compile(r"[a-z0-9]+")


def classify_words(text: str | None) -> FailureReason | None:
    """The failure class a message names in whole words, if any."""
    if not text:
        return None
    words = _WORD.findall(text.lower())
    for reason, phrases in _WORD_RULES:
        for phrase in phrases:
            n = len(phrase)
            if any(tuple(words[i : i + n]) == phrase for i in range(len(words) - n + 1)):
                return reason
    return None


def _classify_reason(reason: str | None) -> FailureReason | None:
    """The class a specific reason names; cancellation is not specific (see _classify)."""
    if reason in _OOM_REASONS:
        return FailureReason.OOM_KILLED
    if reason in _IMAGE_REASONS:
        return FailureReason.IMAGE_PULL_BACK_OFF
    if reason in _TIMEOUT_REASONS:
        return FailureReason.DEADLINE_EXCEEDED
    if reason in _QUOTA_REASONS:
        return FailureReason.RESOURCE_EXHAUSTED
    if reason in _CONFIG_REASONS:
        return FailureReason.CONFIGURATION_ERROR
    return None


def _nonzero_exit(step: StepEvidence) -> bool:
    return step.exit_code not in (None, 0)


def _waiting(step: StepEvidence) -> bool:
    return step.waiting_reason is not None


def _odd_end(step: StepEvidence) -> bool:
    return step.terminated_reason not in (None, "Completed")


def _failed_step(task_run: TaskRunEvidence) -> StepEvidence | None:
    """The step that broke: a non-zero exit, else a waiting container, else an odd end."""
    for predicate in (_nonzero_exit, _waiting, _odd_end):
        for step in task_run.steps:
            if predicate(step):
                return step
    return None


def _first_failed(evidence: RunEvidence) -> TaskRunEvidence | None:
    failed = [t for t in evidence.task_runs if t.succeeded is False]
    if not failed:
        return None
    return min(
        failed,
        key=lambda t: (
            t.completion_time.timestamp() if t.completion_time else float("inf"),
            t.index if t.index is not None else 1 << 30,
            t.name,
        ),
    )


def _classify(
    evidence: RunEvidence, task_run: TaskRunEvidence | None, step: StepEvidence | None
) -> FailureReason:
    """Most specific evidence first: step, TaskRun, what the TaskRun was before it was
    cancelled, PipelineRun, then words in messages; a cancellation with nothing more specific
    is Unknown (what it changed is unknown)."""
    candidates: list[FailureReason | None] = []
    if step is not None:
        candidates += [
            _classify_reason(step.terminated_reason),
            _classify_reason(step.waiting_reason),
        ]
    if task_run is not None:
        candidates.append(_classify_reason(task_run.reason))
        candidates += [_classify_reason(r) for r in task_run.earlier_reasons]
    candidates.append(_classify_reason(evidence.reason))
    if step is not None:
        candidates.append(classify_words(step.message))
    if task_run is not None:
        candidates.append(classify_words(task_run.message))
    candidates.append(classify_words(evidence.message))
    for candidate in candidates:
        if candidate is not None:
            return candidate
    reasons = {evidence.reason, task_run.reason if task_run else None}
    if reasons & _CANCEL_REASONS:
        return FailureReason.UNKNOWN
    if task_run is not None:
        return FailureReason.TASK_FAILED
    return FailureReason.UNKNOWN


def analyse(evidence: RunEvidence, *, now: datetime) -> FailureDetails:
    """Explain a failed PipelineRun (its `Succeeded` condition is False)."""
    task_run = _first_failed(evidence)
    step = _failed_step(task_run) if task_run is not None else None
    reason = _classify(evidence, task_run, step)
    failed_at = (
        (task_run.completion_time if task_run is not None else None)
        or evidence.completion_time
        or now
    )
    before = (
        format_duration(failed_at - evidence.start_time)
        if evidence.start_time is not None and failed_at >= evidence.start_time
        else None
    )
    message = _message(evidence, task_run, step)
    ran = evidence.ran
    details = FailureDetails(
        failed_task_index=task_run.index if task_run is not None else None,
        failed_task_name=task_run.pipeline_task if task_run is not None else None,
        failed_task_run_name=task_run.name if task_run is not None else None,
        failed_step_name=step.name if step is not None else None,
        reason=reason,
        message=message,
        exit_code=step.exit_code if step is not None else None,
        failed_at=failed_at,
        execution_time_before_failure=before,
        was_execution_failure=ran,
    )
    return details.model_copy(
        update={"natural_language_summary": summary.failure_summary(details, evidence.name)}
    )


def _message(
    evidence: RunEvidence, task_run: TaskRunEvidence | None, step: StepEvidence | None
) -> str:
    for text in (
        step.message if step is not None else None,
        task_run.message if task_run is not None else None,
        evidence.message,
    ):
        if text:
            return text[:2048]
    return f"PipelineRun {evidence.name} failed ({evidence.reason or 'no reason given'})"
