"""SPEC §8 metrics: names, pre-initialised series, per-object gauges that follow the status and
go away with the object."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import generate_latest

from wfe.api.enums import Phase, SkipReason
from wfe.core.policy import Policy
from wfe.observability.metrics import Metrics

from builders import NOW, record

POLICY = Policy()


def scrape(m: Metrics) -> str:
    return generate_latest(m.registry).decode()


def per_object(m: Metrics) -> list[str]:
    names = (
        "workflowexecution_phase_start_timestamp",
        "workflowexecution_completion_timestamp",
        "workflowexecution_lock_released",
        "workflowexecution_lock_release_due_timestamp",
        "workflowexecution_lock_held_since_timestamp",
    )
    return [
        line
        for line in scrape(m).splitlines()
        if line.startswith(names) and not line.startswith("#")
    ]


def test_contract_series_exist_with_their_labels() -> None:
    text = scrape(Metrics())
    for phase in Phase:
        assert f'workflowexecution_phase_transitions_total{{phase="{phase}"}} 0.0' in text
    for reason in SkipReason:
        assert f'workflowexecution_skip_total{{reason="{reason}"}} 0.0' in text
    assert (
        'workflowexecution_errors_total{category="validation",reason="ConfigurationError"}' in text
    )
    assert "# TYPE workflowexecution_phase_duration_seconds histogram" in text
    assert "# TYPE workflowexecution_lock_released gauge" in text
    assert 'workflowexecution_total{outcome="Completed"}' in text
    assert "workflowexecution_pipelinerun_creation_total 0.0" in text
    assert "_created" not in text


def value(m: Metrics, metric: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(metric, labels)


def test_per_object_series_follow_the_lifecycle() -> None:
    m = Metrics(retention=timedelta(minutes=10))
    created = NOW - timedelta(minutes=1)
    obj = {"namespace": "ns", "name": "a"}
    start = "workflowexecution_phase_start_timestamp"
    m.sync_object("ns", "a", record("a", None).status, created=created, now=NOW, policy=POLICY)
    assert value(m, start, **obj, phase="Pending") == created.timestamp()
    assert len(per_object(m)) == 1

    running = record("a", Phase.RUNNING, started=NOW).status
    m.sync_object("ns", "a", running, created=created, now=NOW, policy=POLICY)
    assert value(m, start, **obj, phase="Running") == NOW.timestamp()
    assert value(m, start, **obj, phase="Pending") is None
    assert len(per_object(m)) == 2  # and the lock's held_since

    done = record("a", Phase.COMPLETED, finished=NOW).status
    m.sync_object("ns", "a", done, created=created, now=NOW, policy=POLICY)
    assert value(m, "workflowexecution_lock_released", **obj) == 0.0
    assert value(m, "workflowexecution_completion_timestamp", **obj) == NOW.timestamp()
    due = (NOW + POLICY.cooldown).timestamp()
    assert value(m, "workflowexecution_lock_release_due_timestamp", **obj) == due
    assert value(m, start, **obj, phase="Running") is None

    released_at = NOW + timedelta(minutes=5)
    released = record("a", Phase.COMPLETED, finished=NOW, released=released_at).status
    m.sync_object("ns", "a", released, created=created, now=released_at, policy=POLICY)
    assert value(m, "workflowexecution_lock_released", **obj) == 1.0
    assert value(m, "workflowexecution_lock_release_due_timestamp", **obj) is None

    later = NOW + timedelta(minutes=16)  # past the retention window
    m.sync_object("ns", "a", released, created=created, now=later, policy=POLICY)
    assert per_object(m) == []
    assert m.tracked_objects == 0


HELD_SINCE = "workflowexecution_lock_held_since_timestamp"


def test_lock_held_since_is_set_while_the_lock_is_held_and_goes_with_it() -> None:
    m = Metrics(retention=timedelta(minutes=10))
    obj = {"namespace": "ns", "name": "a"}
    started = NOW - timedelta(minutes=30)
    pending = record("a", None).status
    m.sync_object("ns", "a", pending, created=started, now=started, policy=POLICY)
    assert value(m, HELD_SINCE, **obj) is None  # no lock taken yet

    running = record("a", Phase.RUNNING, started=started).status
    m.sync_object("ns", "a", running, created=started, now=NOW, policy=POLICY)
    assert value(m, HELD_SINCE, **obj) == started.timestamp()

    # Finished, in its cooldown: still held, still since the start (not the completion).
    done = record("a", Phase.COMPLETED, started=started, finished=NOW).status
    m.sync_object("ns", "a", done, created=started, now=NOW, policy=POLICY)
    assert value(m, HELD_SINCE, **obj) == started.timestamp()
    m.sync_object("ns", "a", done, created=started, now=NOW + timedelta(hours=5), policy=POLICY)
    assert value(m, HELD_SINCE, **obj) == started.timestamp()  # level-triggered, kept

    # Released: gone at once, while lock_released=1 stays for the retention window.
    released_at = NOW + timedelta(minutes=5)
    released = record("a", Phase.COMPLETED, started=started, finished=NOW, released=released_at)
    m.sync_object("ns", "a", released.status, created=started, now=released_at, policy=POLICY)
    assert value(m, HELD_SINCE, **obj) is None
    assert value(m, "workflowexecution_lock_released", **obj) == 1.0


def test_lock_held_since_covers_backoff_and_goes_on_forget() -> None:
    m = Metrics()
    started = NOW - timedelta(minutes=2)
    # Failed before anything ran: the lock is held through the backoff (SPEC §3).
    failed = record(
        "b", Phase.FAILED, started=started, finished=NOW, ran=False, next_allowed=NOW
    ).status
    m.sync_object("ns", "b", failed, created=started, now=NOW, policy=POLICY)
    assert value(m, HELD_SINCE, namespace="ns", name="b") == started.timestamp()
    running = record("c", Phase.RUNNING, started=started).status
    m.sync_object("ns", "c", running, created=started, now=NOW, policy=POLICY)
    # A status with no pipelineRunRef holds no lock, whatever its times say.
    unlocked = running.model_copy(update={"pipeline_run_ref": None})
    m.sync_object("ns", "d", unlocked, created=started, now=NOW, policy=POLICY)
    assert value(m, HELD_SINCE, namespace="ns", name="d") is None

    m.forget("ns", "b")
    assert value(m, HELD_SINCE, namespace="ns", name="b") is None
    assert value(m, HELD_SINCE, namespace="ns", name="c") == started.timestamp()
    m.forget_all()
    assert [line for line in per_object(m) if line.startswith(HELD_SINCE)] == []
    assert m.tracked_objects == 0


def test_series_are_bounded_by_live_objects() -> None:
    m = Metrics()
    for i in range(50):
        status = record(f"w{i}", Phase.RUNNING, started=NOW).status
        m.sync_object("ns", f"w{i}", status, created=NOW, now=NOW, policy=POLICY)
    assert len(per_object(m)) == 100  # phase start and lock held_since per object
    for i in range(50):
        m.forget("ns", f"w{i}")
    assert per_object(m) == []
    m.forget("ns", "never-seen")  # harmless


def test_unknown_error_category_is_refused() -> None:
    with pytest.raises(ValueError, match="category"):
        Metrics().error("misc", "Oops")


def test_skip_of_history_reasons_counts_the_upstream_backoff_series() -> None:
    m = Metrics()
    m.skip(SkipReason.PREVIOUS_EXECUTION_FAILED)
    m.skip(SkipReason.RESOURCE_BUSY)
    text = scrape(m)
    assert 'workflowexecution_backoff_skip_total{reason="PreviousExecutionFailed"} 1.0' in text
    assert 'workflowexecution_skip_total{reason="ResourceBusy"} 1.0' in text
