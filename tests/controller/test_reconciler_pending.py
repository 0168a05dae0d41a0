"""The reconciler's undecided phase (none / Pending) against the fake API server.

Expectations come from the same pure core functions the reconciler calls (`core.pending`,
`core.decide`, `core.contention`, `core.starting`); the tests pin down what the shell does
with them: which calls, in which order, how many writes, which Events.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fakes import Action, discovery_of
from world import (
    CATALOG,
    EXEC_NS,
    NS,
    POLICY,
    World,
    assert_released_as_checked,
    finished_run,
    lock_for,
    running_run,
)

from wfe.api.enums import FailureReason, Phase, SkipReason
from wfe.controller.errors import Retry, RetryAfter
from wfe.controller.reconciler import Result
from wfe.controller.resources import FINALIZER, PIPELINE_RUNS, WORKFLOW_EXECUTIONS
from wfe.core import contention, decide, history, pending, starting
from wfe.core.kinds import BUILTIN_KINDS, ServedKind
from wfe.core.lock import lock_name
from wfe.core.pending import LockSeen
from wfe.kube import errors
from wfe.kube.client import KubeObject
from wfe.observability.audit import AuditType
from wfe.tekton import status as tekton_status

from builders import NOW, TARGET, record

LOCK = lock_name(TARGET)
# wfe.api.models.TARGET_PATTERN allows no dot in the Kind segment, so `Kind.group` (which
# docs/targets.md and core.kinds define) fails target validation before the kind check.


def plan_for(world: World, name: str, *peers: str, seen: LockSeen | None = None) -> Any:
    """What the core plans for `name` given its peers, as the reconciler would ask it."""
    others = [world.record(p) for p in peers]
    return pending.plan_pending(
        world.record(name),
        others,
        seen or LockSeen(ours=False),
        now=world.now,
        policy=POLICY,
        kinds=CATALOG,
    )


def summaries(actions: list[Action]) -> list[tuple[str, str, str | None]]:
    return [a.summary for a in actions]


# --- a new WorkflowExecution runs ------------------------------------------------------------


async def test_new_workflowexecution_takes_the_lock_then_the_finalizer_then_writes_running(
    world: World,
) -> None:
    obj = world.add_wfe("a")
    plan = plan_for(world, "a")
    assert isinstance(plan, decide.Run)

    result = await world.reconcile("a")

    assert result == Result()
    assert summaries(world.client.write_calls()) == [
        ("create", "pipelineruns", LOCK),
        ("patch", "workflowexecutions", "a"),
        ("patch_status", "workflowexecutions", "a"),
    ]
    create, finalizer, status_write = world.client.write_calls()
    assert create.namespace == EXEC_NS
    assert create.body == lock_for(obj)
    assert finalizer.body == {
        "metadata": {
            "finalizers": [FINALIZER],
            "resourceVersion": obj["metadata"]["resourceVersion"],
        }
    }
    # The status write continues from what the finalizer write returned.
    after_finalizer = int(obj["metadata"]["resourceVersion"]) + 2  # the create bumped it once
    assert status_write.body["metadata"]["resourceVersion"] == str(after_finalizer)
    assert world.status("a") == plan.status.to_wire()
    stored = world.stored("a")
    assert stored is not None
    assert stored["metadata"]["finalizers"] == [FINALIZER]
    lock = world.lock()
    assert lock is not None
    assert (
        lock["metadata"]["annotations"][contention.OWNER_UID_ANNOTATION] == obj["metadata"]["uid"]
    )
    assert world.events.reasons("a") == ["PipelineRunCreated"]
    assert world.audit.types() == [AuditType.STARTED]
    assert (
        world.metrics.registry.get_sample_value("workflowexecution_pipelinerun_creation_total")
        == 1.0
    )


async def test_a_reconcile_before_the_cache_catches_up_continues_from_its_own_write(
    world: World,
) -> None:
    world.add_wfe("a")
    await world.reconcile("a")
    # The caches still show the object without status, and no PipelineRun at all.
    result = await world.reconcile("a", sync=False)
    assert result == Result()
    assert [a.summary for a in world.client.actions] == [
        ("get", "pipelineruns", LOCK),  # followed from the API server, not created again
        ("patch_status", "workflowexecutions", "a"),
    ]
    assert world.status("a")["phase"] == "Running"
    assert world.status("a")["pipelineRunStatus"]["status"] == "Unknown"
    assert len(world.client.snapshot(PIPELINE_RUNS)) == 1


# --- decided without a lock: one write ------------------------------------------------------


def _peer(world: World, name: str, phase: Phase, **kw: Any) -> None:
    world.add_wfe(name, status=record(name, phase, **kw).status)


@pytest.mark.parametrize(
    ("peer", "reason"),
    [
        pytest.param(
            {"phase": Phase.RUNNING, "started": NOW - timedelta(minutes=1)},
            SkipReason.RESOURCE_BUSY,
            id="another-running-on-the-target-is-resource-busy",
        ),
        pytest.param(
            {"phase": Phase.COMPLETED, "finished": NOW - timedelta(minutes=1)},
            SkipReason.RECENTLY_REMEDIATED,
            id="completed-within-the-cooldown-is-recently-remediated",
        ),
        pytest.param(
            {"phase": Phase.FAILED, "finished": NOW - timedelta(hours=1), "failures": 1},
            SkipReason.PREVIOUS_EXECUTION_FAILED,
            id="failure-that-ran-blocks-the-target",
        ),
        pytest.param(
            {
                "phase": Phase.FAILED,
                "finished": NOW - timedelta(hours=1),
                "ran": False,
                "failures": 5,
                "next_allowed": NOW - timedelta(minutes=30),
            },
            SkipReason.EXHAUSTED_RETRIES,
            id="failure-count-at-the-limit-is-exhausted-retries",
        ),
        pytest.param(
            {
                "phase": Phase.FAILED,
                "finished": NOW - timedelta(seconds=30),
                "ran": False,
                "failures": 1,
                "next_allowed": NOW + timedelta(seconds=30),
            },
            SkipReason.RECENTLY_REMEDIATED,
            id="backoff-in-force-is-recently-remediated",
        ),
    ],
)
async def test_skipped_costs_exactly_one_write_and_no_finalizer(
    world: World, peer: dict[str, Any], reason: SkipReason
) -> None:
    phase = peer.pop("phase")
    _peer(world, "earlier", phase, **peer)
    world.add_wfe("a")
    plan = plan_for(world, "a", "earlier")
    assert isinstance(plan, decide.Skip)
    assert plan.details.reason is reason

    assert await world.reconcile("a") == Result()

    assert summaries(world.client.write_calls()) == [("patch_status", "workflowexecutions", "a")]
    assert world.status("a") == plan.status.to_wire()
    stored = world.stored("a")
    assert stored is not None
    assert "finalizers" not in stored["metadata"]
    assert world.lock() is None
    assert world.events.reasons("a") == ["Skipped"]
    assert world.audit.types() == [AuditType.SKIPPED]
    assert (
        world.metrics.registry.get_sample_value(
            "workflowexecution_skip_total", {"reason": reason.value}
        )
        == 1.0
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"workflowRef": None}, "spec.workflowRef", id="missing-workflow-ref"),
        pytest.param({"target": "not a target"}, "spec.targetResource", id="malformed-target"),
        pytest.param({"targetResource": None}, "spec.targetResource", id="no-target"),
        pytest.param(
            {"parameters": {"lower": "x"}}, "spec.parameters['lower']", id="parameter-key-not-upper"
        ),
        pytest.param(
            {"executionConfig": {"serviceAccountName": "cluster-admin"}},
            "spec.executionConfig.serviceAccountName",
            id="service-account-not-allowed",
        ),
    ],
)
async def test_invalid_spec_fails_as_configuration_error_with_one_write(
    world: World, overrides: dict[str, Any], field: str
) -> None:
    world.add_wfe("a", **overrides)
    plan = plan_for(world, "a")
    assert isinstance(plan, decide.Fail)

    assert await world.reconcile("a") == Result()

    assert summaries(world.client.write_calls()) == [("patch_status", "workflowexecutions", "a")]
    st = world.status("a")
    assert st == plan.status.to_wire()
    assert st["failureDetails"]["reason"] == FailureReason.CONFIGURATION_ERROR.value
    assert st["failureDetails"]["wasExecutionFailure"] is False
    assert field in st["failureDetails"]["message"]
    assert world.events.reasons("a") == ["WorkflowFailed"]
    assert world.error_count("validation", "ConfigurationError") == 1.0


@pytest.mark.parametrize(
    ("target", "canonical"),
    [
        pytest.param("payment/deployment/x", "'payment/Deployment/x'", id="lower-case-kind"),
        pytest.param("payment/deployments/x", "'payment/Deployment/x'", id="plural"),
        pytest.param("payment/deploy/x", "'payment/Deployment/x'", id="short-name"),
        pytest.param("payment/Deployment.apps/x", "'payment/Deployment/x'", id="qualified"),
        pytest.param("payment/Node/n1", "'Node/n1'", id="cluster-scoped-with-namespace"),
    ],
)
async def test_a_misspelled_kind_fails_naming_the_canonical_target(
    world: World, target: str, canonical: str
) -> None:
    world.add_wfe("a", target=target, parameters={})
    plan = plan_for(world, "a")
    assert isinstance(plan, decide.Fail)

    await world.reconcile("a")

    assert summaries(world.client.write_calls()) == [("patch_status", "workflowexecutions", "a")]
    st = world.status("a")
    assert st == plan.status.to_wire()
    assert canonical in st["failureDetails"]["message"]
    assert world.client.snapshot(PIPELINE_RUNS) == []


async def test_a_kind_of_a_second_api_group_runs_when_written_kind_dot_group(
    world: World,
) -> None:
    knative = ServedKind(
        kind="Service", group="serving.knative.dev", namespaced=True, plural="services"
    )
    world.client.discovery = discovery_of((*BUILTIN_KINDS, knative))
    target = "payment/Service.serving.knative.dev/web"
    world.add_wfe("a", target=target, parameters={})
    await world.reconcile("a")
    assert world.status("a")["phase"] == "Running"
    assert world.lock(target) is not None


async def test_incomplete_discovery_defers_an_unknown_kind_without_writes(world: World) -> None:
    world.client.discovery = discovery_of(failed=("metrics.k8s.io/v1beta1",))
    world.add_wfe("a", target="payment/Gadget/g1", parameters={})
    plan = plan_for(world, "a")  # the built-in catalog is complete: it would fail
    assert isinstance(plan, decide.Fail)

    with pytest.raises(RetryAfter) as raised:
        await world.reconcile("a")

    assert raised.value.reason == "DiscoveryIncomplete"
    assert raised.value.seconds == 5.0
    assert world.client.write_calls() == []


async def test_incomplete_discovery_still_decides_a_kind_it_lists(world: World) -> None:
    world.client.discovery = discovery_of(failed=("metrics.k8s.io/v1beta1",))
    world.add_wfe("a")
    await world.reconcile("a")
    assert world.status("a")["phase"] == "Running"


async def test_failed_discovery_without_an_earlier_catalog_retries_without_writes(
    world: World,
) -> None:
    world.client.fail("discover", "", errors.Unavailable("connection refused"))
    world.add_wfe("a")
    with pytest.raises(Retry):
        await world.reconcile("a")
    assert world.client.write_calls() == []
    await world.reconcile("a")  # the next attempt asks again
    assert world.status("a")["phase"] == "Running"


@pytest.mark.parametrize(
    "healthy", [pytest.param(False, id="not-synced"), pytest.param(True, id="watch-failing")]
)
async def test_an_unready_cache_defers_by_a_second_without_writes(
    world: World, healthy: bool
) -> None:
    world.add_wfe("a")
    world.sync()
    if healthy:
        world.wfes.healthy = False
    else:
        world.wfes.unsync(healthy=True)
    with pytest.raises(RetryAfter) as raised:
        await world.reconcile("a", sync=False)
    assert (raised.value.reason, raised.value.seconds) == ("CacheNotSynced", 1.0)
    assert world.client.actions == []


async def test_an_unreadable_peer_on_the_target_fails_closed(world: World) -> None:
    peer = world.add_wfe("peer", status=record("peer", Phase.RUNNING, started=NOW).status)
    peer["status"]["startTime"] = "yesterday"
    world.client.put(WORKFLOW_EXECUTIONS, peer)
    world.add_wfe("a")
    with pytest.raises(Retry) as raised:
        await world.reconcile("a")
    assert raised.value.reason == "UnreadablePeer"
    assert world.client.write_calls() == []


async def test_skipped_and_pending_peers_are_not_history(world: World) -> None:
    """Only Running/Completed/Failed peers count; a Skipped one (even unreadable) is passed."""
    skipped = world.add_wfe("skipped", status=record("skipped", Phase.SKIPPED).status)
    skipped["status"]["skipDetails"] = {"reason": "nonsense"}
    world.client.put(WORKFLOW_EXECUTIONS, skipped)
    world.add_wfe("a")
    await world.reconcile("a")
    assert world.status("a")["phase"] == "Running"


# --- the lock exists: core.contention ----------------------------------------------------


def _hidden_lock(world: World, pr: KubeObject) -> KubeObject:
    """`pr` in the API server but not (yet) in the cache: only a create finds it."""
    world.sync()
    stored = world.add_run(pr)
    return stored


def _existing(pr: KubeObject) -> contention.ExistingLock:
    meta = pr["metadata"]
    return contention.ExistingLock(
        labels=meta.get("labels") or {},
        annotations=meta.get("annotations") or {},
        finished=tekton_status.is_finished(pr),
    )


async def test_already_exists_and_ours_is_adopted(world: World) -> None:
    obj = world.add_wfe("a")
    pr = _hidden_lock(world, lock_for(obj))
    run = plan_for(world, "a")
    assert isinstance(run, decide.Run)
    assert isinstance(
        contention.resolve_existing(world.record("a"), _existing(pr), None, now=NOW, policy=POLICY),
        contention.Adopt,
    )

    await world.reconcile("a", sync=False)

    assert summaries(world.client.write_calls()) == [
        ("create", "pipelineruns", LOCK),
        ("patch", "workflowexecutions", "a"),
        ("patch_status", "workflowexecutions", "a"),
    ]
    assert world.status("a") == run.status.to_wire()
    lock = world.lock()
    assert lock is not None
    assert lock["metadata"]["uid"] == pr["metadata"]["uid"]  # adopted, not recreated
    assert world.client.calls("delete") == []


@pytest.mark.parametrize(
    ("holder_status", "run_finished"),
    [
        pytest.param(
            record("holder", Phase.RUNNING, started=NOW - timedelta(minutes=1)).status,
            False,
            id="another-still-running",
        ),
        pytest.param(None, False, id="owner-gone-but-the-run-still-running"),
        pytest.param(
            record("holder", Phase.COMPLETED, finished=NOW - timedelta(minutes=1)).status,
            True,
            id="finished-inside-its-owners-cooldown",
        ),
    ],
)
async def test_already_exists_and_held_by_another_is_skipped_busy(
    world: World, holder_status: Any, run_finished: bool
) -> None:
    if holder_status is not None:
        holder = world.add_wfe("holder", status=holder_status)
    else:
        holder = world.add_wfe("holder")
        world.client.remove(WORKFLOW_EXECUTIONS, NS, "holder")
    pr = lock_for(holder)
    started = NOW - timedelta(minutes=2)
    pr = (
        finished_run(pr, succeeded=True, started=started, completed=NOW - timedelta(minutes=1))
        if run_finished
        else running_run(pr, started=started)
    )
    world.add_wfe("a")
    world.sync()
    # The cache shows neither the holder nor its run: the decision says run, the create meets it.
    world.wfes.forget(NS, "holder")
    stored_pr = world.add_run(pr)
    owner = world.client.stored(WORKFLOW_EXECUTIONS, NS, "holder")
    expected = contention.resolve_existing(
        world.record("a"),
        _existing(stored_pr),
        history.record_from_object(owner) if owner else None,
        now=NOW,
        policy=POLICY,
    )
    assert isinstance(expected, contention.Busy)

    await world.reconcile("a", sync=False)

    assert summaries(world.client.write_calls()) == [
        ("create", "pipelineruns", LOCK),
        ("patch_status", "workflowexecutions", "a"),
    ]
    assert world.status("a") == expected.status.to_wire()
    assert world.status("a")["skipDetails"]["conflictingWorkflow"]["name"] == "holder"
    stored = world.stored("a")
    assert stored is not None
    assert "finalizers" not in stored["metadata"]
    lock = world.lock()
    assert lock is not None
    assert lock["metadata"]["uid"] == stored_pr["metadata"]["uid"]
    assert world.events.reasons("a") == ["Skipped"]


@pytest.mark.parametrize(
    "owner",
    [
        pytest.param("gone", id="owner-gone"),
        pytest.param("past-release", id="owner-past-its-release-time"),
        pytest.param("recreated", id="owner-name-reused-by-a-new-object"),
    ],
)
async def test_a_stale_lock_is_deleted_with_preconditions_and_taken_again(
    world: World, owner: str
) -> None:
    holder = world.add_wfe(
        "holder", status=record("holder", Phase.COMPLETED, finished=NOW - timedelta(hours=1)).status
    )
    stale = finished_run(
        lock_for(holder),
        succeeded=True,
        started=NOW - timedelta(hours=1, minutes=1),
        completed=NOW - timedelta(hours=1),
    )
    if owner == "gone":
        world.client.remove(WORKFLOW_EXECUTIONS, NS, "holder")
    elif owner == "recreated":
        world.client.remove(WORKFLOW_EXECUTIONS, NS, "holder")
        world.add_wfe("holder", target="payment/Deployment/other")
    world.add_wfe("a")
    world.sync()
    world.wfes.forget(NS, "holder")
    stale = world.add_run(stale)
    owner_obj = world.client.stored(WORKFLOW_EXECUTIONS, NS, "holder")
    expected = contention.resolve_existing(
        world.record("a"),
        _existing(stale),
        history.record_from_object(owner_obj) if owner_obj else None,
        now=NOW,
        policy=POLICY,
    )
    assert isinstance(expected, contention.ReleaseStale)
    run = plan_for(world, "a")

    await world.reconcile("a", sync=False)

    assert summaries(world.client.write_calls()) == [
        ("create", "pipelineruns", LOCK),
        ("patch", "pipelineruns", LOCK),
        ("delete", "pipelineruns", LOCK),
        ("create", "pipelineruns", LOCK),
        ("patch", "workflowexecutions", "a"),
        ("patch_status", "workflowexecutions", "a"),
    ]
    assert_released_as_checked(world, stale)
    fresh = world.lock()
    assert fresh is not None
    assert fresh["metadata"]["uid"] != stale["metadata"]["uid"]
    assert world.status("a") == run.status.to_wire()
    assert world.events.reasons("a") == ["StaleLockReleased", "PipelineRunCreated"]
    assert AuditType.STALE_LOCK_RELEASED in world.audit.types()
    (released,) = [e for e in world.audit.events if e.event_type is AuditType.STALE_LOCK_RELEASED]
    assert released.data["owner"] == "default/holder"
    assert released.data["why"] == expected.why


async def test_a_finished_lock_that_names_no_owner_is_stale(world: World) -> None:
    world.add_wfe("a")
    someone = world.add_wfe("someone")
    world.client.remove(WORKFLOW_EXECUTIONS, NS, "someone")
    pr = finished_run(lock_for(someone), succeeded=True, started=NOW, completed=NOW)
    pr["metadata"]["annotations"] = {}
    for label in (contention.OWNER_LABEL, contention.OWNER_NAMESPACE_LABEL):
        del pr["metadata"]["labels"][label]
    stale = _hidden_lock(world, pr)

    await world.reconcile("a", sync=False)

    assert [a.summary for a in world.client.calls("get")] == [("get", "pipelineruns", LOCK)]
    fresh = world.lock()
    assert fresh is not None
    assert fresh["metadata"]["uid"] != stale["metadata"]["uid"]
    assert world.status("a")["phase"] == "Running"


async def test_a_stale_lock_that_changes_before_its_delete_is_judged_again(world: World) -> None:
    world.add_wfe("a")
    gone = world.add_wfe("gone")
    world.client.remove(WORKFLOW_EXECUTIONS, NS, "gone")
    stale = finished_run(
        lock_for(gone),
        succeeded=True,
        started=NOW - timedelta(hours=2),
        completed=NOW - timedelta(hours=1),
    )
    _hidden_lock(world, stale)
    world.client.fail("delete", PIPELINE_RUNS, errors.Conflict("precondition failed", status=409))

    await world.reconcile("a", sync=False)

    assert summaries(world.client.write_calls()) == [
        ("create", "pipelineruns", LOCK),
        ("patch", "pipelineruns", LOCK),  # the lock finalizer off
        ("delete", "pipelineruns", LOCK),  # refused: it changed
        ("create", "pipelineruns", LOCK),
        ("delete", "pipelineruns", LOCK),  # judged again: still stale, and no finalizer left
        ("create", "pipelineruns", LOCK),
        ("patch", "workflowexecutions", "a"),
        ("patch_status", "workflowexecutions", "a"),
    ]
    assert world.events.reasons("a") == ["StaleLockReleased", "PipelineRunCreated"]


async def test_a_lock_released_between_the_create_and_the_read_is_created_again(
    world: World,
) -> None:
    world.add_wfe("a")
    world.client.fail("create", PIPELINE_RUNS, errors.AlreadyExists("exists", status=409))
    await world.reconcile("a")
    assert summaries(world.client.actions[1:]) == [
        ("create", "pipelineruns", LOCK),
        ("get", "pipelineruns", LOCK),
        ("create", "pipelineruns", LOCK),
        ("patch", "workflowexecutions", "a"),
        ("patch_status", "workflowexecutions", "a"),
    ]
    assert world.status("a")["phase"] == "Running"


async def test_contention_that_never_settles_retries(world: World) -> None:
    world.add_wfe("a")
    world.client.fail("create", PIPELINE_RUNS, errors.AlreadyExists("exists", status=409), times=3)
    with pytest.raises(Retry) as raised:
        await world.reconcile("a")
    assert raised.value.reason == "LockContention"
    assert len(world.client.calls("create")) == 3
    assert world.client.write_calls(resource="workflowexecutions") == []


async def test_an_unreadable_lock_owner_fails_closed(world: World) -> None:
    holder = world.add_wfe("holder", status=record("holder", Phase.COMPLETED, finished=NOW).status)
    pr = finished_run(lock_for(holder), succeeded=True, started=NOW, completed=NOW)
    holder["status"]["completionTime"] = "not a time"
    world.client.put(WORKFLOW_EXECUTIONS, holder)
    world.add_wfe("a")
    world.sync()
    world.wfes.forget(NS, "holder")
    world.add_run(pr)
    with pytest.raises(Retry) as raised:
        await world.reconcile("a", sync=False)
    assert raised.value.reason == "UnreadablePeer"
    assert world.client.calls("delete") == []
    assert world.client.write_calls(resource="workflowexecutions") == []


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(
            errors.Invalid(
                'admission webhook "policy" denied the request: pipelines are frozen',
                status=422,
                reason="Invalid",
            ),
            id="422-invalid",
        ),
        pytest.param(
            errors.BadRequest("the server rejected our request", status=400, reason="BadRequest"),
            id="400-bad-request",
        ),
    ],
)
async def test_a_lock_refused_for_good_fails_with_the_servers_message_never_retried(
    world: World, error: errors.ApiError
) -> None:
    world.add_wfe("a")
    world.client.fail("create", PIPELINE_RUNS, error)
    expected = decide.lock_refused(str(error), 0, now=NOW, policy=POLICY)

    assert await world.reconcile("a") == Result()

    assert summaries(world.client.write_calls()) == [
        ("create", "pipelineruns", LOCK),
        ("patch_status", "workflowexecutions", "a"),
    ]
    st = world.status("a")
    assert st == expected.status.to_wire()
    assert error.message in st["failureDetails"]["message"]
    assert world.events.reasons("a") == ["WorkflowFailed"]
    # The next reconcile sees a Failed WorkflowExecution: it never creates again.
    await world.reconcile("a")
    assert world.client.calls("create") == []


async def test_a_refused_lock_is_counted_once_as_a_configuration_error(world: World) -> None:
    world.add_wfe("a")
    world.client.fail("create", PIPELINE_RUNS, errors.Invalid("denied", status=422))
    await world.reconcile("a")
    assert world.error_count("validation", "ConfigurationError") == 1.0


# --- it cannot start: retry, then explain once ---------------------------------------------


@pytest.mark.parametrize(
    ("error", "raised", "reason", "metric"),
    [
        pytest.param(
            None,
            Retry,
            "ExecutionNamespaceMissing",
            ("external", "ExecutionNamespaceMissing"),
            id="execution-namespace-missing",
        ),
        pytest.param(
            errors.NotFound("the server could not find the requested resource", status=404),
            Retry,
            "TektonUnavailable",
            ("external", "TektonUnavailable"),
            id="tekton-api-not-served",
        ),
        pytest.param(
            errors.Forbidden("cannot create pipelineruns", status=403, reason="Forbidden"),
            Retry,
            "Forbidden",
            ("permission", "Forbidden"),
            id="forbidden",
        ),
        pytest.param(
            errors.Unavailable("connection refused", reason="Unavailable"),
            Retry,
            "APIUnavailable",
            ("external", "APIUnavailable"),
            id="api-unavailable",
        ),
        pytest.param(
            errors.ServerError("etcd timeout", status=500, reason="InternalError"),
            errors.ServerError,
            "InternalError",
            None,
            id="server-error-propagates",
        ),
    ],
)
async def test_a_workflowexecution_that_cannot_start_retries_then_explains_once(
    world: World,
    error: errors.ApiError | None,
    raised: type[Exception],
    reason: str,
    metric: tuple[str, str] | None,
) -> None:
    world.add_wfe("a")
    if error is None:
        world.client.namespaces = {NS}  # the execution namespace does not exist
    else:
        world.client.fail("create", PIPELINE_RUNS, error, times=4)
    before = world.record("a").status

    with pytest.raises(raised) as first:
        await world.reconcile("a")
    assert world.client.write_calls(resource="workflowexecutions") == []
    if isinstance(first.value, Retry):
        assert first.value.reason == reason
    if metric is not None:
        assert world.error_count(*metric) == 1.0

    world.now = NOW + starting.EXPLAIN_AFTER / 2
    with pytest.raises(raised):
        await world.reconcile("a")
    assert world.client.write_calls(resource="workflowexecutions") == []  # a hiccup costs nothing

    world.now = NOW + starting.EXPLAIN_AFTER
    with pytest.raises(raised) as third:
        await world.reconcile("a")
    expected = starting.waiting(
        before, reason=reason, message=f"cannot start yet: {third.value}", now=world.now
    )
    assert expected is not None
    assert summaries(world.client.write_calls(resource="workflowexecutions")) == [
        ("patch_status", "workflowexecutions", "a")
    ]
    st = world.status("a")
    assert st == expected.to_wire()
    (condition,) = [c for c in st["conditions"] if c["type"] == "TektonPipelineCreated"]
    assert (condition["type"], condition["status"]) == (starting.START_CONDITION, "False")
    assert world.events.reasons("a") == ["WaitingToStart"]

    world.now = NOW + starting.EXPLAIN_AFTER * 3
    with pytest.raises(raised):
        await world.reconcile("a")
    assert world.client.write_calls(resource="workflowexecutions") == []  # once per cause
    assert world.events.reasons("a") == ["WaitingToStart"]

    # The cause goes (the four injected failures are used up): it runs, and the Running
    # status replaces the explanation.
    world.client.namespaces = None
    await world.reconcile("a")
    st = world.status("a")
    assert st["phase"] == "Running"
    created = {c["type"]: c for c in st["conditions"]}["TektonPipelineCreated"]
    assert (created["status"], created["reason"]) == ("True", "PipelineCreated")


async def test_a_failed_explanation_write_is_only_logged(world: World) -> None:
    world.add_wfe("a")
    world.client.namespaces = {NS}
    with pytest.raises(Retry):
        await world.reconcile("a")
    world.now = NOW + starting.EXPLAIN_AFTER
    world.client.fail("patch_status", WORKFLOW_EXECUTIONS, errors.Conflict("stale", status=409))
    with pytest.raises(Retry) as raised:
        await world.reconcile("a")
    assert raised.value.reason == "ExecutionNamespaceMissing"  # the cause, not the write's error
    assert world.events.reasons("a") == []
    assert "phase" not in world.status("a")


# --- a finalizer without a recorded run ------------------------------------------------------


async def test_a_vanished_lock_fails_as_a_failure_that_ran_and_is_never_created_again(
    world: World,
) -> None:
    world.add_wfe("a", finalized=True)
    plan = plan_for(world, "a", seen=LockSeen(ours=False, confirmed=True))
    assert isinstance(plan, pending.RecordVanished)

    assert await world.reconcile("a") == Result()

    # The cache said "gone"; the API server was asked before concluding it.
    assert ("get", "pipelineruns", LOCK) in summaries(world.client.actions)
    assert summaries(world.client.write_calls()) == [("patch_status", "workflowexecutions", "a")]
    st = world.status("a")
    assert st == plan.status.to_wire()
    assert st["failureDetails"]["wasExecutionFailure"] is True
    assert "vanished before its start was recorded" in st["failureDetails"]["message"]
    assert world.events.reasons("a") == ["WorkflowFailed"]
    assert world.client.calls("create") == []


async def test_a_finalizer_with_the_lock_only_in_the_api_server_is_adopted_not_failed(
    world: World,
) -> None:
    obj = world.add_wfe("a", finalized=True)
    started = NOW - timedelta(minutes=3)
    pr = _hidden_lock(world, running_run(lock_for(obj), started=started))
    expected = starting.adopted(lock=LOCK, started=started, prior_failures=0, now=NOW)

    result = await world.reconcile("a", sync=False)

    assert result == Result(requeue_after=0.0)  # followed at once
    assert summaries(world.client.write_calls()) == [("patch_status", "workflowexecutions", "a")]
    assert world.status("a") == expected.to_wire()
    lock = world.lock()
    assert lock is not None
    assert lock["metadata"]["uid"] == pr["metadata"]["uid"]


async def test_adoption_keeps_the_pipelineruns_start_time_and_the_targets_failures(
    world: World,
) -> None:
    world.add_wfe(
        "earlier",
        status=record(
            "earlier",
            Phase.FAILED,
            finished=NOW - timedelta(hours=1),
            ran=False,
            failures=2,
            next_allowed=NOW - timedelta(minutes=50),
            released=NOW - timedelta(minutes=50),
        ).status,
    )
    obj = world.add_wfe("a")
    started = NOW - timedelta(minutes=7)
    world.add_run(running_run(lock_for(obj), started=started))
    plan = plan_for(world, "a", "earlier", seen=LockSeen(ours=True, started=started))
    assert isinstance(plan, pending.AdoptLock)

    assert await world.reconcile("a") == Result(requeue_after=0.0)

    assert summaries(world.client.write_calls()) == [
        ("patch", "workflowexecutions", "a"),  # the finalizer first
        ("patch_status", "workflowexecutions", "a"),
    ]
    st = world.status("a")
    assert st == plan.status.to_wire()
    assert st["startTime"] == "2026-11-27T11:53:00Z"
    assert st["consecutiveFailures"] == 2
    assert world.events.reasons("a") == ["PipelineRunCreated"]


async def test_a_recreated_workflowexecution_does_not_adopt_its_predecessors_run(
    world: World,
) -> None:
    old = world.add_wfe("a")
    world.client.remove(WORKFLOW_EXECUTIONS, NS, "a")
    world.add_wfe("a")  # same name, new uid
    world.add_run(running_run(lock_for(old), started=NOW - timedelta(minutes=1)))

    await world.reconcile("a")

    assert world.status("a")["phase"] == "Skipped"
    assert world.status("a")["skipDetails"]["reason"] == "ResourceBusy"
    assert world.client.calls("delete") == []


# --- guarded writes --------------------------------------------------------------------------


async def test_conflict_on_a_status_write_retries_the_key(world: World) -> None:
    _peer(world, "busy", Phase.RUNNING, started=NOW)
    world.add_wfe("a")
    world.client.fail("patch_status", WORKFLOW_EXECUTIONS, errors.Conflict("stale", status=409))
    with pytest.raises(Retry):
        await world.reconcile("a")
    assert "phase" not in world.status("a")
    assert world.events.reasons("a") == []


async def test_conflict_on_the_finalizer_write_retries_and_the_next_reconcile_adopts(
    world: World,
) -> None:
    world.add_wfe("a")
    world.client.fail("patch", WORKFLOW_EXECUTIONS, errors.Conflict("stale", status=409))
    with pytest.raises(Retry):
        await world.reconcile("a")
    assert world.lock() is not None
    await world.reconcile("a")
    assert summaries(world.client.write_calls()) == [
        ("patch", "workflowexecutions", "a"),
        ("patch_status", "workflowexecutions", "a"),
    ]
    assert world.status("a")["phase"] == "Running"
    assert len(world.client.snapshot(PIPELINE_RUNS)) == 1


async def test_a_lost_running_write_is_retried_in_place_while_the_phase_has_not_moved(
    world: World,
) -> None:
    world.add_wfe("a")
    world.client.fail("patch_status", WORKFLOW_EXECUTIONS, errors.Conflict("stale", status=409))
    await world.reconcile("a")
    assert summaries(world.client.actions[1:]) == [
        ("create", "pipelineruns", LOCK),
        ("patch", "workflowexecutions", "a"),
        ("patch_status", "workflowexecutions", "a"),
        ("get", "workflowexecutions", "a"),
        ("patch_status", "workflowexecutions", "a"),
    ]
    assert world.status("a")["phase"] == "Running"


async def test_a_running_write_stops_when_someone_else_moved_the_phase(world: World) -> None:
    world.add_wfe("a")
    world.client.fail("patch_status", WORKFLOW_EXECUTIONS, errors.Conflict("stale", status=409))

    def someone_else_skips_it(action: Action) -> None:
        if action.verb == "patch_status" and action.error is not None:
            current = world.stored("a")
            assert current is not None
            current["status"] = record("a", Phase.SKIPPED).status.to_wire()
            world.client.put(WORKFLOW_EXECUTIONS, current)

    world.client.hooks.append(someone_else_skips_it)
    with pytest.raises(Retry):
        await world.reconcile("a")
    assert world.status("a")["phase"] == "Skipped"
    assert len(world.client.calls("patch_status")) == 1
