"""The Prometheus metrics contract of SPEC §8 — names, types and labels the runbooks use.

One `Metrics` object owns a private registry (tests and several controllers in one process do
not collide) with `*_created` series disabled. Counters move only at recorded transitions;
per-object gauges are level-triggered: `sync_object` recomputes them from a WorkflowExecution's
status on every reconcile, so a restarted controller exports the same series as before, and
`forget` removes them when the object goes. Series per object are therefore bounded by the
number of live WorkflowExecutions (plus lock series kept for `retention` after a release).

`workflowexecution_lock_held_since_timestamp` is the lock's age (docs/runbooks/README.md,
RB-WE-003): the WorkflowExecution's `status.startTime` (when its lock PipelineRun was taken,
SPEC §3) while `pipelineRunRef` is set and `lockReleasedAt` is not, in every phase; it goes the
moment the lock is released (no retention), so it is bounded by the locks held.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

from wfe import __version__
from wfe.api.enums import Outcome, Phase, SkipReason
from wfe.api.models import WorkflowExecutionStatus
from wfe.core.policy import Policy
from wfe.core.release import release_due

__all__ = ["ERROR_CATEGORIES", "Metrics"]

disable_created_metrics()  # type: ignore[no-untyped-call]

ERROR_CATEGORIES = ("validation", "external", "permission", "execution")
_COMMON_ERRORS = (
    ("validation", "ConfigurationError"),
    ("external", "TektonUnavailable"),
    ("permission", "Forbidden"),
    ("execution", "OOMKilled"),
    ("execution", "DeadlineExceeded"),
    ("execution", "TaskFailed"),
    ("execution", "ImagePullBackOff"),
    ("execution", "ResourceExhausted"),
    ("execution", "Unknown"),
)
_PHASE_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)
_FAST_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """All series the controller exports."""

    def __init__(self, *, retention: timedelta = timedelta(hours=1)) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.retention = retention
        r = self.registry
        self.phase_transitions = Counter(
            "workflowexecution_phase_transitions",
            "Transitions into each phase.",
            ["phase"],
            registry=r,
        )
        self.errors = Counter(
            "workflowexecution_errors",
            "Failures recorded or met, by category and reason.",
            ["category", "reason"],
            registry=r,
        )
        self.phase_duration = Histogram(
            "workflowexecution_phase_duration_seconds",
            "Time spent in a phase, observed when leaving it.",
            ["phase"],
            buckets=_PHASE_BUCKETS,
            registry=r,
        )
        self.skips = Counter(
            "workflowexecution_skip", "Skipped WorkflowExecutions.", ["reason"], registry=r
        )
        self.lock_released = Gauge(
            "workflowexecution_lock_released",
            "0 while a finished WorkflowExecution holds its lock, 1 once released.",
            ["namespace", "name"],
            registry=r,
        )
        self.lock_release_due = Gauge(
            "workflowexecution_lock_release_due_timestamp",
            "Unix time a held lock is due to be released (cooldown or backoff end).",
            ["namespace", "name"],
            registry=r,
        )
        self.phase_start = Gauge(
            "workflowexecution_phase_start_timestamp",
            "Unix time a WorkflowExecution entered its current non-terminal phase.",
            ["namespace", "name", "phase"],
            registry=r,
        )
        self.completion = Gauge(
            "workflowexecution_completion_timestamp",
            "Unix time a WorkflowExecution finished (while its lock is held, and after).",
            ["namespace", "name"],
            registry=r,
        )
        self.lock_held_since = Gauge(
            "workflowexecution_lock_held_since_timestamp",
            "Unix time a held lock (PipelineRun) was taken; gone once it is released.",
            ["namespace", "name"],
            registry=r,
        )
        # Upstream-compatible series.
        self.total = Counter(
            "workflowexecution", "Finished WorkflowExecutions by outcome.", ["outcome"], registry=r
        )
        self.duration = Histogram(
            "workflowexecution_duration_seconds",
            "Run time of finished WorkflowExecutions by outcome.",
            ["outcome"],
            buckets=_PHASE_BUCKETS,
            registry=r,
        )
        self.pipelinerun_creations = Counter(
            "workflowexecution_pipelinerun_creation", "PipelineRuns created.", registry=r
        )
        self.backoff_skips = Counter(
            "workflowexecution_backoff_skip",
            "Skips caused by the target's failure history.",
            ["reason"],
            registry=r,
        )
        # Controller health.
        self.reconciles = Counter(
            "workflowexecution_reconcile", "Reconciles by result.", ["result"], registry=r
        )
        self.reconcile_duration = Histogram(
            "workflowexecution_reconcile_duration_seconds",
            "Reconcile duration.",
            buckets=_FAST_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "workflowexecution_workqueue_depth", "Keys waiting in the work queue.", registry=r
        )
        self.queue_latency = Histogram(
            "workflowexecution_workqueue_queue_duration_seconds",
            "Time a key waits in the queue before a worker takes it.",
            buckets=_FAST_BUCKETS,
            registry=r,
        )
        self.queue_retries = Counter(
            "workflowexecution_workqueue_retries", "Rate-limited re-queues.", registry=r
        )
        self.leader = Gauge(
            "workflowexecution_leader", "1 while this replica holds the Lease.", registry=r
        )
        self.build_info = Gauge(
            "workflowexecution_build_info", "Build information.", ["version"], registry=r
        )
        self.audit_dropped = Counter(
            "workflowexecution_audit_events_dropped",
            "Audit events lost (buffer full or sink rejected them).",
            ["reason"],
            registry=r,
        )
        self.audit_sent = Counter(
            "workflowexecution_audit_events_sent", "Audit events delivered to the sink.", registry=r
        )
        self.events_failed = Counter(
            "workflowexecution_kubernetes_events_failed",
            "Kubernetes Events that could not be written.",
            registry=r,
        )
        self.build_info.labels(version=__version__).set(1)
        for phase in Phase:
            self.phase_transitions.labels(phase=phase.value)
        for reason in SkipReason:
            self.skips.labels(reason=reason.value)
        for outcome in Outcome:
            self.total.labels(outcome=outcome.value)
        for reason in (SkipReason.EXHAUSTED_RETRIES, SkipReason.PREVIOUS_EXECUTION_FAILED):
            self.backoff_skips.labels(reason=reason.value)
        self.leader.set(0)
        # Pre-initialised so rate() sees the first increment of every common series.
        for category, error in _COMMON_ERRORS:
            self.errors.labels(category=category, reason=error)
        for result in ("success", "error", "requeue"):
            self.reconciles.labels(result=result)
        for drop in ("buffer_full", "rejected", "shutdown"):
            self.audit_dropped.labels(reason=drop)
        # Per-object label sets currently exported, to remove exactly those.
        self._objects: dict[tuple[str, str], set[str]] = {}

    def transition(
        self, *, into: Phase, left: Phase | None = None, seconds_in_left: float | None = None
    ) -> None:
        """Count a transition (and how long the phase it left lasted)."""
        self.phase_transitions.labels(phase=into.value).inc()
        if left is not None and seconds_in_left is not None:
            self.phase_duration.labels(phase=left.value).observe(max(seconds_in_left, 0.0))

    def error(self, category: str, reason: str) -> None:
        """Count a failure the controller recorded or met."""
        if category not in ERROR_CATEGORIES:
            raise ValueError(f"unknown error category {category!r}")
        self.errors.labels(category=category, reason=reason).inc()

    def skip(self, reason: SkipReason) -> None:
        self.skips.labels(reason=reason.value).inc()
        if reason in (SkipReason.EXHAUSTED_RETRIES, SkipReason.PREVIOUS_EXECUTION_FAILED):
            self.backoff_skips.labels(reason=reason.value).inc()

    def finished(self, outcome: Outcome, seconds: float) -> None:
        self.total.labels(outcome=outcome.value).inc()
        self.duration.labels(outcome=outcome.value).observe(max(seconds, 0.0))

    def sync_object(
        self,
        namespace: str,
        name: str,
        status: WorkflowExecutionStatus,
        *,
        created: datetime | None,
        now: datetime,
        policy: Policy,
    ) -> None:
        """Make the per-object series say what this status says."""
        wanted: dict[str, float] = {}
        phase = status.phase
        if phase in (None, Phase.PENDING) and created is not None:
            wanted["start:Pending"] = created.timestamp()
        elif phase is Phase.RUNNING and status.start_time is not None:
            wanted["start:Running"] = status.start_time.timestamp()
        elif phase in (Phase.COMPLETED, Phase.FAILED) and status.completion_time is not None:
            held = status.pipeline_run_ref is not None and status.lock_released_at is None
            released = status.lock_released_at
            if held or (released is not None and now - released < self.retention):
                wanted["completion"] = status.completion_time.timestamp()
                wanted["released"] = 0.0 if held else 1.0
                due = release_due(status, policy)
                if held and due is not None:
                    wanted["due"] = due.timestamp()
        # The lock is held from the PipelineRun's creation (startTime is written with
        # pipelineRunRef) until lockReleasedAt is recorded, whatever the phase (SPEC §3).
        if (
            status.pipeline_run_ref is not None
            and status.lock_released_at is None
            and status.start_time is not None
        ):
            wanted["held_since"] = status.start_time.timestamp()
        self._apply(namespace, name, wanted)

    def forget(self, namespace: str, name: str) -> None:
        """Remove every per-object series of a WorkflowExecution that is gone."""
        self._apply(namespace, name, {})

    def forget_all(self) -> None:
        """Remove every per-object series (this replica stopped leading)."""
        for namespace, name in list(self._objects):
            self.forget(namespace, name)

    def _apply(self, namespace: str, name: str, wanted: dict[str, float]) -> None:
        key = (namespace, name)
        for stale in self._objects.get(key, set()) - set(wanted):
            self._series(stale).remove(*self._labels(stale, namespace, name))
        for series, value in wanted.items():
            self._series(series).labels(*self._labels(series, namespace, name)).set(value)
        if wanted:
            self._objects[key] = set(wanted)
        else:
            self._objects.pop(key, None)

    def _series(self, series: str) -> Gauge:
        if series.startswith("start:"):
            return self.phase_start
        return {
            "completion": self.completion,
            "released": self.lock_released,
            "due": self.lock_release_due,
            "held_since": self.lock_held_since,
        }[series]

    @staticmethod
    def _labels(series: str, namespace: str, name: str) -> tuple[str, ...]:
        if series.startswith("start:"):
            return (namespace, name, series.split(":", 1)[1])
        return (namespace, name)

    @property
    def tracked_objects(self) -> int:
        """How many WorkflowExecutions have per-object series."""
        return len(self._objects)
