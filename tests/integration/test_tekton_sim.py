"""The Tekton simulator against the real API server and Tekton's real CRDs (docs/testenv.md).

Proven here:

- every corpus document (tests/core/tekton_corpus) is stored by the real ``tekton.dev/v1``
  schema exactly as written (status replaced the way Tekton's reconcilers do): nothing Tekton
  writes is pruned or rejected;
- the simulator's driver, watching a namespace, takes each scenario's PipelineRun to the end
  Tekton would (the same features as the corpus document), with the TaskRuns created, owned
  (Tekton's controller ownerReference, so the garbage collector removes them with their
  PipelineRun) and labelled, the status written through the ``status`` subresource, a stop
  request (``spec.status: Cancelled``) honoured while running, ``SIM_DURATION`` keeping a run
  running, an unknown scenario refused, a re-created PipelineRun simulated afresh without
  touching the leftovers of the earlier one;
- it survives what the controller's tests rehearse (tests/integration/test_tekton_sim_survival.py).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
import pytest_asyncio
from kubernetes_asyncio.client import (
    ApiClient,
    CoreV1Api,
    CustomObjectsApi,
    V1DeleteOptions,
    V1Namespace,
    V1ObjectMeta,
)
from kubernetes_asyncio.client.exceptions import ApiException

from corpus import SIMULATOR_BEHIND, Json, features, load, names, request
from wfe.dev.tekton_scenarios import (
    DURATION_ANNOTATION,
    DURATION_PARAMETER,
    SCENARIO_ANNOTATION,
    SCENARIO_PARAMETER,
    Scenario,
    simulate,
)
from wfe.dev.tekton_sim import MERGE_PATCH, SimSettings, TektonSimulator

GROUP, VERSION = "tekton.dev", "v1"
Eventually = Callable[..., Awaitable[Any]]

# scenario -> (corpus document, duration annotation, spec.timeouts.pipeline)
SCENARIOS: dict[Scenario, tuple[str, str, str]] = {
    Scenario.SUCCESS: ("succeeded", "3", "1h0m0s"),
    Scenario.SECOND_TASK_FAILED: ("second_task_failed", "3", "1h0m0s"),
    Scenario.STEP_OOMKILLED: ("step_oomkilled", "3", "1h0m0s"),
    Scenario.TASK_FAILED_EXIT_CODE: ("task_failed_exit_code", "3", "1h0m0s"),
    Scenario.TRICKY_WORDS: ("tricky_words", "3", "1h0m0s"),
    Scenario.TASKRUN_TIMEOUT: ("taskrun_timeout", "3", "1h0m0s"),
    Scenario.FORBIDDEN: ("forbidden", "3", "1h0m0s"),
    Scenario.IMAGE_PULL_BACKOFF: ("image_pull_backoff", "3", "1h0m0s"),
    Scenario.ERR_IMAGE_PULL: ("err_image_pull", "3", "6s"),
    Scenario.EXCEEDED_QUOTA: ("exceeded_quota", "3", "6s"),
    Scenario.INVALID_PARAM: ("invalid_param", "3", "1h0m0s"),
    Scenario.INVALID_PARAM_VALUE: ("invalid_param_value", "3", "1h0m0s"),
    Scenario.RESOLUTION_FAILED: ("resolution_failed", "3", "1h0m0s"),
    Scenario.PIPELINERUN_TIMEOUT: ("pipelinerun_timeout", "3", "6s"),
    Scenario.CANCELLED: ("cancelled", "10", "1h0m0s"),  # cancelled during its first task
    Scenario.STEP_TIMEOUT: ("step_timeout", "3", "1h0m0s"),
    Scenario.EXCEEDED_NODE_RESOURCES: ("exceeded_node_resources", "3", "1h0m0s"),
    Scenario.UNSCHEDULABLE: ("unschedulable", "3", "6s"),
    Scenario.MISSING_SERVICE_ACCOUNT: ("missing_service_account", "3", "1h0m0s"),
    Scenario.PIPELINERUN_TIMEOUT_PULL_PENDING: ("pipelinerun_timeout_pull_pending", "3", "6s"),
    Scenario.CREATE_CONTAINER_CONFIG_ERROR: ("create_container_config_error", "3", "1h0m0s"),
}


def _clean(obj: Json, namespace: str) -> Json:
    """A corpus object as a client creates it: no server-set metadata, in ``namespace``."""
    body = copy.deepcopy(obj)
    body.pop("status", None)
    meta = body["metadata"]
    for key in ("uid", "resourceVersion", "generation", "creationTimestamp"):
        meta.pop(key, None)
    meta["namespace"] = namespace
    return body


async def _task_runs(api: CustomObjectsApi, namespace: str, pipeline_run: str) -> list[Json]:
    listing = await api.list_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "taskruns",
        label_selector=f"tekton.dev/pipelineRun={pipeline_run}",
    )
    order = {"apply": 0, "verify": 1}
    items: list[Json] = listing["items"]
    return sorted(items, key=lambda t: order[t["metadata"]["labels"]["tekton.dev/pipelineTask"]])


async def _replace_status(api: CustomObjectsApi, plural: str, obj: Json, status: Json) -> Json:
    """PUT the status subresource, as Tekton's reconcilers do (a merge patch drops nulls)."""
    meta = obj["metadata"]
    stored: Json = await api.replace_namespaced_custom_object_status(
        GROUP, VERSION, meta["namespace"], plural, meta["name"], {**obj, "status": status}
    )
    return stored


@pytest.mark.parametrize("document", names())
async def test_corpus_is_stored_unpruned_by_the_real_tekton_schema(
    api_client: ApiClient, namespace: str, document: str
) -> None:
    api = CustomObjectsApi(api_client)
    doc = load(document)
    pr = await api.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "pipelineruns", _clean(doc["pipelineRun"], namespace)
    )
    status = doc["pipelineRun"]["status"]
    stored = await _replace_status(api, "pipelineruns", pr, status)
    assert stored["status"] == status
    for task_run in doc["taskRuns"]:
        body = _clean(task_run, namespace)
        body["metadata"]["ownerReferences"][0]["uid"] = pr["metadata"]["uid"]
        created = await api.create_namespaced_custom_object(
            GROUP, VERSION, namespace, "taskruns", body
        )
        assert created["spec"] == task_run["spec"]
        stored = await _replace_status(api, "taskruns", created, task_run["status"])
        assert stored["status"] == task_run["status"]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def simulated(api_client: ApiClient) -> AsyncIterator[tuple[str, dict[Scenario, Json]]]:
    """Every scenario's PipelineRun, run to its end by one simulator in one namespace."""
    namespace = f"t-tekton-sim-{datetime.now().strftime('%H%M%S%f')}"
    await CoreV1Api(api_client).create_namespace(
        V1Namespace(metadata=V1ObjectMeta(name=namespace, labels={"wfe.test/namespace": "true"}))
    )
    api = CustomObjectsApi(api_client)
    settings = SimSettings(max_wait=0.2, retry_delay=0.2)
    simulator = asyncio.create_task(TektonSimulator(api_client, namespace, settings).run())
    created: dict[Scenario, Json] = {}
    try:
        for scenario, (document, duration, timeout) in SCENARIOS.items():
            body = _clean(request(load(document)), namespace)
            body["metadata"]["labels"].pop("tekton.dev/pipeline")  # Tekton adds it
            body["metadata"]["annotations"][SCENARIO_ANNOTATION] = scenario.value
            body["metadata"]["annotations"][DURATION_ANNOTATION] = duration
            body["spec"]["timeouts"] = {"pipeline": timeout}
            body["spec"].pop("status", None)
            created[scenario] = await api.create_namespaced_custom_object(
                GROUP, VERSION, namespace, "pipelineruns", body
            )
        await _cancel_during_first_task(api, namespace, created[Scenario.CANCELLED])
        finished = await _wait_all_finished(api, namespace, list(created), timeout=60.0)
        yield namespace, finished
    finally:
        simulator.cancel()
        with pytest.raises(asyncio.CancelledError):
            await simulator


async def _cancel_during_first_task(api: CustomObjectsApi, namespace: str, pr: Json) -> None:
    name = pr["metadata"]["name"]
    for _ in range(200):
        runs = await _task_runs(api, namespace, name)
        if runs:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"no TaskRun of {name} after 10 s")
    await api.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "pipelineruns", name, {"spec": {"status": "Cancelled"}},
        _content_type=MERGE_PATCH,
    )  # fmt: skip


async def _wait_all_finished(
    api: CustomObjectsApi, namespace: str, scenarios: list[Scenario], *, timeout: float
) -> dict[Scenario, Json]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        listing = await api.list_namespaced_custom_object(GROUP, VERSION, namespace, "pipelineruns")
        by_scenario = {
            Scenario(p["metadata"]["annotations"][SCENARIO_ANNOTATION]): p for p in listing["items"]
        }
        pending = [
            s
            for s in scenarios
            if _condition(by_scenario.get(s, {})).get("status") not in ("True", "False")
        ]
        if not pending:
            return by_scenario
        if loop.time() > deadline:
            raise AssertionError(f"not finished after {timeout:g} s: {[s.value for s in pending]}")
        await asyncio.sleep(0.25)


def _condition(pipeline_run: Json) -> Json:
    conditions = (pipeline_run.get("status") or {}).get("conditions") or [{}]
    first: Json = conditions[0]
    return first


def _compared(scenario: Scenario) -> object:
    """The scenario as a test parameter, expected to differ where the corpus moved ahead."""
    behind = SIMULATOR_BEHIND.get(SCENARIOS[scenario][0])
    if behind is None:
        return scenario
    return pytest.param(scenario, marks=pytest.mark.xfail(strict=True, reason=behind))


@pytest.mark.parametrize("scenario", [_compared(s) for s in SCENARIOS], ids=lambda s: s.value)
async def test_simulator_ends_each_scenario_as_tekton_does(
    api_client: ApiClient, simulated: tuple[str, dict[Scenario, Json]], scenario: Scenario
) -> None:
    namespace, finished = simulated
    api = CustomObjectsApi(api_client)
    pr = finished[scenario]
    task_runs = await _task_runs(api, namespace, pr["metadata"]["name"])
    doc = load(SCENARIOS[scenario][0])
    assert features(pr, task_runs) == features(doc["pipelineRun"], doc["taskRuns"])
    assert pr["metadata"]["labels"]["tekton.dev/pipeline"] == "workflow"
    for task_run in task_runs:
        # kmeta.NewControllerRef(pr), as pipelinerun.go createTaskRun sets it.
        assert task_run["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "tekton.dev/v1",
                "kind": "PipelineRun",
                "name": pr["metadata"]["name"],
                "uid": pr["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert task_run["metadata"]["labels"]["tekton.dev/pipelineRunUID"] == pr["metadata"]["uid"]


@pytest.mark.parametrize(
    "scenario", [s for s in SCENARIOS if s is not Scenario.CANCELLED], ids=lambda s: s.value
)
async def test_nothing_the_simulator_writes_is_pruned(
    api_client: ApiClient, simulated: tuple[str, dict[Scenario, Json]], scenario: Scenario
) -> None:
    """The stored objects equal what :func:`simulate` computes for the stored start time."""
    namespace, finished = simulated
    api = CustomObjectsApi(api_client)
    pr = finished[scenario]
    start = datetime.fromisoformat(pr["status"]["startTime"].replace("Z", "+00:00"))
    expected = simulate(
        {**pr, "status": {}},
        scenario=scenario,
        start=start,
        elapsed=3600.0 * 24,
        duration=float(SCENARIOS[scenario][1]),
    )
    assert pr["status"] == expected.status
    stored = await _task_runs(api, namespace, pr["metadata"]["name"])
    assert len(stored) == len(expected.task_runs)
    for got, want in zip(stored, expected.task_runs, strict=True):
        assert got["status"] == want["status"]
        assert got["spec"] == want["spec"]
        assert want["metadata"]["labels"].items() <= got["metadata"]["labels"].items()
        assert got["metadata"]["annotations"] == want["metadata"]["annotations"]


@pytest.mark.parametrize(
    ("param", "value"), [(SCENARIO_PARAMETER, "no-such-scenario"), (DURATION_PARAMETER, "soon")]
)
async def test_an_unknown_scenario_or_duration_is_refused_visibly(
    api_client: ApiClient, namespace: str, eventually: Eventually, param: str, value: str
) -> None:
    api = CustomObjectsApi(api_client)
    body = _clean(request(load("succeeded")), namespace)
    body["spec"]["params"].append({"name": param, "value": value})
    await api.create_namespaced_custom_object(GROUP, VERSION, namespace, "pipelineruns", body)
    simulator = asyncio.create_task(
        TektonSimulator(api_client, namespace, SimSettings(max_wait=0.2)).run()
    )
    try:

        async def refused() -> bool:
            pr = await api.get_namespaced_custom_object(
                GROUP, VERSION, namespace, "pipelineruns", body["metadata"]["name"]
            )
            cond = _condition(pr)
            assert cond.get("reason") == "PipelineValidationFailed", cond
            assert param in cond["message"] or value in cond["message"]
            return True

        await eventually(refused, timeout=15)
    finally:
        simulator.cancel()
        with pytest.raises(asyncio.CancelledError):
            await simulator


HOLD = "wfe.test/hold"  # the test's own finalizer: keeps a deleted TaskRun around


async def _get(api: CustomObjectsApi, namespace: str, plural: str, name: str) -> Json | None:
    try:
        found: Json = await api.get_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, name
        )
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return found


async def _reason(api: CustomObjectsApi, namespace: str, name: str) -> str | None:
    pr = await _get(api, namespace, "pipelineruns", name)
    return None if pr is None else _condition(pr).get("reason")


@pytest_asyncio.fixture(loop_scope="session")
async def simulator(api_client: ApiClient, namespace: str) -> AsyncIterator[TektonSimulator]:
    """A simulator running for this test's namespace (1 s runs unless a run says otherwise)."""
    sim = TektonSimulator(
        api_client, namespace, SimSettings(default_duration=1.0, max_wait=0.2, retry_delay=0.2)
    )
    task = asyncio.create_task(sim.run())
    yield sim
    assert not task.done(), "the simulator ended on its own"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_recreated_pipelinerun_is_a_new_run_and_leaves_the_old_taskruns_alone(
    api_client: ApiClient, namespace: str, simulator: TektonSimulator, eventually: Eventually
) -> None:
    """The lock PipelineRun is deleted and re-created under its name: simulate it afresh.

    The first run's TaskRuns are held by a finalizer of the test's after their PipelineRun is
    deleted, so the second run finds their names taken: it must neither write to them nor
    take them for its own, and must carry on with TaskRuns of its own once they are gone.
    """
    api = CustomObjectsApi(api_client)
    body = _clean(request(load("succeeded")), namespace)
    name = body["metadata"]["name"]

    first = await api.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "pipelineruns", copy.deepcopy(body)
    )
    await eventually(lambda: _is(api, namespace, name, "Succeeded"), 30)
    leftovers = await _task_runs(api, namespace, name)
    assert len(leftovers) == 2
    for task_run in leftovers:
        await api.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, "taskruns", task_run["metadata"]["name"],
            {"metadata": {"finalizers": [HOLD]}}, _content_type=MERGE_PATCH,
        )  # fmt: skip
    await api.delete_namespaced_custom_object(GROUP, VERSION, namespace, "pipelineruns", name)

    second = await api.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "pipelineruns", copy.deepcopy(body)
    )
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    await eventually(
        lambda: "earlier PipelineRun" in simulator.held.get(name, ""),
        30,
        message="the simulator waits for the earlier run's TaskRun",
    )
    for task_run in leftovers:  # untouched: still the first run's
        current = await _get(api, namespace, "taskruns", task_run["metadata"]["name"])
        assert current is not None
        assert current["metadata"]["ownerReferences"][0]["uid"] == first["metadata"]["uid"]
        assert current["status"] == task_run["status"]
    assert await _reason(api, namespace, name) != "Succeeded"

    for task_run in leftovers:  # let the garbage collector finish
        await api.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, "taskruns", task_run["metadata"]["name"],
            {"metadata": {"finalizers": None}}, _content_type=MERGE_PATCH,
        )  # fmt: skip
    await eventually(lambda: _is(api, namespace, name, "Succeeded"), 60)
    own = await _task_runs(api, namespace, name)
    assert len(own) == 2
    assert {t["metadata"]["ownerReferences"][0]["uid"] for t in own} == {second["metadata"]["uid"]}


async def _is(api: CustomObjectsApi, namespace: str, name: str, reason: str) -> bool:
    got = await _reason(api, namespace, name)
    assert got == reason, got
    return True


async def test_its_taskruns_are_collected_with_their_pipelinerun(
    api_client: ApiClient, namespace: str, simulator: TektonSimulator, eventually: Eventually
) -> None:
    """The garbage collector follows the simulator's ownerReferences, as it does Tekton's."""
    api = CustomObjectsApi(api_client)
    body = _clean(request(load("succeeded")), namespace)
    name = body["metadata"]["name"]
    await api.create_namespaced_custom_object(GROUP, VERSION, namespace, "pipelineruns", body)
    await eventually(lambda: _is(api, namespace, name, "Succeeded"), 30)
    assert len(await _task_runs(api, namespace, name)) == 2

    await api.delete_namespaced_custom_object(
        GROUP, VERSION, namespace, "pipelineruns", name,
        body=V1DeleteOptions(propagation_policy="Background"),
    )  # fmt: skip

    async def collected() -> bool:
        remaining = await _task_runs(api, namespace, name)
        assert not remaining, [t["metadata"]["name"] for t in remaining]
        return True

    await eventually(collected, 60, message="the garbage collector removes the TaskRuns")


async def test_sim_duration_keeps_a_run_running_until_it_is_cancelled(
    api_client: ApiClient, namespace: str, simulator: TektonSimulator, eventually: Eventually
) -> None:
    """``SIM_DURATION: 1h`` on a run that would succeed in 1 s: a stuck run to cancel."""
    api = CustomObjectsApi(api_client)
    body = _clean(request(load("succeeded")), namespace)
    body["spec"]["params"].append({"name": DURATION_PARAMETER, "value": "1h"})
    name = body["metadata"]["name"]
    await api.create_namespaced_custom_object(GROUP, VERSION, namespace, "pipelineruns", body)

    async def first_step_runs() -> bool:
        runs = await _task_runs(api, namespace, name)
        steps = [s for r in runs for s in (r.get("status") or {}).get("steps") or []]
        return any("running" in step for step in steps)

    await eventually(first_step_runs, 30, message="the first task runs")
    assert await _reason(api, namespace, name) == "Running"
    await api.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "pipelineruns", name, {"spec": {"status": "Cancelled"}},
        _content_type=MERGE_PATCH,
    )  # fmt: skip
    await eventually(lambda: _is(api, namespace, name, "Cancelled"), 30)
    (task_run,) = await _task_runs(api, namespace, name)
    assert _condition(task_run)["reason"] == "TaskRunCancelled"
