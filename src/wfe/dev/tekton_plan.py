"""Tekton simulator: the simulated Pipeline and a run's timeline (a test tool, pure).

The simulator (:mod:`wfe.dev.tekton_scenarios`) pretends every bundle holds the same Pipeline:
two tasks, ``apply`` then ``verify`` (``runAfter: [apply]``), one step each, taking the
PipelineRun's parameters. A :class:`Timeline` places a run's events in elapsed seconds since it
was first seen, for a scenario duration ``D``:

- the bundle resolves during the first tenth of ``D`` (all of ``D`` for the scenarios that fail
  on the Pipeline itself: resolution, parameters);
- the tasks that start share the rest, one after the other, and the run ends at ``D``; a failed
  task ends the run (Tekton skips the tasks after it). A ``running`` time (the PipelineRun's
  ``SIM_DURATION``) replaces "the rest": the tasks then share ``running`` seconds after the
  resolution, so a run can be kept running (to rehearse stuck and cancelled runs) without
  resolving for longer;
- some outcomes never end on their own (a hanging step, a pod refused by quota, an image that
  keeps failing to pull): only ``spec.timeouts.pipeline`` (default ``1h``; ``0s`` = none) or a
  stop request ends those runs;
- ``spec.status`` (``Cancelled``, ``CancelledRunFinally``: end now; ``StoppedRunFinally``: let
  the running task finish, start no other) is honoured as soon as the caller saw it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from typing import Any

from wfe.core.durations import parse_duration
from wfe.dev import tekton_shapes as shapes
from wfe.dev.tekton_shapes import Json

__all__ = [
    "CONFIG_SCENARIOS",
    "STEP_AFTER_TIMEOUT",
    "TASKS",
    "Life",
    "Outcome",
    "Scenario",
    "Timeline",
    "pipeline_spec",
    "task_spec",
]

TASKS = ("apply", "verify")
STEP_AFTER_TIMEOUT = "wait-ready"
_RESOLVE_SHARE = 0.1
_DEFAULT_TIMEOUT = 3600.0  # config-defaults default-timeout-minutes: 60
_SCRIPT = "#!/bin/sh\n# Simulated by wfe.dev.tekton_sim: no container runs.\nexit 0\n"


class Scenario(StrEnum):
    """What the simulated Tekton does with a PipelineRun."""

    SUCCESS = "success"
    SECOND_TASK_FAILED = "second_task_failed"
    STEP_OOMKILLED = "step_oomkilled"
    TASK_FAILED_EXIT_CODE = "task_failed_exit_code"
    TRICKY_WORDS = "tricky_words"
    TASKRUN_TIMEOUT = "taskrun_timeout"
    FORBIDDEN = "forbidden"
    IMAGE_PULL_BACKOFF = "image_pull_backoff"
    ERR_IMAGE_PULL = "err_image_pull"
    EXCEEDED_QUOTA = "exceeded_quota"
    INVALID_PARAM = "invalid_param"
    INVALID_PARAM_VALUE = "invalid_param_value"
    RESOLUTION_FAILED = "resolution_failed"
    PIPELINERUN_TIMEOUT = "pipelinerun_timeout"
    CANCELLED = "cancelled"
    STEP_TIMEOUT = "step_timeout"
    EXCEEDED_NODE_RESOURCES = "exceeded_node_resources"
    UNSCHEDULABLE = "unschedulable"
    MISSING_SERVICE_ACCOUNT = "missing_service_account"
    PIPELINERUN_TIMEOUT_PULL_PENDING = "pipelinerun_timeout_pull_pending"
    CREATE_CONTAINER_CONFIG_ERROR = "create_container_config_error"


class Outcome(Enum):
    """How one task's TaskRun ends."""

    SUCCEED = "succeed"
    OOM = "oom"
    EXIT_1 = "exit-1"
    EXIT_2 = "exit-2"
    TRICKY = "tricky"
    TIMEOUT = "timeout"
    FORBIDDEN = "forbidden"
    IMAGE_PULL = "image-pull"
    ERR_IMAGE_PULL = "err-image-pull"
    QUOTA = "quota"
    HANG = "hang"
    STEP_TIMEOUT = "step-timeout"
    NODE_RESOURCES = "node-resources"
    UNSCHEDULABLE = "unschedulable"
    NO_SERVICE_ACCOUNT = "no-service-account"
    PULL_PENDING = "pull-pending"
    CONFIG_ERROR = "config-error"


CONFIG_SCENARIOS = frozenset(
    {Scenario.INVALID_PARAM, Scenario.INVALID_PARAM_VALUE, Scenario.RESOLUTION_FAILED}
)
_NEVER_ENDS = {
    Outcome.HANG,
    Outcome.QUOTA,
    Outcome.ERR_IMAGE_PULL,
    Outcome.UNSCHEDULABLE,
    Outcome.PULL_PENDING,
}
# Fail in the reconcile that creates their TaskRun (no pod, or a pod failed at once).
_FAIL_AT_ONCE = {Outcome.FORBIDDEN, Outcome.NO_SERVICE_ACCOUNT, Outcome.CONFIG_ERROR}
# Ended by the pipeline task's own timeout (TaskRun spec.timeout).
_TASK_TIMEOUT = {Outcome.TIMEOUT, Outcome.NODE_RESOURCES}
_PLANS: Mapping[Scenario, tuple[Outcome, ...]] = {
    Scenario.SUCCESS: (Outcome.SUCCEED, Outcome.SUCCEED),
    Scenario.SECOND_TASK_FAILED: (Outcome.SUCCEED, Outcome.EXIT_1),
    Scenario.STEP_OOMKILLED: (Outcome.OOM,),
    Scenario.TASK_FAILED_EXIT_CODE: (Outcome.EXIT_2,),
    Scenario.TRICKY_WORDS: (Outcome.TRICKY,),
    Scenario.TASKRUN_TIMEOUT: (Outcome.TIMEOUT,),
    Scenario.FORBIDDEN: (Outcome.FORBIDDEN,),
    Scenario.IMAGE_PULL_BACKOFF: (Outcome.IMAGE_PULL,),
    Scenario.ERR_IMAGE_PULL: (Outcome.ERR_IMAGE_PULL,),
    Scenario.EXCEEDED_QUOTA: (Outcome.QUOTA,),
    Scenario.PIPELINERUN_TIMEOUT: (Outcome.SUCCEED, Outcome.HANG),
    Scenario.CANCELLED: (Outcome.SUCCEED, Outcome.HANG),
    Scenario.STEP_TIMEOUT: (Outcome.STEP_TIMEOUT,),
    Scenario.EXCEEDED_NODE_RESOURCES: (Outcome.NODE_RESOURCES,),
    Scenario.UNSCHEDULABLE: (Outcome.UNSCHEDULABLE,),
    Scenario.MISSING_SERVICE_ACCOUNT: (Outcome.NO_SERVICE_ACCOUNT,),
    Scenario.PIPELINERUN_TIMEOUT_PULL_PENDING: (Outcome.PULL_PENDING,),
    Scenario.CREATE_CONTAINER_CONFIG_ERROR: (Outcome.CONFIG_ERROR,),
}


@dataclass(frozen=True, slots=True)
class Life:
    """One task's TaskRun: created at ``begin``, ending on its own at ``end`` (None: never)."""

    task: str
    outcome: Outcome
    begin: float
    end: float | None

    @property
    def visible(self) -> float:
        """When the TaskRun exists: a refused pod fails it in the reconcile that creates it."""
        if self.outcome in _FAIL_AT_ONCE and self.end is not None:
            return self.end
        return self.begin

    @property
    def mid(self) -> float | None:
        """Half-way through a failing image pull: ``ErrImagePull`` turns ``ImagePullBackOff``."""
        if self.outcome is not Outcome.IMAGE_PULL or self.end is None:
            return None
        return self.begin + (self.end - self.begin) / 2

    @property
    def span(self) -> str:
        """How long the TaskRun runs, as a Go duration (a timeout that ends it at ``end``)."""
        return shapes.go_duration(max((self.end or self.begin) - self.begin, 1))

    @property
    def timeout(self) -> str:
        """The TaskRun's ``spec.timeout``: the pipeline task's timeout, else the 1h default."""
        if self.outcome in _TASK_TIMEOUT and self.end is not None:
            return self.span
        return "1h0m0s"


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeline:
    """A PipelineRun's simulated events and the moment ``x`` to describe.

    ``final`` is when the run ends (None: not foreseeable), ``kind`` how (``natural``,
    ``timeout``, ``cancel``), ``x`` = min(elapsed, final) and ``done`` = final <= elapsed.
    """

    pipeline_run: Mapping[str, Any]
    scenario: Scenario
    start: datetime
    elapsed: float
    resolved_at: float
    timeout: float | None
    mode: str | None
    stop: float | None
    lives: tuple[Life, ...]
    final: float | None
    kind: str | None
    params: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        pipeline_run: Mapping[str, Any],
        *,
        scenario: Scenario,
        start: datetime,
        elapsed: float,
        duration: float,
        stop_seen_at: float | None,
        running: float | None = None,
    ) -> Timeline:
        """Place the events of ``scenario`` for ``pipeline_run`` (``running``: see module doc)."""
        spec = pipeline_run.get("spec") or {}
        elapsed = max(elapsed, 0.0)
        config = scenario in CONFIG_SCENARIOS
        resolved_at = duration if config else duration * _RESOLVE_SHARE
        mode = spec.get("status") or None
        stopping = mode in ("Cancelled", "CancelledRunFinally", "StoppedRunFinally")
        stop = (stop_seen_at if stop_seen_at is not None else elapsed) if stopping else None
        stopped = stop if mode == "StoppedRunFinally" else None
        tasks_end = duration if running is None else resolved_at + running
        lives = () if config else _lives(_PLANS[scenario], resolved_at, tasks_end, stopped)
        natural: float | None
        if config:
            natural = duration
        elif not lives:
            natural = stop  # stopped before the first task could start
        else:
            natural = lives[-1].end
        timeout = _timeout(pipeline_run)
        cancel = stop if mode in ("Cancelled", "CancelledRunFinally") else None
        ends = [(t, k) for t, k in ((natural, "natural"), (timeout, "timeout"), (cancel, "cancel"))]
        known = [(t, k) for t, k in ends if t is not None]
        final, kind = min(known, key=lambda e: e[0]) if known else (None, None)
        params = {str(p.get("name")): str(p.get("value")) for p in spec.get("params") or []}
        return cls(
            pipeline_run=pipeline_run,
            scenario=scenario,
            start=start,
            elapsed=elapsed,
            resolved_at=resolved_at,
            timeout=timeout,
            mode=mode,
            stop=stop,
            lives=lives,
            final=final,
            kind=kind,
            params=params,
        )

    @property
    def done(self) -> bool:
        return self.final is not None and self.final <= self.elapsed

    @property
    def x(self) -> float:
        return self.elapsed if self.final is None else min(self.elapsed, self.final)

    @property
    def name(self) -> str:
        return str((self.pipeline_run.get("metadata") or {}).get("name"))

    @property
    def namespace(self) -> str:
        return str((self.pipeline_run.get("metadata") or {}).get("namespace"))

    @property
    def pipeline(self) -> str:
        """The ``tekton.dev/pipeline`` label Tekton derives from the ``pipelineRef``.

        pipelinerun.go propagatePipelineNameLabelToPipelineRun: the resolver's ``name`` param
        when its ``kind`` is ``pipeline``, else the PipelineRun's own name.
        """
        ref = (self.pipeline_run.get("spec") or {}).get("pipelineRef") or {}
        params = {p.get("name"): p.get("value") for p in ref.get("params") or []}
        if params.get("kind") == "pipeline" and params.get("name"):
            return str(params["name"])
        return self.name

    @property
    def gracefully_stopped(self) -> bool:
        """``StoppedRunFinally`` arrived before the run ended."""
        return (
            self.mode == "StoppedRunFinally"
            and self.stop is not None
            and (self.final is None or self.stop <= self.final)
        )

    def at(self, seconds: float) -> datetime:
        """The wall-clock time of an elapsed second."""
        return self.start + timedelta(seconds=seconds)

    def created(self) -> tuple[Life, ...]:
        """The lives whose TaskRun exists at ``x`` (none is created at a timeout or cancel)."""
        return tuple(
            life
            for life in self.lives
            if life.visible <= self.x
            and (not self.done or life.visible < self.x or self.kind == "natural")
        )

    def event_times(self) -> list[float]:
        """Every moment the state changes, known so far."""
        times = [self.resolved_at] + ([self.stop] if self.stop is not None else [])
        for life in self.lives:
            times += [t for t in (life.begin, life.visible, life.end, life.mid) if t is not None]
        return times

    def last_count_change(self) -> float:
        """When the PipelineRun's running condition last changed: tasks ending, a stop."""
        times = [self.resolved_at, self.stop, *(life.end for life in self.lives)]
        return max(t for t in times if t is not None and t <= max(self.x, self.resolved_at))

    def next_change(self) -> float | None:
        """The next elapsed second at which the state changes on its own."""
        if self.done:
            return None
        future = [t for t in [*self.event_times(), self.final] if t is not None and t > self.x]
        return min(future) if future else None


def _timeout(pipeline_run: Mapping[str, Any]) -> float | None:
    raw = ((pipeline_run.get("spec") or {}).get("timeouts") or {}).get("pipeline")
    try:
        seconds = parse_duration(str(raw)).total_seconds() if raw else _DEFAULT_TIMEOUT
    except ValueError:
        seconds = _DEFAULT_TIMEOUT
    return seconds or None


def _lives(
    plan: tuple[Outcome, ...], resolved: float, duration: float, stop_at: float | None
) -> tuple[Life, ...]:
    width = (duration - resolved) / max(len(plan), 1)
    lives: list[Life] = []
    t = resolved
    for task, outcome in zip(TASKS, plan, strict=False):
        if stop_at is not None and t >= stop_at:  # StoppedRunFinally: start nothing more
            break
        end = None if outcome in _NEVER_ENDS else t + width
        lives.append(Life(task, outcome, t, end))
        if end is None or outcome is not Outcome.SUCCEED:
            break
        t = end
    return tuple(lives)


def task_spec(timeline: Timeline, task: str) -> Json:
    """The simulated Task: the PipelineRun's params, one step that runs nothing.

    The first task of ``step_timeout`` has a second step (``wait-ready``, skipped after the
    first timed out) and a step ``timeout``; that of ``exceeded_node_resources`` requests more
    than any node has (tests/core/tekton_corpus).
    """
    spec: Json = {"params": [{"name": p, "type": "string"} for p in sorted(timeline.params)]}
    if task == TASKS[0] and timeline.scenario is Scenario.TRICKY_WORDS:
        spec["results"] = [{"name": "summary", "type": "string"}]
    step: Json = {"name": task, "image": shapes.STEP_IMAGE, "computeResources": {}}
    steps = [step]
    first = timeline.lives[0] if task == TASKS[0] and timeline.lives else None
    if first is not None and first.outcome is Outcome.STEP_TIMEOUT:
        step["timeout"] = first.span
        steps.append({"name": STEP_AFTER_TIMEOUT, "image": shapes.STEP_IMAGE})
    if first is not None and first.outcome is Outcome.NODE_RESOURCES:
        step["computeResources"] = {"requests": {"cpu": "6", "memory": "24Gi"}}
    spec["steps"] = [
        {**s, "computeResources": s.get("computeResources", {}), "script": _SCRIPT} for s in steps
    ]
    return spec


def pipeline_spec(timeline: Timeline, *, substituted: bool) -> Json:
    """The simulated Pipeline as Tekton stores it in ``status.pipelineSpec``.

    Parameters are substituted once the run started (``ApplyParameters``); a run that failed
    validation keeps the ``$(params.X)`` references.
    """
    tasks: list[Json] = []
    for index, task in enumerate(TASKS):
        entry: Json = {
            "name": task,
            "params": [
                {"name": p, "value": v if substituted else f"$(params.{p})"}
                for p, v in sorted(timeline.params.items())
            ],
            # Tekton also stores "spec": null here; a merge patch cannot carry a null (it means
            # "delete"), and the null says nothing, so the simulator leaves it out.
            "taskSpec": {**task_spec(timeline, task), "metadata": {}},
        }
        if index:
            entry["runAfter"] = [TASKS[index - 1]]
        lives = timeline.lives
        if index == 0 and lives and lives[0].outcome in _TASK_TIMEOUT:
            entry["timeout"] = lives[0].timeout
        tasks.append(entry)
    return {
        "params": [{"name": p, "type": "string"} for p in sorted(timeline.params)],
        "tasks": tasks,
    }
