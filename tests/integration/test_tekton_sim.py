"""The Tekton simulator against the real API server and Tekton's real CRDs (TESTENV.md).

Two things are proven here:

- every corpus document (tests/core/tekton_corpus) is stored by the real ``tekton.dev/v1``
  schema exactly as written (status replaced the way Tekton's reconcilers do): nothing Tekton
  writes is pruned or rejected;
- the simulator's driver, watching a namespace, takes each scenario's PipelineRun to the end
  Tekton would (the same features as the corpus document), with the TaskRuns created, owned
  and labelled, the status written through the ``status`` subresource, a stop request
  (``spec.status: Cancelled``) honoured while running and an unknown scenario refused.
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
    V1Namespace,
    V1ObjectMeta,
)

from corpus import SIMULATOR_BEHIND, Json, features, load, names, request
from wfe.dev.tekton_scenarios import DURATION_ANNOTATION, SCENARIO_ANNOTATION, Scenario, simulate
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
        owner = task_run["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["uid"]) == ("PipelineRun", pr["metadata"]["uid"])
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


async def test_unknown_scenario_is_refused_visibly(
    api_client: ApiClient, namespace: str, eventually: Eventually
) -> None:
    api = CustomObjectsApi(api_client)
    body = _clean(request(load("succeeded")), namespace)
    body["metadata"]["annotations"][SCENARIO_ANNOTATION] = "no-such-scenario"
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
            assert "no-such-scenario" in cond["message"]
            return True

        await eventually(refused, timeout=15)
    finally:
        simulator.cancel()
        with pytest.raises(asyncio.CancelledError):
            await simulator


async def test_a_recreated_pipelinerun_is_a_new_run(
    api_client: ApiClient, namespace: str, eventually: Eventually
) -> None:
    """The lock PipelineRun is deleted and re-created under its name: simulate it afresh."""
    api = CustomObjectsApi(api_client)
    body = _clean(request(load("succeeded")), namespace)
    body["metadata"]["annotations"][DURATION_ANNOTATION] = "1"
    name = body["metadata"]["name"]
    simulator = asyncio.create_task(
        TektonSimulator(api_client, namespace, SimSettings(max_wait=0.2)).run()
    )
    try:
        for _ in range(2):
            await api.create_namespaced_custom_object(
                GROUP, VERSION, namespace, "pipelineruns", copy.deepcopy(body)
            )

            async def succeeded() -> bool:
                pr = await api.get_namespaced_custom_object(
                    GROUP, VERSION, namespace, "pipelineruns", name
                )
                assert _condition(pr).get("reason") == "Succeeded", _condition(pr)
                return True

            await eventually(succeeded, timeout=15)
            await api.delete_namespaced_custom_object(
                GROUP, VERSION, namespace, "pipelineruns", name
            )
            # No garbage collector here: delete the owned TaskRuns as it would.
            for task_run in await _task_runs(api, namespace, name):
                await api.delete_namespaced_custom_object(
                    GROUP, VERSION, namespace, "taskruns", task_run["metadata"]["name"]
                )
    finally:
        simulator.cancel()
        with pytest.raises(asyncio.CancelledError):
            await simulator
