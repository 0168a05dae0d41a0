"""The Tekton simulator's driver: what it writes, how, and when (fast, against a fake API).

The real API server is in tests/integration/test_tekton_sim.py; here the calls themselves are
checked: merge-patch content type on every write, TaskRuns created before the PipelineRun
status names them, nothing rewritten when nothing changed, a stop request timed when first
seen, finished runs forgotten, ``409`` on create tolerated, ``410`` answered by a re-list.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.client.exceptions import ApiException

from corpus import Json, load, request
from wfe.dev.tekton_scenarios import DURATION_ANNOTATION, SCENARIO_ANNOTATION
from wfe.dev.tekton_shapes import TASKRUN_CANCELLED_BY_PIPELINE
from wfe.dev.tekton_sim import MERGE_PATCH, SimSettings, TektonSimulator, main

START = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeCustomObjects:
    """Records the calls the simulator makes, answers like an API server would."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, Any, dict[str, Any]]] = []
        self.conflict_on_create = False

    async def create_namespaced_custom_object(
        self, group: str, version: str, ns: str, plural: str, body: Json, **kw: Any
    ) -> Json:
        self.calls.append(("create", plural, body["metadata"]["name"], body, kw))
        if self.conflict_on_create:
            raise ApiException(status=409, reason="AlreadyExists")
        return body

    async def patch_namespaced_custom_object(
        self, group: str, version: str, ns: str, plural: str, name: str, body: Json, **kw: Any
    ) -> Json:
        self.calls.append(("patch", plural, name, body, kw))
        return body

    async def patch_namespaced_custom_object_status(
        self, group: str, version: str, ns: str, plural: str, name: str, body: Json, **kw: Any
    ) -> Json:
        self.calls.append(("patch_status", plural, name, body, kw))
        return body

    def take(self) -> list[tuple[str, str, str, Any, dict[str, Any]]]:
        calls, self.calls = self.calls, []
        return calls


@pytest.fixture
async def client() -> AsyncIterator[ApiClient]:
    """An ApiClient the simulator is built with (its calls go to the fake, not to it)."""
    async with ApiClient() as api_client:
        yield api_client


def make(
    client: ApiClient, duration: str = "10", scenario: str = "success"
) -> tuple[TektonSimulator, FakeCustomObjects, FakeClock, Json]:
    clock = FakeClock()
    simulator = TektonSimulator(
        client, "kubernaut-workflows", SimSettings(max_wait=5.0), clock=clock
    )
    fake = FakeCustomObjects()
    simulator._api = fake  # type: ignore[assignment]
    pr = request(load("succeeded"))
    pr["metadata"]["labels"].pop("tekton.dev/pipeline")
    pr["metadata"]["annotations"][SCENARIO_ANNOTATION] = scenario
    pr["metadata"]["annotations"][DURATION_ANNOTATION] = duration
    return simulator, fake, clock, pr


async def test_writes_taskruns_then_status_with_merge_patches(client: ApiClient) -> None:
    simulator, fake, clock, pr = make(client)
    simulator._observe("ADDED", pr)
    await simulator.advance()  # resolving: label + status only
    calls = fake.take()
    assert [(c[0], c[1]) for c in calls] == [
        ("patch", "pipelineruns"),
        ("patch_status", "pipelineruns"),
    ]
    assert calls[0][3] == {"metadata": {"labels": {"tekton.dev/pipeline": "workflow"}}}
    assert all(c[4]["_content_type"] == MERGE_PATCH for c in calls)
    assert calls[1][3]["status"]["startTime"] == "2026-03-02T09:00:00Z"

    clock.advance(2)
    await simulator.advance()  # apply running
    calls = fake.take()
    assert [(c[0], c[1]) for c in calls] == [
        ("create", "taskruns"),
        ("patch_status", "taskruns"),
        ("patch_status", "pipelineruns"),
    ]
    created = calls[0][3]
    assert set(created["metadata"]) == {"name", "labels", "annotations", "ownerReferences"}
    assert "status" not in created
    assert calls[2][3]["status"]["childReferences"][0]["name"] == created["metadata"]["name"]

    await simulator.advance()  # nothing changed: nothing written
    assert fake.take() == []

    clock.advance(60)
    await simulator.advance()  # finished
    calls = fake.take()
    assert calls[-1][3]["status"]["conditions"][0]["reason"] == "Succeeded"
    assert simulator._runs == {}
    simulator._observe("MODIFIED", pr)  # a stale event about a finished run
    await simulator.advance()
    assert fake.take() == []


async def test_waits_until_the_next_simulated_event(client: ApiClient) -> None:
    simulator, _, clock, pr = make(client, duration="10")
    simulator._observe("ADDED", pr)
    assert await simulator.advance() == pytest.approx(1.0)  # resolved at a tenth of 10 s
    clock.advance(1.0)
    assert await simulator.advance() == pytest.approx(4.5)  # apply ends at 5.5 s


async def test_stop_request_is_timed_when_first_seen(client: ApiClient) -> None:
    simulator, fake, clock, pr = make(client)
    simulator._observe("ADDED", pr)
    clock.advance(3)
    await simulator.advance()
    cancelled = copy.deepcopy(pr)
    cancelled["spec"]["status"] = "Cancelled"
    simulator._observe("MODIFIED", cancelled)
    clock.advance(4)
    simulator._observe("MODIFIED", cancelled)  # seen again later: the first sighting counts
    fake.take()
    await simulator.advance()
    calls = fake.take()
    spec_patch = next(c for c in calls if c[0] == "patch" and c[1] == "taskruns")
    assert spec_patch[3] == {
        "spec": {"status": "TaskRunCancelled", "statusMessage": TASKRUN_CANCELLED_BY_PIPELINE}
    }
    status = calls[-1][3]["status"]
    assert status["conditions"][0]["reason"] == "Cancelled"
    assert status["completionTime"] == "2026-03-02T09:00:03Z"


async def test_existing_taskruns_are_patched_not_recreated(client: ApiClient) -> None:
    simulator, fake, clock, pr = make(client)
    fake.conflict_on_create = True
    simulator._observe("ADDED", pr)
    clock.advance(2)
    await simulator.advance()
    kinds = [(c[0], c[1]) for c in fake.take()]
    assert ("patch_status", "taskruns") in kinds


async def test_a_run_in_progress_resumes_from_its_start_time(client: ApiClient) -> None:
    simulator, fake, _, pr = make(client)
    pr["status"] = {"startTime": "2026-03-02T08:59:00Z"}  # an earlier simulator started it
    simulator._observe("ADDED", pr)
    await simulator.advance()
    assert fake.take()[-1][3]["status"]["conditions"][0]["reason"] == "Succeeded"


async def test_unknown_scenario_fails_the_run_visibly(client: ApiClient) -> None:
    simulator, fake, _, pr = make(client, scenario="no-such-scenario")
    simulator._observe("ADDED", pr)
    await simulator.advance()
    (call,) = fake.take()
    cond = call[3]["status"]["conditions"][0]
    assert (cond["status"], cond["reason"]) == ("False", "PipelineValidationFailed")
    assert "no-such-scenario" in cond["message"]


async def test_gone_relists_at_once_and_errors_retry_after_a_delay(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator, _, _, _ = make(client)
    events: list[str] = []

    async def fake_list() -> str:
        events.append("list")
        if len(events) > 4:
            raise asyncio.CancelledError
        return "1"

    failures = iter([ApiException(status=410), ApiException(status=500)])

    async def fake_watch(version: str) -> None:
        events.append("watch")
        raise next(failures)

    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr(simulator, "_list", fake_list)
    monkeypatch.setattr(simulator, "_watch", fake_watch)
    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    with pytest.raises(asyncio.CancelledError):
        await simulator._watch_forever()
    assert events == ["list", "watch", "list", "watch", "list"]
    assert sleeps == [1.0]  # only after the 500, not after the 410


def test_command_line_rejects_a_bad_target_mapping(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--kubeconfig", "kc", "--scenario-for", "payment/Deployment/x=explode"])
    assert exit_info.value.code == 2
    assert "explode" in capsys.readouterr().err


async def test_a_pending_run_starts_when_released(client: ApiClient) -> None:
    simulator, fake, clock, pr = make(client)
    pending = copy.deepcopy(pr)
    pending["spec"]["status"] = "PipelineRunPending"
    simulator._observe("ADDED", pending)
    await simulator.advance()
    assert fake.take()[-1][3]["status"]["conditions"][0]["reason"] == "PipelineRunPending"
    clock.advance(30)
    simulator._observe("MODIFIED", pr)  # released
    await simulator.advance()
    calls = fake.take()
    status = calls[-1][3]["status"]
    assert status["startTime"] == "2026-03-02T09:00:30Z"
    assert status["conditions"][0]["reason"] == "ResolvingPipelineRef"
    assert ("patch", "pipelineruns") in [(c[0], c[1]) for c in calls]  # the pipeline label
