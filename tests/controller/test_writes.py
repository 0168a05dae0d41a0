"""The reconciler's guarded writes: finalizer and status, resourceVersion-guarded, continuing
from what the API server returned (and remembered for the lagging cache)."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import Action, FakeClient

from wfe.api.enums import Phase
from wfe.api.models import WorkflowExecutionStatus
from wfe.controller.errors import Retry, Terminal
from wfe.controller.resources import FINALIZER, WORKFLOW_EXECUTIONS
from wfe.controller.writes import Writer
from wfe.kube import errors
from wfe.kube.client import KubeObject

from builders import NOW, record

KEY = "default/a"
OTHER = "someone-else/cleanup"
RUNNING = record("a", Phase.RUNNING, started=NOW).status
SKIPPED = record("a", Phase.SKIPPED).status


def stored(
    client: FakeClient, *, finalizers: list[str] | None = None, status: Any = None
) -> KubeObject:
    obj: KubeObject = {"metadata": {"name": "a", "namespace": "default"}, "spec": {}}
    if finalizers is not None:
        obj["metadata"]["finalizers"] = finalizers
    if status is not None:
        obj["status"] = status.to_wire()
    return client.put(WORKFLOW_EXECUTIONS, obj)


def current(client: FakeClient) -> KubeObject:
    obj = client.stored(WORKFLOW_EXECUTIONS, "default", "a")
    assert obj is not None
    return obj


def verbs(client: FakeClient) -> list[str]:
    return [a.verb for a in client.actions]


async def test_the_finalizer_is_added_after_the_others_guarded_by_the_resource_version() -> None:
    client = FakeClient()
    obj = stored(client, finalizers=[OTHER])
    rv = obj["metadata"]["resourceVersion"]
    writer = Writer(client)
    await writer.ensure_finalizer(obj)
    (patch,) = client.actions
    assert patch.body == {"metadata": {"finalizers": [OTHER, FINALIZER], "resourceVersion": rv}}
    assert obj["metadata"]["finalizers"] == [OTHER, FINALIZER]  # continued from the response
    assert obj["metadata"]["resourceVersion"] != rv
    await writer.ensure_finalizer(obj)
    assert len(client.actions) == 1  # there already: no write


async def test_the_finalizer_drop_keeps_the_others() -> None:
    client = FakeClient()
    obj = stored(client, finalizers=[FINALIZER, OTHER])
    writer = Writer(client)
    await writer.drop_finalizer(obj)
    assert client.actions[0].body["metadata"]["finalizers"] == [OTHER]
    await writer.drop_finalizer(obj)
    assert len(client.actions) == 1  # absent: no write


@pytest.mark.parametrize(
    "method", [pytest.param("ensure", id="ensure"), pytest.param("drop", id="drop")]
)
async def test_a_finalizer_write_on_a_stale_read_retries(method: str) -> None:
    client = FakeClient()
    obj = stored(client, finalizers=[] if method == "ensure" else [FINALIZER])
    client.put(WORKFLOW_EXECUTIONS, {**obj, "spec": {"changed": True}})  # someone else wrote
    writer = Writer(client)
    write = writer.ensure_finalizer if method == "ensure" else writer.drop_finalizer
    with pytest.raises(Retry):
        await write(obj)
    assert client.actions[0].error is None  # the fake server itself refused: no injection
    after = client.stored(WORKFLOW_EXECUTIONS, "default", "a")
    assert after is not None
    assert after["metadata"]["finalizers"] == obj["metadata"]["finalizers"]  # unchanged


async def test_dropping_the_finalizer_of_an_object_gone_meanwhile_is_done() -> None:
    client = FakeClient()
    obj = stored(client, finalizers=[FINALIZER])
    client.remove(WORKFLOW_EXECUTIONS, "default", "a")
    await Writer(client).drop_finalizer(obj)
    assert verbs(client) == ["patch"]


async def test_a_status_write_sends_the_difference_and_nothing_when_there_is_none() -> None:
    client = FakeClient()
    obj = stored(client)
    rv = obj["metadata"]["resourceVersion"]
    writer = Writer(client)
    await writer.status(obj, WorkflowExecutionStatus(), RUNNING)
    (patch,) = client.actions
    assert patch.verb == "patch_status"
    assert patch.body == {"metadata": {"resourceVersion": rv}, "status": RUNNING.to_wire()}
    assert obj["status"] == RUNNING.to_wire()
    await writer.status(obj, RUNNING, RUNNING)
    assert len(client.actions) == 1


async def test_the_written_object_stands_in_for_the_version_the_cache_still_shows() -> None:
    client = FakeClient()
    obj = stored(client)
    cached = dict(obj)
    writer = Writer(client)
    await writer.status(obj, WorkflowExecutionStatus(), RUNNING)
    newest = writer.newest(KEY, cached)
    assert newest is not None
    assert newest["status"] == RUNNING.to_wire()
    fresh = client.stored(WORKFLOW_EXECUTIONS, "default", "a")
    assert writer.newest(KEY, fresh) is fresh  # the cache caught up


async def test_a_status_write_on_a_stale_read_retries_the_key() -> None:
    client = FakeClient()
    obj = stored(client)
    client.put(WORKFLOW_EXECUTIONS, {**obj, "spec": {"changed": True}})
    with pytest.raises(Retry):
        await Writer(client).status(obj, WorkflowExecutionStatus(), SKIPPED)
    assert verbs(client) == ["patch_status"]  # one attempt only


def _conflict() -> errors.Conflict:
    return errors.Conflict("the object has been modified", status=409, reason="Conflict")


async def test_retry_if_unchanged_rereads_and_writes_again_while_the_phase_stands() -> None:
    client = FakeClient()
    obj = stored(client)
    client.put(WORKFLOW_EXECUTIONS, {**obj, "metadata": {**obj["metadata"], "labels": {"x": "y"}}})
    fresh_rv = current(client)["metadata"]["resourceVersion"]
    await Writer(client).status(obj, WorkflowExecutionStatus(), RUNNING, retry_if_unchanged=True)
    assert verbs(client) == ["patch_status", "get", "patch_status"]
    assert client.actions[2].body["metadata"]["resourceVersion"] == fresh_rv
    final = current(client)
    assert final["status"] == RUNNING.to_wire()
    assert final["metadata"]["labels"] == {"x": "y"}  # the foreign change is kept


async def test_retry_if_unchanged_stops_when_the_phase_moved() -> None:
    client = FakeClient()
    obj = stored(client)
    client.put(WORKFLOW_EXECUTIONS, {**obj, "status": SKIPPED.to_wire()})
    with pytest.raises(Retry, match="moved on"):
        await Writer(client).status(
            obj, WorkflowExecutionStatus(), RUNNING, retry_if_unchanged=True
        )
    assert verbs(client) == ["patch_status", "get"]
    assert current(client)["status"] == SKIPPED.to_wire()


async def test_retry_if_unchanged_needs_no_write_when_the_status_already_says_it() -> None:
    client = FakeClient()
    obj = stored(client, status=WorkflowExecutionStatus(phase=Phase.PENDING))
    pending = WorkflowExecutionStatus(phase=Phase.PENDING)

    def meanwhile(action: Action) -> None:
        if action.verb == "patch_status" and action.error is not None:
            current = client.stored(WORKFLOW_EXECUTIONS, "default", "a")
            assert current is not None
            current["status"] = {"phase": "Pending", "consecutiveFailures": 0}
            client.put(WORKFLOW_EXECUTIONS, current)

    client.hooks.append(meanwhile)
    client.fail("patch_status", WORKFLOW_EXECUTIONS, _conflict())
    wanted = pending.model_copy(update={"consecutive_failures": 0})
    await Writer(client).status(obj, pending, wanted, retry_if_unchanged=True)
    assert verbs(client) == ["patch_status", "get"]


async def test_retry_if_unchanged_gives_up_after_three_conflicts() -> None:
    client = FakeClient()
    obj = stored(client)
    client.fail("patch_status", WORKFLOW_EXECUTIONS, _conflict(), times=3)
    with pytest.raises(Retry, match="re-reading"):
        await Writer(client).status(
            obj, WorkflowExecutionStatus(), RUNNING, retry_if_unchanged=True
        )
    assert verbs(client) == ["patch_status", "get", "patch_status", "get", "patch_status"]


async def test_a_status_write_records_the_generation_it_was_decided_from() -> None:
    client = FakeClient()
    obj = client.put(
        WORKFLOW_EXECUTIONS,
        {"metadata": {"name": "a", "namespace": "default", "generation": 3}, "spec": {}},
    )
    writer = Writer(client)
    await writer.status(obj, WorkflowExecutionStatus(), RUNNING)
    (patch,) = client.actions
    assert patch.body["status"]["observedGeneration"] == 3
    # Once recorded, the same status needs no write.
    recorded = RUNNING.model_copy(update={"observed_generation": 3})
    await writer.status(obj, recorded, RUNNING)
    assert len(client.actions) == 1


async def test_a_status_the_schema_refuses_is_terminal_not_retried_forever() -> None:
    client = FakeClient()
    obj = stored(client)
    client.fail(
        "patch_status", WORKFLOW_EXECUTIONS, errors.Invalid("status.phase: Unsupported value")
    )
    with pytest.raises(Terminal, match="Unsupported value") as caught:
        await Writer(client).status(obj, WorkflowExecutionStatus(), RUNNING)
    assert caught.value.reason == "StatusRefused"
