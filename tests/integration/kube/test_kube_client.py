"""wfe.kube.client against the real API server: typed errors, merge patches, preconditions,
raw watches and discovery."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from kube_helpers import CONFIG_MAPS, WORKFLOW_EXECUTIONS, config_map, workflow_execution
from kubernetes_asyncio.client import ApiClient

from wfe.dev.controlplane import ControlPlane
from wfe.kube import errors
from wfe.kube.client import EVENTS, Client

MakeApiClient = Callable[[Path], Awaitable[ApiClient]]


async def test_crud_round_trip_on_a_config_map(client: Client, namespace: str) -> None:
    created = await client.create(CONFIG_MAPS, namespace, config_map("one", {"a": "1"}))
    assert created["metadata"]["uid"]

    fetched = await client.get(CONFIG_MAPS, namespace, "one")
    assert fetched["data"] == {"a": "1"}

    page = await client.list(CONFIG_MAPS, namespace)
    assert [i["metadata"]["name"] for i in page["items"]] == ["one"]
    assert page["metadata"]["resourceVersion"]

    await client.delete(CONFIG_MAPS, namespace, "one")
    with pytest.raises(errors.NotFound) as raised:
        await client.get(CONFIG_MAPS, namespace, "one")
    assert (raised.value.kind, raised.value.namespace, raised.value.name) == (
        "ConfigMap",
        namespace,
        "one",
    )
    assert client.writes == {"create": 1, "delete": 1}


async def test_create_of_an_existing_name_is_already_exists_not_conflict(
    client: Client, namespace: str
) -> None:
    await client.create(CONFIG_MAPS, namespace, config_map("taken"))

    with pytest.raises(errors.AlreadyExists) as raised:
        await client.create(CONFIG_MAPS, namespace, config_map("taken"))

    assert not isinstance(raised.value, errors.Conflict)
    assert raised.value.name == "taken"


async def test_merge_patch_on_a_custom_resource_and_its_status(
    client: Client, namespace: str
) -> None:
    await client.create(WORKFLOW_EXECUTIONS, namespace, workflow_execution("wfe-1"))

    patched = await client.patch(
        WORKFLOW_EXECUTIONS,
        namespace,
        "wfe-1",
        {"metadata": {"labels": {"team": "payments"}, "finalizers": ["example.com/x"]}},
    )
    assert patched["metadata"]["labels"] == {"team": "payments"}
    assert patched["metadata"]["finalizers"] == ["example.com/x"]
    assert patched["spec"]["targetResource"] == "payment/Deployment/api"  # merged, not replaced

    with_status = await client.patch_status(
        WORKFLOW_EXECUTIONS, namespace, "wfe-1", {"status": {"phase": "Running"}}
    )
    assert with_status["status"] == {"phase": "Running"}
    assert with_status["metadata"]["labels"] == {"team": "payments"}

    # The main resource ignores status; the status subresource ignores everything else.
    ignored = await client.patch(
        WORKFLOW_EXECUTIONS, namespace, "wfe-1", {"status": {"phase": "Failed"}}
    )
    assert ignored["status"] == {"phase": "Running"}
    assert client.writes == {"create": 1, "patch": 2, "patch_status": 1}


async def test_merge_patch_with_null_removes_a_key(client: Client, namespace: str) -> None:
    await client.create(CONFIG_MAPS, namespace, config_map("cm", {"a": "1", "b": "2"}))

    patched = await client.patch(CONFIG_MAPS, namespace, "cm", {"data": {"a": None}})

    assert patched["data"] == {"b": "2"}


async def test_status_patch_with_a_stale_resource_version_is_a_conflict(
    client: Client, namespace: str
) -> None:
    created = await client.create(WORKFLOW_EXECUTIONS, namespace, workflow_execution("wfe-2"))
    stale = created["metadata"]["resourceVersion"]
    await client.patch_status(
        WORKFLOW_EXECUTIONS, namespace, "wfe-2", {"status": {"phase": "Pending"}}
    )

    with pytest.raises(errors.Conflict):
        await client.patch_status(
            WORKFLOW_EXECUTIONS,
            namespace,
            "wfe-2",
            {"metadata": {"resourceVersion": stale}, "status": {"phase": "Running"}},
        )

    current = await client.get(WORKFLOW_EXECUTIONS, namespace, "wfe-2")
    assert current["status"]["phase"] == "Pending"
    fresh = current["metadata"]["resourceVersion"]
    done = await client.patch_status(
        WORKFLOW_EXECUTIONS,
        namespace,
        "wfe-2",
        {"metadata": {"resourceVersion": fresh}, "status": {"phase": "Running"}},
    )
    assert done["status"]["phase"] == "Running"


async def test_delete_with_a_uid_precondition_spares_a_recreated_object(
    client: Client, namespace: str
) -> None:
    first = await client.create(CONFIG_MAPS, namespace, config_map("lock"))
    await client.delete(CONFIG_MAPS, namespace, "lock")
    second = await client.create(CONFIG_MAPS, namespace, config_map("lock"))

    with pytest.raises(errors.Conflict):
        await client.delete(CONFIG_MAPS, namespace, "lock", uid=first["metadata"]["uid"])
    assert (await client.get(CONFIG_MAPS, namespace, "lock"))["metadata"]["uid"] == second[
        "metadata"
    ]["uid"]

    with pytest.raises(errors.Conflict):
        await client.delete(CONFIG_MAPS, namespace, "lock", resource_version="1")

    await client.delete(
        CONFIG_MAPS,
        namespace,
        "lock",
        uid=second["metadata"]["uid"],
        resource_version=second["metadata"]["resourceVersion"],
    )
    with pytest.raises(errors.NotFound):
        await client.get(CONFIG_MAPS, namespace, "lock")


async def test_replace_with_a_stale_resource_version_is_a_conflict(
    client: Client, namespace: str
) -> None:
    created = await client.create(CONFIG_MAPS, namespace, config_map("cm", {"v": "1"}))
    await client.patch(CONFIG_MAPS, namespace, "cm", {"data": {"v": "2"}})

    with pytest.raises(errors.Conflict):
        await client.replace(CONFIG_MAPS, namespace, "cm", {**created, "data": {"v": "3"}})


async def test_invalid_object_is_invalid_with_causes(client: Client, namespace: str) -> None:
    body = workflow_execution("bad")
    del body["spec"]["workflowRef"]

    with pytest.raises(errors.Invalid) as raised:
        await client.create(WORKFLOW_EXECUTIONS, namespace, body)

    assert any("workflowRef" in c.get("field", "") for c in raised.value.details["causes"])


async def test_list_pages_with_limit_and_continue(client: Client, namespace: str) -> None:
    for i in range(5):
        await client.create(CONFIG_MAPS, namespace, config_map(f"cm-{i}", tier="x"))

    names: list[str] = []
    token = None
    pages = 0
    while True:
        page = await client.list(
            CONFIG_MAPS, namespace, label_selector="tier=x", limit=2, continue_token=token
        )
        pages += 1
        names += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break

    assert pages == 3
    assert names == [f"cm-{i}" for i in range(5)]


async def test_watch_yields_raw_events_until_the_server_closes_it(
    client: Client, namespace: str
) -> None:
    start = (await client.list(CONFIG_MAPS, namespace))["metadata"]["resourceVersion"]
    await client.create(CONFIG_MAPS, namespace, config_map("w", {"n": "1"}))
    await client.patch(CONFIG_MAPS, namespace, "w", {"data": {"n": "2"}})
    await client.delete(CONFIG_MAPS, namespace, "w")
    opened: list[bool] = []

    events: list[dict[str, Any]] = []
    async for event in client.watch(
        CONFIG_MAPS,
        namespace,
        resource_version=start,
        timeout_seconds=2,
        on_open=lambda: opened.append(True),
    ):
        events.append(event)

    changes = [(e["type"], e["object"]["data"]) for e in events if e["type"] != "BOOKMARK"]
    assert changes == [("ADDED", {"n": "1"}), ("MODIFIED", {"n": "2"}), ("DELETED", {"n": "2"})]
    assert all(isinstance(e["object"], dict) for e in events)
    assert opened == [True]


async def test_watch_from_a_too_old_resource_version_reports_410(
    client: Client, namespace: str, eventually: Callable[..., Awaitable[Any]]
) -> None:
    """The server answers with an ERROR event of code 410 (or an HTTP 410).

    A custom resource's watch cache starts when its CRD is established, so resourceVersion 1
    is older than anything it holds. (ConfigMaps' cache reaches back to the server's start.)
    """

    async def first_outcome() -> Any:
        try:
            async with contextlib.aclosing(
                client.watch(
                    WORKFLOW_EXECUTIONS, namespace, resource_version="1", timeout_seconds=5
                )
            ) as events:
                async for event in events:
                    return event
        except errors.Gone as exc:
            return exc
        except errors.TooManyRequests:
            return None  # "storage is (re)initializing": the cache is starting, try again
        return None

    outcome = await eventually(first_outcome, 30)

    if isinstance(outcome, errors.Gone):
        assert outcome.status == 410
    else:
        assert outcome["type"] == "ERROR"
        assert outcome["object"]["code"] == 410
        assert outcome["object"]["reason"] == "Expired"


async def test_create_event(client: Client, namespace: str) -> None:
    cm = await client.create(CONFIG_MAPS, namespace, config_map("subject"))
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": "subject."},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": "subject",
            "namespace": namespace,
            "uid": cm["metadata"]["uid"],
        },
        "reason": "Tested",
        "message": "an event from wfe.kube",
        "type": "Normal",
        "source": {"component": "wfe-tests"},
    }

    await client.create_event(namespace, event)

    listed = await client.list(EVENTS, namespace)
    assert [e["reason"] for e in listed["items"]] == ["Tested"]
    assert client.writes["event"] == 1


async def test_has_api_discovers_served_resources(client: Client) -> None:
    assert await client.has_api("tekton.dev/v1", "pipelineruns")
    assert await client.has_api("kubernaut.ai/v1alpha1", "workflowexecutions")
    assert await client.has_api("v1", "configmaps")
    assert not await client.has_api("tekton.dev/v1", "nosuchthings")
    assert not await client.has_api("tekton.dev/v1alpha9", "pipelineruns")
    assert not await client.has_api("nosuch.example.com/v1", "things")


async def test_rbac_denial_is_forbidden(
    control_plane: ControlPlane, make_api_client: MakeApiClient, namespace: str
) -> None:
    kubeconfig = await control_plane.service_account_kubeconfig(namespace, "nobody")
    denied = Client(await make_api_client(kubeconfig))

    with pytest.raises(errors.Forbidden) as raised:
        await denied.list(WORKFLOW_EXECUTIONS, namespace)
    assert raised.value.status == 403

    events = denied.watch(WORKFLOW_EXECUTIONS, namespace, resource_version="0")
    async with contextlib.aclosing(events):
        with pytest.raises(errors.Forbidden):
            await anext(events)


async def test_discovery_lists_every_group_version_with_kinds_and_scope(client: Client) -> None:
    found = await client.discover()
    assert found.failed == ()
    by_gv = {r["groupVersion"]: r for r in found.resource_lists}
    assert {"v1", "apps/v1", "tekton.dev/v1", "kubernaut.ai/v1alpha1"} <= set(by_gv)
    deployments = next(r for r in by_gv["apps/v1"]["resources"] if r["name"] == "deployments")
    assert deployments["kind"] == "Deployment"
    assert deployments["namespaced"] is True
    assert "deploy" in deployments["shortNames"]
    nodes = next(r for r in by_gv["v1"]["resources"] if r["name"] == "nodes")
    assert nodes["namespaced"] is False
