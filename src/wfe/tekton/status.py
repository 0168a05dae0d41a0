"""Reading a PipelineRun and its TaskRuns into the core's failure evidence (SPEC §6).

Tekton v1 shapes: the PipelineRun's `Succeeded` condition (status/reason/message), its
`startTime`/`completionTime`, `childReferences` (TaskRun name + pipeline task name) and the
resolved `pipelineSpec` (task order and count); each TaskRun's `Succeeded` condition and its
`steps[]` with the container's `terminated`/`waiting`/`running` state. Missing or malformed
fields read as "unknown", never as an exception: Tekton versions differ in what they fill in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

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
# Step states Tekton writes itself when it stops a pod (timeout, cancel, image pull): their
# exit code and start time are Tekton's, not the container's.
_SYNTHETIC_STEP = re.compile(r"^(TaskRun[A-Za-z]*|PipelineRun[A-Za-z]*)$")
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


def _step(raw: Mapping[str, Any]) -> StepEvidence:
    terminated = _map(raw.get("terminated"))
    waiting = _map(raw.get("waiting"))
    reason = _str(terminated.get("reason"))
    synthetic = reason is not None and _SYNTHETIC_STEP.match(reason) is not None
    exit_code = terminated.get("exitCode")
    # A container ran once its image was pulled (imageID) or while Kubernetes reports it
    # running; a synthetic "terminated" for a step that only ever waited did not run.
    started = (
        bool(raw.get("running"))
        or bool(_str(raw.get("imageID")))
        or (not synthetic and _time(terminated.get("startedAt")) is not None)
    )
    message = _str(terminated.get("message")) or _str(waiting.get("message"))
    return StepEvidence(
        name=_str(raw.get("name")) or _str(raw.get("container")) or "(unnamed)",
        started=started,
        exit_code=exit_code if isinstance(exit_code, int) and not synthetic else None,
        terminated_reason=reason,
        waiting_reason=_str(waiting.get("reason")),
        message=None if synthetic else message,
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
        evidence.append(
            TaskRunEvidence(
                name=name,
                pipeline_task=task,
                index=order.index(task) if task in order else None,
                succeeded=_tri(tr_condition),
                reason=_str(tr_condition.get("reason")),
                message=_str(tr_condition.get("message")),
                earlier_reasons=tuple(_PREVIOUS.findall(_str(tr_condition.get("message")) or "")),
                completion_time=_time(tr_status.get("completionTime")),
                steps=tuple(
                    _step(s) for s in _list(tr_status.get("steps")) if isinstance(s, Mapping)
                ),
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
