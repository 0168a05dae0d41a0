"""The fake API server keeps the API server's rules the controller's tests rely on."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from fakes import FakeClient, SeededInformer, matches_selector

from wfe.controller.resources import PIPELINE_RUNS, TASK_RUNS, WORKFLOW_EXECUTIONS
from wfe.kube import errors
from wfe.kube.client import KubeObject
from wfe.kube.informer import Informer


def body(name: str, **meta: object) -> KubeObject:
    return {"metadata": {"name": name, **meta}, "spec": {"x": 1}, "status": {"phase": "Running"}}


async def test_create_assigns_identity_and_ignores_the_status_subresource() -> None:
    client = FakeClient()
    made = await client.create(WORKFLOW_EXECUTIONS, "ns", body("a"))
    meta = made["metadata"]
    assert (meta["namespace"], meta["uid"], meta["resourceVersion"]) == ("ns", "uid-1", "101")
    assert "status" not in made
    again = await client.create(WORKFLOW_EXECUTIONS, "ns", body("b"))
    assert int(again["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    assert again["metadata"]["uid"] != meta["uid"]


async def test_create_of_an_existing_name_or_in_a_missing_namespace_fails() -> None:
    client = FakeClient(namespaces={"ns"})
    await client.create(PIPELINE_RUNS, "ns", body("a"))
    with pytest.raises(errors.AlreadyExists):
        await client.create(PIPELINE_RUNS, "ns", body("a"))
    with pytest.raises(errors.NotFound) as missing:
        await client.create(PIPELINE_RUNS, "elsewhere", body("a"))
    assert missing.value.details["kind"] == "namespaces"


async def test_patches_are_merge_patches_guarded_by_the_resource_version() -> None:
    client = FakeClient()
    made = await client.create(WORKFLOW_EXECUTIONS, "ns", body("a"))
    rv = made["metadata"]["resourceVersion"]
    patched = await client.patch(
        WORKFLOW_EXECUTIONS,
        "ns",
        "a",
        {
            "metadata": {"resourceVersion": rv, "labels": {"k": "v"}},
            "spec": {"x": None},
            "status": {"phase": "x"},
        },
    )
    assert patched["metadata"]["labels"] == {"k": "v"}
    assert patched["spec"] == {}
    assert "status" not in patched  # the object's patch cannot write the status
    with pytest.raises(errors.Conflict):
        await client.patch_status(
            WORKFLOW_EXECUTIONS, "ns", "a", {"metadata": {"resourceVersion": rv}, "status": {}}
        )
    status = await client.patch_status(
        WORKFLOW_EXECUTIONS,
        "ns",
        "a",
        {"metadata": {"labels": {"k": "ignored"}}, "status": {"phase": "Running"}},
    )
    assert status["status"] == {"phase": "Running"}
    assert status["metadata"]["labels"] == {"k": "v"}  # a status patch writes only the status
    same = await client.patch_status(
        WORKFLOW_EXECUTIONS, "ns", "a", {"status": {"phase": "Running"}}
    )
    assert same["metadata"]["resourceVersion"] == status["metadata"]["resourceVersion"]


async def test_delete_checks_preconditions_and_waits_for_finalizers() -> None:
    client = FakeClient()
    made = await client.create(WORKFLOW_EXECUTIONS, "ns", body("a", finalizers=["f"]))
    meta = made["metadata"]
    with pytest.raises(errors.Conflict):
        await client.delete(WORKFLOW_EXECUTIONS, "ns", "a", uid="another-uid")
    with pytest.raises(errors.Conflict):
        await client.delete(WORKFLOW_EXECUTIONS, "ns", "a", resource_version="1")
    await client.delete(
        WORKFLOW_EXECUTIONS, "ns", "a", uid=meta["uid"], resource_version=meta["resourceVersion"]
    )
    terminating = client.stored(WORKFLOW_EXECUTIONS, "ns", "a")
    assert terminating is not None
    assert terminating["metadata"]["deletionTimestamp"]
    await client.patch(WORKFLOW_EXECUTIONS, "ns", "a", {"metadata": {"finalizers": []}})
    assert client.stored(WORKFLOW_EXECUTIONS, "ns", "a") is None
    with pytest.raises(errors.NotFound):
        await client.delete(WORKFLOW_EXECUTIONS, "ns", "a")


@pytest.mark.parametrize(
    ("policy", "kept"),
    [pytest.param("Background", False, id="background"), pytest.param("Orphan", True, id="orphan")],
)
async def test_dependents_go_with_their_owner_unless_orphaned(policy: str, kept: bool) -> None:
    client = FakeClient()
    owner = await client.create(PIPELINE_RUNS, "ns", body("run"))
    await client.create(
        TASK_RUNS,
        "ns",
        body("run-t", ownerReferences=[{"uid": owner["metadata"]["uid"], "name": "run"}]),
    )
    await client.delete(PIPELINE_RUNS, "ns", "run", propagation_policy=policy)
    assert (client.stored(TASK_RUNS, "ns", "run-t") is not None) is kept


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        pytest.param("a=1", True, id="equals"),
        pytest.param("a==1,b=2", True, id="double-equals-and"),
        pytest.param("a!=1", False, id="not-equals"),
        pytest.param("b", True, id="exists"),
        pytest.param("!b", False, id="not-exists"),
        pytest.param("c", False, id="missing"),
        pytest.param("", True, id="everything"),
    ],
)
def test_label_selectors(selector: str, matches: bool) -> None:
    assert matches_selector({"a": "1", "b": "2"}, selector) is matches


async def test_injected_failures_are_raised_for_the_next_calls_and_recorded() -> None:
    client = FakeClient()
    client.fail("get", PIPELINE_RUNS, errors.Unavailable("down"), times=2)
    for _ in range(2):
        with pytest.raises(errors.Unavailable):
            await client.get(PIPELINE_RUNS, "ns", "a")
    with pytest.raises(errors.NotFound):
        await client.get(PIPELINE_RUNS, "ns", "a")
    assert [a.error is not None for a in client.calls("get")] == [True, True, False]
    await client.create_event("ns", {"metadata": {"name": "e"}, "reason": "X"})
    assert client.writes["event"] == 1


async def test_the_real_informer_follows_the_fake_through_list_and_watch() -> None:
    client = FakeClient()
    client.put(PIPELINE_RUNS, body("a", namespace="ns", labels={"m": "1"}))
    informer = Informer(client, PIPELINE_RUNS, namespace="ns", label_selector="m=1")
    seen: list[tuple[str, str]] = []
    changed = asyncio.Event()

    def handler(event: str, obj: KubeObject, _old: KubeObject | None) -> None:
        seen.append((event, obj["metadata"]["name"]))
        changed.set()

    informer.add_handler(handler)
    task = asyncio.create_task(informer.run())
    try:
        async with asyncio.timeout(5):
            await informer.wait_synced()
            client.put(PIPELINE_RUNS, body("b", namespace="ns", labels={"m": "1"}))
            client.put(PIPELINE_RUNS, body("c", namespace="ns"))  # not selected
            client.remove(PIPELINE_RUNS, "ns", "a")
            while ("DELETED", "a") not in seen:
                changed.clear()
                await changed.wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert seen == [("ADDED", "a"), ("ADDED", "b"), ("DELETED", "a")]
    assert informer.keys() == ["ns/b"]


def test_a_seeded_informer_is_loaded_by_hand() -> None:
    client = FakeClient()
    client.put(PIPELINE_RUNS, body("a", namespace="ns"))
    informer = SeededInformer(client, PIPELINE_RUNS, namespace="ns")
    assert not informer.synced
    informer.load()
    assert informer.synced
    assert informer.healthy
    assert informer.get("ns", "a") is not None
    informer.forget("ns", "a")
    assert informer.get("ns", "a") is None
