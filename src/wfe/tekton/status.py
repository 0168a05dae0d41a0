"""Reading a PipelineRun and its TaskRuns into the core's failure evidence (SPEC §6).

Tekton v1 shapes: the PipelineRun's `Succeeded` condition (status/reason/message), its
`startTime`/`completionTime`, `childReferences` (TaskRun name + pipeline task name) and the
resolved `pipelineSpec` (task order and count); each TaskRun's `Succeeded` condition and its
`steps[]` and `sidecars[]` with the container's `terminated`/`waiting`/`running` state and
the entrypoint's `terminationReason`. Missing or malformed fields read as "unknown", never as
an exception: Tekton versions differ in what they fill in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from wfe.core import reasons
from wfe.core.failure import RunEvidence, StepEvidence, TaskRunEvidence

__all__ = [
    "PIPELINE_RUN_LABEL",
    "PIPELINE_TASK_LABEL",
    "is_finished",
    "read_evidence",
    "succeeded_condition",
]

PIPELINE_RUN_LABEL = "tekton.dev/pipelineRun"
PIPELINE_TASK_LABEL = "tekton.dev/pipelineTask"
_TIME = TypeAdapter(datetime)
# Tekton's running message: "Tasks Completed: 1 (Failed: 0, Cancelled 0), Incomplete: 1, ..."
# Tekton's cancellation keeps the earlier condition: "...\nPrevious status: [Reason] message".
_PREVIOUS = re.compile(r"Previous status: \[([A-Za-z]+)\]")
_PREVIOUS_TEXT = re.compile(r"\nPrevious status: \[[A-Za-z]+\] (.*)", re.DOTALL)
# What taskrun.go terminateStepsInPod writes over a running or waiting step when Tekton stops
# the pod itself (timeout, cancel, image pull, container config): the exit code is Tekton's,
# and the start time is the TaskRun's creation when the step had only been waiting.
_SYNTHETIC_MESSAGE = re.compile(r"^Step \S+ terminated as pod \S* is terminated$")
# The runtime never started the process (containerd reports a zero start time).
_NEVER_STARTED = frozenset({"StartError", "ContainerCannotRun"})
_ENTRYPOINT_EXIT = frozenset({"TimeoutExceeded", reasons.SKIPPED})
_PROGRESS = re.compile(r"Tasks Completed: (\d+).*?Incomplete: (\d+)(?:, Skipped: (\d+))?")


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> Sequence[Any]:
    return value if isinstance(value, list) else []


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return _TIME.validate_python(value)
    except ValidationError:
        return None


def succeeded_condition(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The `Succeeded` condition of a Tekton run (empty when absent)."""
    for condition in _list(_map(obj.get("status")).get("conditions")):
        if isinstance(condition, Mapping) and condition.get("type") == "Succeeded":
            return condition
    return {}


def _tri(condition: Mapping[str, Any]) -> bool | None:
    return {"True": True, "False": False}.get(str(condition.get("status")))


def is_finished(pipeline_run: Mapping[str, Any]) -> bool:
    """The PipelineRun's `Succeeded` condition is True or False."""
    return _tri(succeeded_condition(pipeline_run)) is not None


def _task_order(status: Mapping[str, Any]) -> list[str]:
    spec = _map(status.get("pipelineSpec"))
    tasks = [*_list(spec.get("tasks")), *_list(spec.get("finally"))]
    return [t["name"] for t in tasks if isinstance(t, Mapping) and isinstance(t.get("name"), str)]


def _synthetic(terminated: Mapping[str, Any], termination_reason: str | None) -> bool:
    reason = _str(terminated.get("reason"))
    if reason not in reasons.SYNTHETIC_STEP:
        return False
    message = _str(terminated.get("message")) or ""
    return _SYNTHETIC_MESSAGE.match(message) is not None or termination_reason == reason


def _step(
    raw: Mapping[str, Any], created: datetime | None, *, sidecar: bool = False
) -> StepEvidence:
    terminated = _map(raw.get("terminated"))
    waiting = _map(raw.get("waiting"))
    reason = _str(terminated.get("reason"))
    termination_reason = _str(raw.get("terminationReason"))
    synthetic = bool(terminated) and _synthetic(terminated, termination_reason)
    started_at = _time(terminated.get("startedAt"))
    if raw.get("running"):
        started = True
    elif not terminated:
        started = False  # waiting, or only the name Tekton records when it prepares the run
    elif synthetic:
        # A container that was created has an imageID; a step that only waited has none and
        # gets the TaskRun's creationTimestamp as startedAt (the CRD needs one).
        started = bool(_str(raw.get("imageID"))) or (
            created is not None and started_at is not None and started_at != created
        )
    else:
        started = reason not in _NEVER_STARTED and started_at is not None and started_at.year > 1970
    exit_code = terminated.get("exitCode")
    own_exit = (
        isinstance(exit_code, int)
        and not synthetic
        and started
        and termination_reason not in _ENTRYPOINT_EXIT
    )
    message = _str(terminated.get("message")) or _str(waiting.get("message"))
    return StepEvidence(
        name=_str(raw.get("name")) or _str(raw.get("container")) or "(unnamed)",
        started=started,
        exit_code=exit_code if own_exit and isinstance(exit_code, int) else None,
        terminated_reason=reason,
        waiting_reason=_str(waiting.get("reason")),
        termination_reason=termination_reason,
        message=None if synthetic else message,
        sidecar=sidecar,
    )


def _containers(
    status: Mapping[str, Any], key: str, created: datetime | None
) -> tuple[StepEvidence, ...]:
    return tuple(
        _step(s, created, sidecar=key == "sidecars")
        for s in _list(status.get(key))
        if isinstance(s, Mapping)
    )


def _total_tasks(status: Mapping[str, Any], message: str | None) -> int | None:
    declared = _task_order(status)
    if declared:
        return len(declared)
    match = _PROGRESS.search(message or "")
    if match is None:
        # Finished without a resolved Pipeline (e.g. the bundle was not found): no tasks.
        return 0 if status.get("completionTime") else None
    return sum(int(g) for g in match.groups() if g is not None)


def read_evidence(
    pipeline_run: Mapping[str, Any], task_runs: Sequence[Mapping[str, Any]]
) -> RunEvidence:
    """Evidence from a PipelineRun and the TaskRuns that belong to it (any order)."""
    meta = _map(pipeline_run.get("metadata"))
    status = _map(pipeline_run.get("status"))
    condition = succeeded_condition(pipeline_run)
    order = _task_order(status)
    children = [c for c in _list(status.get("childReferences")) if isinstance(c, Mapping)]
    task_of = {c.get("name"): _str(c.get("pipelineTaskName")) for c in children}
    if not order:
        order = [t for t in (_str(c.get("pipelineTaskName")) for c in children) if t]
    evidence: list[TaskRunEvidence] = []
    for task_run in task_runs:
        tr_meta = _map(task_run.get("metadata"))
        name = _str(tr_meta.get("name")) or "(unnamed)"
        labels = _map(tr_meta.get("labels"))
        task = _str(labels.get(PIPELINE_TASK_LABEL)) or task_of.get(name)
        tr_condition = succeeded_condition(task_run)
        tr_status = _map(task_run.get("status"))
        tr_message = _str(tr_condition.get("message")) or ""
        created = _time(tr_meta.get("creationTimestamp"))
        earlier = _PREVIOUS_TEXT.search(tr_message)
        evidence.append(
            TaskRunEvidence(
                name=name,
                pipeline_task=task,
                index=order.index(task) if task in order else None,
                succeeded=_tri(tr_condition),
                reason=_str(tr_condition.get("reason")),
                message=_str(tr_condition.get("message")),
                earlier_reasons=tuple(_PREVIOUS.findall(tr_message)),
                earlier_message=earlier.group(1) if earlier else None,
                completion_time=_time(tr_status.get("completionTime")),
                steps=_containers(tr_status, "steps", created),
                sidecars=_containers(tr_status, "sidecars", created),
            )
        )
    evidence.sort(key=lambda t: (t.index if t.index is not None else 1 << 30, t.name))
    return RunEvidence(
        name=_str(meta.get("name")) or "(unnamed)",
        succeeded=_tri(condition),
        reason=_str(condition.get("reason")),
        message=_str(condition.get("message")),
        start_time=_time(status.get("startTime")),
        completion_time=_time(status.get("completionTime")),
        total_tasks=_total_tasks(status, _str(condition.get("message"))),
        task_runs=tuple(evidence),
    )
