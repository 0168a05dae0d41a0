"""The Tekton simulator's driver: what it writes, how, and when (fast, against a fake API).

The real API server is in tests/integration/test_tekton_sim.py; here the calls themselves are
checked: merge-patch content type on every write, TaskRuns created before the PipelineRun
status names them, nothing rewritten when nothing changed, a stop request timed when first
seen, finished runs forgotten, ``409`` on create tolerated for its own TaskRun and waited out
for an earlier PipelineRun's, ``404`` forgetting what is gone, a PipelineRun being deleted left
alone, and the list-and-watch loop: ``410`` re-lists at once, other errors after a delay, a
resource no longer served said once.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.client.exceptions import ApiException

from corpus import Json, load, request
from wfe.dev.tekton_scenarios import DURATION_ANNOTATION, SCENARIO_ANNOTATION
from wfe.dev.tekton_shapes import TASKRUN_CANCELLED_BY_PIPELINE
from wfe.dev.tekton_sim import MERGE_PATCH, SimSettings, TektonSimulator
from wfe.dev.tekton_sim_cli import main
from wfe.dev.tekton_watch import ListWatch

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
        self.existing: dict[str, Json] = {}  # TaskRuns by name: a create of one answers 409
        self.missing: set[str] = set()  # names whose patches answer 404

    async def create_namespaced_custom_object(
        self, group: str, version: str, ns: str, plural: str, body: Json, **kw: Any
    ) -> Json:
        self.calls.append(("create", plural, body["metadata"]["name"], body, kw))
        if body["metadata"]["name"] in self.existing:
            raise ApiException(status=409, reason="AlreadyExists")
        return body

    async def get_namespaced_custom_object(
        self, group: str, version: str, ns: str, plural: str, name: str, **kw: Any
    ) -> Json:
        self.calls.append(("get", plural, name, None, kw))
        return self.existing[name]

    async def patch_namespaced_custom_object(
        self, group: str, version: str, ns: str, plural: str, name: str, body: Json, **kw: Any
    ) -> Json:
        self.calls.append(("patch", plural, name, body, kw))
        if name in self.missing:
            raise ApiException(status=404, reason="NotFound")
        return body

    async def patch_namespaced_custom_object_status(
        self, group: str, version: str, ns: str, plural: str, name: str, body: Json, **kw: Any
    ) -> Json:
        self.calls.append(("patch_status", plural, name, body, kw))
        if name in self.missing:
            raise ApiException(status=404, reason="NotFound")
        return body

    def take(self) -> list[tuple[str, str, str, Any, dict[str, Any]]]:
        calls, self.calls = self.calls, []
        return calls


def kinds(calls: list[tuple[str, str, str, Any, dict[str, Any]]]) -> list[tuple[str, str]]:
    return [(c[0], c[1]) for c in calls]


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


def owned_task_run(pr: Json, uid: str) -> Json:
    name = f"{pr['metadata']['name']}-apply"
    return {"metadata": {"name": name, "ownerReferences": [{"kind": "PipelineRun", "uid": uid}]}}


async def test_its_own_existing_taskrun_is_patched_not_recreated(client: ApiClient) -> None:
    simulator, fake, clock, pr = make(client)
    task_run = owned_task_run(pr, pr["metadata"]["uid"])  # say, a restarted simulator's
    fake.existing[task_run["metadata"]["name"]] = task_run
    simulator._observe("ADDED", pr)
    clock.advance(2)
    await simulator.advance()
    assert ("patch_status", "taskruns") in kinds(fake.take())


async def test_an_earlier_pipelineruns_taskrun_is_left_alone_until_it_is_gone(
    client: ApiClient,
) -> None:
    """The lock's name is reused: the leftover TaskRun is the garbage collector's, not ours."""
    simulator, fake, clock, pr = make(client)
    leftover = owned_task_run(pr, "uid-of-an-earlier-pipelinerun")
    name = leftover["metadata"]["name"]
    fake.existing[name] = leftover
    simulator._observe("ADDED", pr)
    clock.advance(2)
    assert await simulator.advance() == 1.0  # retried after retry_delay
    calls = fake.take()
    assert kinds(calls)[-2:] == [("create", "taskruns"), ("get", "taskruns")]
    assert ("patch_status", "pipelineruns") not in kinds(calls)  # it names no TaskRun yet
    assert await simulator.advance() == 1.0
    assert kinds(fake.take()) == [("create", "taskruns"), ("get", "taskruns")]

    del fake.existing[name]  # collected
    await simulator.advance()
    calls = fake.take()
    assert kinds(calls) == [
        ("create", "taskruns"),
        ("patch_status", "taskruns"),
        ("patch_status", "pipelineruns"),
    ]
    assert calls[0][3]["metadata"]["ownerReferences"][0]["uid"] == pr["metadata"]["uid"]


async def test_a_pipelinerun_gone_under_a_write_is_forgotten(client: ApiClient) -> None:
    simulator, fake, _, pr = make(client)
    simulator._observe("ADDED", pr)
    fake.missing.add(pr["metadata"]["name"])
    await simulator.advance()
    assert simulator._runs == {}
    fake.take()
    await simulator.advance()
    assert fake.take() == []


async def test_a_taskrun_deleted_under_us_is_created_again(client: ApiClient) -> None:
    simulator, fake, clock, pr = make(client)
    simulator._observe("ADDED", pr)
    clock.advance(2)
    await simulator.advance()  # apply created and running
    fake.take()
    fake.missing.add(f"{pr['metadata']['name']}-apply")
    clock.advance(4)
    await simulator.advance()  # its status patch answers 404
    assert ("patch_status", "taskruns") in kinds(fake.take())
    fake.missing.clear()
    await simulator.advance()
    assert kinds(fake.take())[0] == ("create", "taskruns")


async def test_a_pipelinerun_being_deleted_is_left_alone(client: ApiClient) -> None:
    simulator, fake, clock, pr = make(client)
    simulator._observe("ADDED", pr)
    await simulator.advance()
    fake.take()
    deleting = copy.deepcopy(pr)
    deleting["metadata"]["deletionTimestamp"] = "2026-03-02T09:00:05Z"
    simulator._observe("MODIFIED", deleting)
    clock.advance(60)
    await simulator.advance()
    assert fake.take() == []
    simulator._observe("MODIFIED", deleting)  # still being deleted: still nothing
    await simulator.advance()
    assert fake.take() == []


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


class FakeLister:
    """A list-and-watch API whose answers are scripted, one per call."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def list_namespaced_custom_object(self, *args: Any, **kw: Any) -> Any:
        self.calls.append("watch" if kw.get("watch") else "list")
        if not self.answers:
            raise asyncio.CancelledError
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


LISTING = {"metadata": {"resourceVersion": "7"}, "items": []}


async def test_watch_loop_relists_at_once_on_gone_and_after_a_delay_on_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """410 re-lists at once; a 500, a dropped connection, a mangled event line after a delay."""
    answers: list[Any] = [
        LISTING,
        ApiException(status=410),
        LISTING,
        ApiException(status=500),
        LISTING,
        aiohttp.ServerDisconnectedError(),
        LISTING,
        Exception("Malformed JSON response"),  # what kubernetes_asyncio raises for a cut line
    ]
    api = FakeLister(answers)
    listings: list[list[Json]] = []
    loop = ListWatch(
        api,
        "ns",
        "pipelineruns",
        on_listing=listings.append,
        on_event=lambda kind, obj: None,
        on_not_served=lambda: None,
        retry_delay=1.0,
    )
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    with pytest.raises(asyncio.CancelledError):
        await loop.run()
    assert api.calls == ["list", "watch"] * 4 + ["list"]
    assert len(listings) == 4
    assert sleeps == [1.0, 1.0, 1.0]  # not after the 410


async def test_watch_loop_says_once_that_the_resource_is_not_served(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CRD deleted: one warning, the runs forgotten once, quiet polling, then back."""
    gone = ApiException(status=404, reason="NotFound")
    api = FakeLister([gone, gone, gone, LISTING])
    forgotten: list[bool] = []
    loop = ListWatch(
        api,
        "ns",
        "pipelineruns",
        on_listing=lambda items: None,
        on_event=lambda kind, obj: None,
        on_not_served=lambda: forgotten.append(True),
        retry_delay=1.0,
    )

    async def fake_sleep(seconds: float) -> None:
        pass

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    with pytest.raises(asyncio.CancelledError):
        await loop.run()
    assert forgotten == [True]
    assert loop.served
    out = capsys.readouterr().out
    assert out.count("not served") == 1
    assert out.count("served again") == 1


async def test_simulator_forgets_its_runs_when_pipelineruns_are_not_served(
    client: ApiClient,
) -> None:
    simulator, fake, _, pr = make(client)
    simulator._observe("ADDED", pr)
    simulator._forget_all()
    await simulator.advance()
    assert fake.take() == []


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
