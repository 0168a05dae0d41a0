"""Failure analysis: why did a PipelineRun fail, where, and did anything run? (SPEC §6)

Root cause before symptom, evidence before text (docs/architecture.md, "Failure analysis"):
a container's own state (a step's `OOMKilled`, its entrypoint's `TimeoutExceeded`) beats what
a TaskRun showed before it was stopped (`Previous status: [ExceededNodeResources] ...`), which
beats the TaskRun's final reason (`TaskRunTimeout`, a symptom), which beats the PipelineRun's
(`PipelineRunTimeout`), which beats words in messages. Messages are matched as words, never
substrings: "room" is not OOM and "forbiddenfruit" is not Forbidden. What each reason string
means is `wfe.core.reasons`.

`wasExecutionFailure` is false only when nothing ran — no step's command ever started — which
is what makes it safe to retry with backoff instead of blocking the target for a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from wfe.api.enums import FailureReason
from wfe.api.models import FailureDetails
from wfe.core import reasons, summary
from wfe.core.durations import format_duration
from wfe.core.reasons import classify_words

__all__ = ["RunEvidence", "StepEvidence", "TaskRunEvidence", "analyse", "classify_words"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StepEvidence:
    """One step's (or sidecar's) container state, as Tekton copies it into the TaskRun status.

    `started` means the process ran: not a container that only waited, not a state Tekton
    wrote itself when it stopped the pod, not one the runtime could not start. `exit_code` is
    the command's own, None when the code is Tekton's (synthetic states, the entrypoint's exit
    for a timeout or a skipped step) or nothing ran.
    """

    name: str
    started: bool = False
    exit_code: int | None = None
    terminated_reason: str | None = None
    waiting_reason: str | None = None
    termination_reason: str | None = None
    message: str | None = None
    sidecar: bool = False

    @property
    def finished(self) -> bool:
        return self.terminated_reason is not None or self.exit_code is not None

    @property
    def counts(self) -> bool:
        """Whether this step can be the failure (a skipped or ignored step is not)."""
        return self.termination_reason not in (reasons.SKIPPED, reasons.CONTINUED)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRunEvidence:
    """A TaskRun of the PipelineRun: its task, condition, steps and sidecars."""

    name: str
    pipeline_task: str | None
    index: int | None
    succeeded: bool | None
    reason: str | None = None
    message: str | None = None
    completion_time: datetime | None = None
    steps: tuple[StepEvidence, ...] = ()
    sidecars: tuple[StepEvidence, ...] = ()
    # What the TaskRun showed before it was cancelled or timed out: Tekton appends it to the
    # message ("\nPrevious status: [Reason] message"), e.g. a quota wait that ended in a timeout.
    earlier_reasons: tuple[str, ...] = ()
    earlier_message: str | None = None

    @property
    def ran(self) -> bool:
        """Whether a step's command ran. Steps run in order (each entrypoint waits for the
        previous step), and not before every sidecar has started (awaitSidecarReadiness): a
        later step's running container proves nothing until the ones before it finished."""
        if self.succeeded is True:
            return True
        if any(not s.started for s in self.sidecars):
            return False
        for i, step in enumerate(self.steps):
            if not step.started or step.termination_reason == reasons.SKIPPED:
                continue
            if step.finished or all(s.finished for s in self.steps[:i]):
                return True
        return False


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


def _meaning(table: dict[str, reasons.Meaning], reason: str | None) -> reasons.Meaning | None:
    return table.get(reason) if reason else None


@dataclass(frozen=True, slots=True)
class _Cause:
    reason: FailureReason
    message: str | None
    tekton_reason: str | None


def _specific(
    meaning: reasons.Meaning | None, message: str | None, tekton_reason: str | None
) -> _Cause | None:
    if meaning is None or meaning.reason is None or meaning.generic:
        return None
    return _Cause(meaning.reason, message, tekton_reason)


def _from_words(text: str | None, tekton_reason: str | None) -> _Cause | None:
    reason = classify_words(text)
    return _Cause(reason, text, tekton_reason) if reason is not None else None


def _container_causes(step: StepEvidence) -> list[_Cause | None]:
    message = step.message
    return [
        _specific(
            _meaning(reasons.TERMINATION, step.termination_reason),
            message,
            step.termination_reason,
        ),
        _specific(
            _meaning(reasons.CONTAINER, step.terminated_reason), message, step.terminated_reason
        ),
        _specific(_meaning(reasons.CONTAINER, step.waiting_reason), message, step.waiting_reason),
    ]


def _classify(
    evidence: RunEvidence, task_run: TaskRunEvidence | None, step: StepEvidence | None
) -> _Cause:
    """The cause, most specific evidence first (see the module docstring); generic reasons
    (Tekton uses them for several causes) let their message's words decide, then fall back."""
    tr_reason = task_run.reason if task_run is not None else None
    tr_message = task_run.message if task_run is not None else None
    causes: list[_Cause | None] = []
    if step is not None:
        causes += _container_causes(step)
    if task_run is not None:
        for earlier in task_run.earlier_reasons:
            meaning = reasons.TEKTON.get(earlier)
            causes.append(_specific(meaning, tr_message, earlier))
            if meaning is not None and meaning.generic:
                words = classify_words(task_run.earlier_message)
                causes.append(_Cause(words, tr_message, earlier) if words is not None else None)
        causes.append(_specific(_meaning(reasons.TEKTON, tr_reason), tr_message, tr_reason))
    causes.append(
        _specific(_meaning(reasons.TEKTON, evidence.reason), evidence.message, evidence.reason)
    )
    if step is not None:
        causes.append(_from_words(step.message, step.terminated_reason or step.waiting_reason))
    causes.append(_from_words(tr_message, tr_reason))
    causes.append(_from_words(evidence.message, evidence.reason))
    for source, message in ((tr_reason, tr_message), (evidence.reason, evidence.message)):
        meaning = _meaning(reasons.TEKTON, source)
        if meaning is not None and meaning.generic and meaning.reason is not None:
            causes.append(_Cause(meaning.reason, message, source))
    for cause in causes:
        if cause is not None:
            return cause
    if {evidence.reason, tr_reason} & reasons.CANCELLED:
        return _Cause(FailureReason.UNKNOWN, tr_message or evidence.message, evidence.reason)
    if task_run is not None:
        return _Cause(FailureReason.TASK_FAILED, None, tr_reason)
    return _Cause(FailureReason.UNKNOWN, None, evidence.reason)


def _failed_step(task_run: TaskRunEvidence) -> StepEvidence | None:
    """The container that broke: a step past its own timeout, then a non-zero exit, then a
    container still waiting, then any other odd end; steps before sidecars at each rank. A
    failed Tekton init container is no step."""
    if task_run.reason in reasons.INIT_CONTAINER_FAILURES:
        return None

    def timed_out(s: StepEvidence) -> bool:
        return s.termination_reason in reasons.TERMINATION

    def nonzero(s: StepEvidence) -> bool:
        return s.exit_code not in (None, 0)

    def waiting(s: StepEvidence) -> bool:
        return s.waiting_reason is not None

    def odd_end(s: StepEvidence) -> bool:
        return s.terminated_reason not in (None, "Completed")

    containers = [s for s in (*task_run.steps, *task_run.sidecars) if s.counts]
    for predicate in (timed_out, nonzero, waiting, odd_end):
        for container in containers:
            if predicate(container):
                return container
    return None


def _failed_task_run(evidence: RunEvidence) -> TaskRunEvidence | None:
    """The first TaskRun that failed (an ignored failure does not count); when none did, the
    first one still unfinished — the PipelineRun ended (timeout, cancel) before its TaskRun
    caught up, and that TaskRun is where it stopped."""
    failed = [
        t
        for t in evidence.task_runs
        if t.succeeded is False and t.reason != reasons.IGNORED_FAILURE
    ]
    if not failed:
        failed = [t for t in evidence.task_runs if t.succeeded is None]
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


def analyse(evidence: RunEvidence, *, now: datetime) -> FailureDetails:
    """Explain a failed PipelineRun (its `Succeeded` condition is False)."""
    task_run = _failed_task_run(evidence)
    step = _failed_step(task_run) if task_run is not None else None
    cause = _classify(evidence, task_run, step)
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
    details = FailureDetails(
        failed_task_index=task_run.index if task_run is not None else None,
        failed_task_name=task_run.pipeline_task if task_run is not None else None,
        failed_task_run_name=task_run.name if task_run is not None else None,
        failed_step_name=step.name if step is not None else None,
        reason=cause.reason,
        message=_message(evidence, task_run, step, cause),
        exit_code=step.exit_code if step is not None else None,
        failed_at=failed_at,
        execution_time_before_failure=before,
        was_execution_failure=evidence.ran,
    )
    text = summary.failure_summary(
        details,
        evidence.name,
        tekton_reason=cause.tekton_reason,
        tekton_message=_said_with(cause.tekton_reason, evidence, task_run, step),
        sidecar=step is not None and step.sidecar,
    )
    return details.model_copy(update={"natural_language_summary": text})


def _said_with(
    reason: str | None,
    evidence: RunEvidence,
    task_run: TaskRunEvidence | None,
    step: StepEvidence | None,
) -> str | None:
    """The message written together with `reason`: the condition's, or the container's."""
    if reason is None:
        return None
    if task_run is not None and reason == task_run.reason:
        return task_run.message
    if task_run is not None and reason in task_run.earlier_reasons:
        return task_run.earlier_message or task_run.message
    if reason == evidence.reason:
        return evidence.message
    if step is not None:
        return step.message or (task_run.message if task_run is not None else None)
    return None


def _message(
    evidence: RunEvidence,
    task_run: TaskRunEvidence | None,
    step: StepEvidence | None,
    cause: _Cause,
) -> str:
    """The message of the evidence that decided, else the most specific one there is."""
    for text in (
        cause.message,
        step.message if step is not None else None,
        task_run.message if task_run is not None else None,
        evidence.message,
    ):
        if text:
            return text[:2048]
    return f"PipelineRun {evidence.name} failed ({evidence.reason or 'no reason given'})"
