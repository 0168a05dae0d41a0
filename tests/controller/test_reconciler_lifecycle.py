"""The reconciler after the start: Running, Completed/Failed, deletion, unreadable objects.

Expectations come from the pure core (`core.progress.observe`, `core.finished`,
`core.release`) fed the same evidence the reconciler reads (`tekton.status.read_evidence` of
the cached PipelineRun and the TaskRuns the API server lists).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fakes import Action
from world import (
    EXEC_NS,
    NS,
    POLICY,
    World,
    assert_released_as_checked,
    finished_run,
    lock_for,
    running_run,
    task_run,
)

from wfe.api.enums import Phase
from wfe.api.models import LocalObjectReference, WorkflowExecutionStatus
from wfe.controller import reconciler as reconciler_module
from wfe.controller.errors import Retry, Terminal
from wfe.controller.reconciler import Result, _child
from wfe.controller.resources import PIPELINE_RUNS, TASK_RUNS, WORKFLOW_EXECUTIONS
from wfe.core import clearance, contention, finished, progress, release
from wfe.core.lock import lock_name
from wfe.kube import errors
from wfe.kube.client import KubeObject
from wfe.observability.audit import AuditType
from wfe.tekton import status as tekton_status

from builders import NOW, TARGET, record

LOCK = lock_name(TARGET)
STARTED = NOW - timedelta(minutes=3)


def summaries(actions: list[Action]) -> list[tuple[str, str, str | None]]:
    return [a.summary for a in actions]


def running(failures: int = 0) -> WorkflowExecutionStatus:
    return WorkflowExecutionStatus(
        phase=Phase.RUNNING,
        start_time=STARTED,
        pipeline_run_ref=LocalObjectReference(name=LOCK),
        consecutive_failures=failures,
    )


def seed_running(world: World, name: str = "a", **kw: Any) -> KubeObject:
    """A Running WorkflowExecution (finalizer on) and its lock's manifest."""
    obj = world.add_wfe(name, status=running(), finalized=True, **kw)
    return lock_for(obj)


def observed(world: World, name: str, task_runs: list[KubeObject] | None = None) -> Any:
    """What `progress.observe` makes of the cached PipelineRun (and these TaskRuns)."""
    pr = world.prs.get(EXEC_NS, LOCK)
    evidence = tekton_status.read_evidence(pr, task_runs or []) if pr is not None else None
    return progress.observe(world.record(name).status, evidence, now=world.now, policy=POLICY)


# --- Running ---------------------------------------------------------------------------------


async def test_running_mirrors_progress_then_costs_nothing_while_unchanged(world: World) -> None:
    pr = seed_running(world)
    world.add_run(running_run(pr, started=STARTED))
    world.sync()
    expected = observed(world, "a")
    assert expected.entered is None

    assert await world.reconcile("a") == Result()
    assert summaries(world.client.write_calls()) == [("patch_status", "workflowexecutions", "a")]
    assert world.status("a") == expected.status.to_wire()
    assert world.status("a")["pipelineRunStatus"]["status"] == "Unknown"

    assert await world.reconcile("a") == Result()
    assert world.client.write_calls() == []
    # Read from the cache: no API call at all.
    assert world.client.actions == []
    assert world.events.reasons("a") == []


async def test_running_to_completed_requeues_at_the_release_time(world: World) -> None:
    pr = seed_running(world)
    completed = NOW - timedelta(seconds=40)
    world.add_run(finished_run(pr, succeeded=True, started=STARTED, completed=completed))
    world.sync()
    expected = observed(world, "a")
    assert expected.entered is Phase.COMPLETED
    step = release.lock_step(expected.status, NOW, POLICY)
    assert isinstance(step, release.RequeueAt)

    result = await world.reconcile("a")

    assert result == Result.at(step.when, NOW)
    assert result.requeue_after == (completed + POLICY.cooldown - NOW).total_seconds()
    assert summaries(world.client.write_calls()) == [("patch_status", "workflowexecutions", "a")]
    st = world.status("a")
    assert st == expected.status.to_wire()
    assert (st["phase"], st["startTime"], st["completionTime"], st["duration"]) == (
        "Completed",
        "2026-11-27T11:57:00Z",
        "2026-11-27T11:59:20Z",
        "2m20s",
    )
    assert world.events.reasons("a") == ["WorkflowCompleted"]
    assert world.audit.types() == [AuditType.COMPLETED]
    assert (
        world.metrics.registry.get_sample_value("workflowexecution_total", {"outcome": "Completed"})
        == 1.0
    )


async def test_a_run_that_finished_past_its_release_time_is_released_at_once(
    world: World,
) -> None:
    pr = seed_running(world)
    world.add_run(
        finished_run(
            pr, succeeded=True, started=NOW - timedelta(hours=2), completed=NOW - timedelta(hours=1)
        )
    )
    assert await world.reconcile("a") == Result(requeue_after=0.0)
    assert world.status("a")["phase"] == "Completed"


@pytest.mark.parametrize(
    "where",
    [
        pytest.param("cache-and-api", id="task-run-cached"),
        pytest.param("api-only", id="task-run-not-yet-cached"),
    ],
)
async def test_a_failed_run_is_analysed_from_task_runs_listed_fresh(
    world: World, where: str
) -> None:
    pr = seed_running(world)
    completed = NOW - timedelta(seconds=10)
    stored_pr = world.add_run(
        finished_run(pr, succeeded=False, started=STARTED, completed=completed)
    )
    tr = world.add_task_run(task_run(stored_pr, exit_code=2, completed=completed))
    world.sync()
    if where == "api-only":
        world.trs.forget(EXEC_NS, tr["metadata"]["name"])
    expected = observed(world, "a", [tr])
    assert expected.entered is Phase.FAILED
    step = release.lock_step(expected.status, NOW, POLICY)
    assert isinstance(step, release.RequeueAt)

    result = await world.reconcile("a", sync=False)

    (listed,) = world.client.calls("list", "taskruns")
    assert listed.namespace == EXEC_NS
    assert listed.body == {"labelSelector": f"tekton.dev/pipelineRun={LOCK}"}
    st = world.status("a")
    assert st == expected.status.to_wire()
    details = st["failureDetails"]
    assert (details["failedTaskName"], details["exitCode"]) == ("apply", 2)
    assert details["wasExecutionFailure"] is True
    assert st["consecutiveFailures"] == 1
    assert result == Result.at(step.when, NOW)
    assert world.events.reasons("a") == ["WorkflowFailed"]
    assert world.audit.types() == [AuditType.FAILED]


async def test_task_runs_of_an_earlier_run_of_the_same_name_are_not_evidence(
    world: World,
) -> None:
    pr = seed_running(world)
    stored_pr = world.add_run(
        finished_run(pr, succeeded=False, started=STARTED, completed=NOW - timedelta(seconds=5))
    )
    old = world.add_task_run(task_run(stored_pr, owner_uid="uid-of-an-earlier-run", exit_code=7))
    assert not _child(old, stored_pr)
    world.sync()
    expected = observed(world, "a", [])

    await world.reconcile("a")

    st = world.status("a")
    assert st == expected.status.to_wire()
    assert "exitCode" not in st["failureDetails"]


async def test_a_failure_that_never_started_backs_off_and_releases_at_the_next_allowed_time(
    world: World,
) -> None:
    pr = seed_running(world)
    world.add_run(
        finished_run(
            pr,
            succeeded=False,
            started=STARTED,
            completed=NOW - timedelta(seconds=5),
            reason="CouldntGetPipeline",
            message="bundle not found",
        )
    )
    world.sync()
    expected = observed(world, "a")
    details = expected.status.failure_details
    assert details is not None
    assert details.was_execution_failure is False
    assert expected.status.next_allowed_execution is not None

    result = await world.reconcile("a")

    assert world.status("a") == expected.status.to_wire()
    assert result == Result.at(expected.status.next_allowed_execution, NOW)


async def test_a_vanished_pipelinerun_fails_as_a_failure_that_ran(world: World) -> None:
    seed_running(world)
    world.sync()
    expected = observed(world, "a")  # no PipelineRun: observe(status, None)
    assert expected.entered is Phase.FAILED

    assert await world.reconcile("a") == Result()

    # The cache said "gone"; the API server was asked before concluding it.
    assert summaries(world.client.actions) == [
        ("get", "pipelineruns", LOCK),
        ("patch_status", "workflowexecutions", "a"),
    ]
    st = world.status("a")
    assert st == expected.status.to_wire()
    assert st["failureDetails"]["wasExecutionFailure"] is True
    assert "deleted before it finished" in st["failureDetails"]["message"]
    assert st["lockReleasedAt"] == "2026-11-27T12:00:00Z"
    assert world.events.reasons("a") == ["WorkflowFailed"]


async def test_a_pipelinerun_only_in_the_api_server_is_followed_not_failed(world: World) -> None:
    pr = seed_running(world)
    world.sync()
    world.add_run(running_run(pr, started=STARTED))
    await world.reconcile("a", sync=False)
    assert world.status("a")["phase"] == "Running"
    assert world.status("a")["pipelineRunStatus"]["status"] == "Unknown"


async def test_a_pipelinerun_of_that_name_owned_by_another_is_not_followed(world: World) -> None:
    seed_running(world)
    other = world.add_wfe("other")
    world.add_run(running_run(lock_for(other), started=STARTED))

    await world.reconcile("a")

    st = world.status("a")
    assert st["phase"] == "Failed"
    assert st["failureDetails"]["wasExecutionFailure"] is True
    assert world.client.calls("delete") == []
    assert world.lock() is not None


# --- Completed / Failed ---------------------------------------------------------------------


def finished_status(
    phase: Phase = Phase.COMPLETED, *, at: datetime | None = NOW - timedelta(minutes=1), **kw: Any
) -> WorkflowExecutionStatus:
    status = record("a", phase, finished=at or NOW, started=STARTED, **kw).status
    return status if at is not None else status.model_copy(update={"completion_time": None})


@pytest.mark.parametrize(
    ("cached", "owned", "completion"),
    [
        pytest.param(True, True, NOW - timedelta(minutes=2), id="from-the-pipelinerun"),
        pytest.param(False, True, NOW, id="now-when-the-pipelinerun-is-not-cached"),
        pytest.param(True, False, NOW, id="now-when-the-pipelinerun-is-anothers"),
    ],
)
async def test_a_finished_status_without_completion_time_gets_one(
    world: World, cached: bool, owned: bool, completion: datetime
) -> None:
    obj = world.add_wfe("a", status=finished_status(at=None), finalized=True)
    owner = obj if owned else world.add_wfe("other")
    world.add_run(
        finished_run(
            lock_for(owner),
            succeeded=True,
            started=STARTED,
            completed=NOW - timedelta(minutes=2),
        )
    )
    world.sync()
    if not cached:
        world.prs.forget(EXEC_NS, LOCK)
    plan = finished.plan_finished(
        world.record("a"),
        pipeline_run_completion=completion if completion != NOW else None,
        now=NOW,
        policy=POLICY,
    )
    assert plan.status is not None
    assert plan.requeue_at is not None

    result = await world.reconcile("a", sync=False)

    assert summaries(world.client.write_calls()) == [("patch_status", "workflowexecutions", "a")]
    st = world.status("a")
    assert st == plan.status.to_wire()
    assert st["completionTime"] == plan.status.to_wire()["completionTime"]
    assert result == Result.at(plan.requeue_at, NOW)


async def test_a_held_lock_is_kept_until_its_release_time(world: World) -> None:
    obj = world.add_wfe("a", status=finished_status(), finalized=True)
    world.add_run(finished_run(lock_for(obj), succeeded=True, started=STARTED, completed=NOW))
    plan_status = finished_status()
    step = release.lock_step(plan_status, NOW, POLICY)
    assert isinstance(step, release.RequeueAt)
    assert await world.reconcile("a") == Result.at(step.when, NOW)
    assert world.client.actions == []


@pytest.mark.parametrize(
    ("phase", "kw"),
    [
        pytest.param(Phase.COMPLETED, {}, id="completed-after-its-cooldown"),
        pytest.param(Phase.FAILED, {"failures": 1}, id="failed-that-ran-after-its-cooldown"),
        pytest.param(
            Phase.FAILED,
            {"ran": False, "failures": 1, "next_allowed": NOW - timedelta(seconds=1)},
            id="failed-that-never-started-after-its-backoff",
        ),
    ],
)
async def test_a_lock_due_for_release_is_read_checked_and_deleted_with_preconditions(
    world: World, phase: Phase, kw: dict[str, Any]
) -> None:
    status = finished_status(phase, at=NOW - timedelta(minutes=10), **kw)
    obj = world.add_wfe("a", status=status, finalized=True)
    stored_pr = world.add_run(
        finished_run(
            lock_for(obj),
            succeeded=phase is Phase.COMPLETED,
            started=STARTED,
            completed=NOW - timedelta(minutes=10),
        )
    )
    world.add_task_run(task_run(stored_pr))
    plan = finished.plan_finished(
        world.record("a"), pipeline_run_completion=None, now=NOW, policy=POLICY
    )
    assert plan.release == LOCK

    assert await world.reconcile("a") == Result()

    assert summaries(world.client.actions) == [
        ("get", "pipelineruns", LOCK),  # ownership read from the API server, not the cache
        ("patch", "pipelineruns", LOCK),  # the lock finalizer off, guarded by what was read
        ("delete", "pipelineruns", LOCK),
        ("patch_status", "workflowexecutions", "a"),
    ]
    assert_released_as_checked(world, stored_pr)
    assert world.lock() is None
    assert world.client.snapshot(TASK_RUNS) == []  # they went with it
    assert world.status("a") == finished.released(world.record("a").status, now=NOW).to_wire()
    assert world.status("a")["lockReleasedAt"] == "2026-11-27T12:00:00Z"
    assert world.events.reasons("a") == ["LockReleased"]

    assert await world.reconcile("a") == Result()
    assert world.client.actions == []  # released: nothing more to do


async def test_a_lock_now_belonging_to_another_is_never_deleted(world: World) -> None:
    world.add_wfe("a", status=finished_status(at=NOW - timedelta(minutes=10)), finalized=True)
    other = world.add_wfe("b", status=running())
    theirs = world.add_run(running_run(lock_for(other), started=NOW))

    await world.reconcile("a")

    assert world.client.calls("delete") == []
    lock = world.lock()
    assert lock is not None
    assert lock["metadata"]["uid"] == theirs["metadata"]["uid"]
    assert "lockReleasedAt" in world.status("a")  # ours is gone: recorded as released


async def test_a_lock_already_gone_is_recorded_as_released(world: World) -> None:
    world.add_wfe("a", status=finished_status(at=NOW - timedelta(minutes=10)), finalized=True)
    await world.reconcile("a")
    assert summaries(world.client.actions) == [
        ("get", "pipelineruns", LOCK),
        ("patch_status", "workflowexecutions", "a"),
    ]
    assert world.status("a")["lockReleasedAt"] == "2026-11-27T12:00:00Z"


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        pytest.param(errors.Conflict("precondition", status=409), Retry, id="conflict-retries"),
        pytest.param(errors.NotFound("gone", status=404), None, id="gone-meanwhile-is-released"),
    ],
)
async def test_a_release_racing_a_change_of_the_lock(
    world: World, error: errors.ApiError, outcome: type[Exception] | None
) -> None:
    obj = world.add_wfe("a", status=finished_status(at=NOW - timedelta(minutes=10)), finalized=True)
    world.add_run(finished_run(lock_for(obj), succeeded=True, started=STARTED, completed=STARTED))
    world.client.fail("delete", PIPELINE_RUNS, error)
    if outcome is None:
        await world.reconcile("a")
        assert "lockReleasedAt" in world.status("a")
    else:
        with pytest.raises(outcome) as raised:
            await world.reconcile("a")
        assert isinstance(raised.value, Retry)
        assert raised.value.reason == "LockChanged"
        assert "lockReleasedAt" not in world.status("a")


def _failed_that_ran(**kw: Any) -> WorkflowExecutionStatus:
    return finished_status(
        Phase.FAILED,
        at=NOW - timedelta(hours=1),
        failures=1,
        released=NOW - timedelta(hours=1),
        **kw,
    )


async def test_a_block_clearance_by_annotation_is_applied_once(world: World) -> None:
    world.add_wfe(
        "a",
        status=_failed_that_ran(),
        finalized=True,
        annotations={
            clearance.CLEAR_ANNOTATION: "rolled back by hand",
            clearance.CLEARED_BY_ANNOTATION: "alice",
        },
    )
    plan = finished.plan_finished(
        world.record("a"), pipeline_run_completion=None, now=NOW, policy=POLICY
    )
    assert plan.cleared is not None
    assert plan.status is not None

    await world.reconcile("a")

    assert summaries(world.client.write_calls()) == [("patch_status", "workflowexecutions", "a")]
    assert world.status("a") == plan.status.to_wire()
    assert world.status("a")["blockClearance"]["clearedBy"] == "alice"
    assert world.events.reasons("a") == ["BlockCleared"]
    assert world.audit.types() == [AuditType.BLOCK_CLEARED]

    await world.reconcile("a")
    assert world.client.write_calls() == []
    assert world.events.reasons("a") == ["BlockCleared"]


@pytest.mark.parametrize(
    ("status", "value"),
    [
        pytest.param(
            finished_status(at=NOW - timedelta(hours=1), released=NOW - timedelta(hours=1)),
            "please",
            id="nothing-to-clear",
        ),
        pytest.param(_failed_that_ran(), "   ", id="no-reason-given"),
    ],
)
async def test_a_refused_clearance_is_reported_once_per_request(
    world: World, status: WorkflowExecutionStatus, value: str
) -> None:
    world.add_wfe(
        "a", status=status, finalized=True, annotations={clearance.CLEAR_ANNOTATION: value}
    )
    plan = finished.plan_finished(
        world.record("a"), pipeline_run_completion=None, now=NOW, policy=POLICY
    )
    assert plan.refused is not None

    await world.reconcile("a")
    await world.reconcile("a")

    assert world.client.write_calls() == []
    assert world.events.reasons("a") == ["BlockClearRefused"]
    (_, body) = world.events.published[0]
    assert body["message"] == str(plan.refused)
    assert body["type"] == "Warning"

    # A new request (another annotation value, refused as well) is answered again.
    obj = world.stored("a")
    assert obj is not None
    obj["metadata"]["annotations"][clearance.CLEAR_ANNOTATION] = value + " "
    world.client.put(WORKFLOW_EXECUTIONS, obj)
    await world.reconcile("a")
    assert world.events.reasons("a") == ["BlockClearRefused", "BlockClearRefused"]


async def test_the_memory_of_refusals_is_bounded(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconciler_module, "_MAX_REFUSALS", 1)
    done = finished_status(at=NOW - timedelta(hours=1), released=NOW - timedelta(hours=1))
    for name in ("a", "b"):
        world.add_wfe(name, status=done, annotations={clearance.CLEAR_ANNOTATION: "please"})
    for name in ("a", "b", "a"):
        await world.reconcile(name)
    # "a" was forgotten to make room for "b": at worst its refusal is told again.
    assert world.events.reasons("a") == ["BlockClearRefused", "BlockClearRefused"]
    assert world.events.reasons("b") == ["BlockClearRefused"]


# --- deletion --------------------------------------------------------------------------------


async def test_deleting_deletes_its_own_pipelinerun_then_drops_the_finalizer(
    world: World,
) -> None:
    obj = world.add_wfe("a", status=running(), finalized=True, deleting=True)
    pr = world.add_run(running_run(lock_for(obj), started=STARTED))

    assert await world.reconcile("a") == Result()

    assert summaries(world.client.write_calls()) == [
        ("patch", "pipelineruns", LOCK),
        ("delete", "pipelineruns", LOCK),
        ("patch", "workflowexecutions", "a"),
    ]
    assert_released_as_checked(world, pr)
    assert world.client.calls("patch")[1].body == {
        "metadata": {"finalizers": [], "resourceVersion": obj["metadata"]["resourceVersion"]}
    }
    assert world.stored("a") is None  # the API server let it go
    assert world.lock() is None
    assert world.events.reasons("a") == ["WorkflowExecutionDeleted"]
    assert world.events.published[0][1]["message"] == f"Cleaned up PipelineRun {LOCK}"


async def test_deleting_an_undecided_one_releases_the_lock_its_finalizer_proves(
    world: World,
) -> None:
    obj = world.add_wfe("a", finalized=True, deleting=True)
    world.add_run(running_run(lock_for(obj), started=STARTED))
    await world.reconcile("a")
    assert world.lock() is None
    assert world.stored("a") is None


async def test_deleting_one_whose_target_names_no_lock_drops_the_finalizer(world: World) -> None:
    world.add_wfe("a", target="not a target", finalized=True, deleting=True)
    await world.reconcile("a")
    assert summaries(world.client.actions) == [("patch", "workflowexecutions", "a")]
    assert world.stored("a") is None


async def test_deleting_never_deletes_another_ones_pipelinerun(world: World) -> None:
    world.add_wfe("a", status=running(), finalized=True, deleting=True)
    other = world.add_wfe("b", status=running())
    world.add_run(running_run(lock_for(other), started=STARTED))
    await world.reconcile("a")
    assert world.client.calls("delete") == []
    assert world.lock() is not None
    assert world.stored("a") is None


async def test_deleting_after_the_release_does_not_look_for_the_lock(world: World) -> None:
    world.add_wfe(
        "a",
        status=finished_status(at=NOW - timedelta(hours=1), released=NOW - timedelta(minutes=30)),
        finalized=True,
        deleting=True,
    )
    await world.reconcile("a")
    assert summaries(world.client.actions) == [("patch", "workflowexecutions", "a")]
    assert world.events.published[0][1]["message"] == "Cleaned up"


async def test_deleting_without_our_finalizer_does_nothing(world: World) -> None:
    world.add_wfe("a", deleting=True)
    stored = world.stored("a")
    assert stored is not None
    stored["metadata"]["finalizers"] = ["someone-else/cleanup"]
    world.client.put(WORKFLOW_EXECUTIONS, stored)
    assert await world.reconcile("a") == Result()
    assert world.client.actions == []


@pytest.mark.parametrize(
    ("verb", "error"),
    [
        pytest.param("get", errors.Unavailable("connection reset"), id="lock-unreadable"),
        pytest.param("delete", errors.Conflict("precondition", status=409), id="lock-changed"),
        pytest.param("delete", errors.Forbidden("no", status=403), id="delete-forbidden"),
    ],
)
async def test_cleanup_errors_never_leave_it_terminating(
    world: World, verb: str, error: errors.ApiError
) -> None:
    obj = world.add_wfe("a", status=running(), finalized=True, deleting=True)
    world.add_run(running_run(lock_for(obj), started=STARTED))
    world.client.fail(verb, PIPELINE_RUNS, error)

    assert await world.reconcile("a") == Result()

    assert world.stored("a") is None
    assert world.lock() is not None  # an orphan: the stale-lock rule releases it later
    assert world.error_count("external", "CleanupFailed") == 1.0


async def test_a_conflict_dropping_the_finalizer_retries(world: World) -> None:
    world.add_wfe("a", finalized=True, deleting=True)
    world.client.fail("patch", WORKFLOW_EXECUTIONS, errors.Conflict("stale", status=409))
    with pytest.raises(Retry):
        await world.reconcile("a")
    assert world.stored("a") is not None


async def test_a_finalizer_drop_of_an_object_already_gone_is_done(world: World) -> None:
    world.add_wfe(
        "a",
        status=finished_status(released=NOW - timedelta(minutes=1)),
        finalized=True,
        deleting=True,
    )
    world.sync()
    world.client.remove(WORKFLOW_EXECUTIONS, NS, "a")
    assert await world.reconcile("a", sync=False) == Result()
    assert summaries(world.client.actions) == [("patch", "workflowexecutions", "a")]


# --- objects that cannot be reconciled ---------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("phase", "Exploded", id="unknown-phase"),
        pytest.param("startTime", "yesterday", id="bad-timestamp"),
    ],
)
async def test_an_unreadable_workflowexecution_is_terminal_and_written_nothing(
    world: World, field: str, value: str
) -> None:
    obj = world.add_wfe("a", finalized=True)
    obj["status"] = {field: value}
    world.client.put(WORKFLOW_EXECUTIONS, obj)
    with pytest.raises(Terminal) as raised:
        await world.reconcile("a")
    assert raised.value.reason == "InvalidObject"
    assert world.client.actions == []
    assert world.error_count("validation", "InvalidObject") == 1.0


async def test_an_unreadable_workflowexecution_being_deleted_has_its_finalizer_dropped(
    world: World,
) -> None:
    obj = world.add_wfe("a", finalized=True, deleting=True)
    obj["status"] = {"phase": "Exploded"}
    world.client.put(WORKFLOW_EXECUTIONS, obj)
    assert await world.reconcile("a") == Result()
    assert summaries(world.client.actions) == [("patch", "workflowexecutions", "a")]
    assert world.stored("a") is None


async def test_a_workflowexecution_gone_from_the_cache_is_forgotten(world: World) -> None:
    world.add_wfe("a", status=running(), finalized=True)
    await world.reconcile("a")
    assert world.metrics.tracked_objects == 1
    world.client.remove(WORKFLOW_EXECUTIONS, NS, "a")
    assert await world.reconcile("a") == Result()
    assert world.client.actions == []
    assert world.metrics.tracked_objects == 0


async def test_a_skipped_workflowexecution_is_left_alone(world: World) -> None:
    world.add_wfe("a", status=record("a", Phase.SKIPPED).status)
    assert await world.reconcile("a") == Result()
    assert world.client.actions == []
    assert world.events.reasons() == []


# --- the lock finalizer: a delete by anyone else is recorded before the lock goes ----------


async def test_a_running_lock_deleted_by_someone_else_is_recorded_then_let_go(
    world: World,
) -> None:
    obj = world.add_wfe("a", status=running(), finalized=True)
    pr = world.add_run(running_run(lock_for(obj), started=STARTED))
    assert pr["metadata"]["finalizers"] == [contention.LOCK_FINALIZER]
    await world.client.delete(PIPELINE_RUNS, EXEC_NS, LOCK)
    marked = world.lock()
    assert marked is not None  # only marked: the name is still taken
    assert marked["metadata"]["deletionTimestamp"]
    world.client.actions.clear()

    await world.reconcile("a")

    assert summaries(world.client.write_calls()) == [
        ("patch", "pipelineruns", LOCK),  # our finalizer off: now it goes
        ("patch_status", "workflowexecutions", "a"),
    ]
    assert world.lock() is None
    st = world.status("a")
    expected = progress.observe(world.record("a").status, None, now=NOW, policy=POLICY)
    assert st["phase"] == "Failed"
    assert st["failureDetails"]["wasExecutionFailure"] is True
    assert st["failureDetails"]["message"] == expected.status.failure_details.message  # type: ignore[union-attr]


async def test_a_finished_lock_deleted_by_someone_else_stays_the_lock_until_its_release(
    world: World,
) -> None:
    obj = world.add_wfe("a", status=running(), finalized=True)
    world.add_run(finished_run(lock_for(obj), succeeded=True, started=STARTED, completed=NOW))
    await world.client.delete(PIPELINE_RUNS, EXEC_NS, LOCK)
    world.client.actions.clear()

    await world.reconcile("a")

    assert world.status("a")["phase"] == "Completed"  # recorded as it finished
    held = world.lock()
    assert held is not None  # through the cooldown: the lock still holds the target
    assert held["metadata"]["deletionTimestamp"]
    assert [a.summary for a in world.client.write_calls()] == [
        ("patch_status", "workflowexecutions", "a")
    ]
