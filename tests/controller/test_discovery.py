"""The catalog of served kinds from API discovery, and how often discovery is asked."""

from __future__ import annotations

import pytest
from fakes import FakeClient, discovery_of

from wfe.controller.discovery import KindDiscovery, catalog_from_discovery
from wfe.controller.errors import Retry
from wfe.core.kinds import BUILTIN_KINDS, ServedKind
from wfe.kube import errors
from wfe.kube.discovery import Discovery

GADGET = ServedKind(
    kind="Gadget",
    group="gadgets.example.com",
    namespaced=True,
    plural="gadgets",
    singular="gadget",
    short_names=("gd",),
)


def test_the_catalog_lists_each_kind_with_its_group_scope_and_names() -> None:
    catalog = catalog_from_discovery(discovery_of((*BUILTIN_KINDS, GADGET)))
    assert catalog.complete
    (gadget,) = catalog.serving("Gadget")
    assert gadget == GADGET
    (node,) = catalog.serving("Node")
    assert (node.group, node.namespaced) == ("", False)
    (deployment,) = catalog.serving("Deployment")
    assert deployment.group == "apps"
    assert deployment.short_names == ("deploy",)


def test_subresources_and_malformed_entries_are_not_kinds() -> None:
    discovery = Discovery(
        resource_lists=(
            {
                "groupVersion": "apps/v1",
                "resources": [
                    {"name": "deployments", "kind": "Deployment", "namespaced": True},
                    {"name": "deployments/scale", "kind": "Scale", "namespaced": True},
                    {"name": "broken", "kind": None},
                    {"kind": "Nameless"},
                ],
            },
            {"groupVersion": "v1", "resources": None},
            {"resources": [{"name": "things", "kind": "Thing", "namespaced": False}]},
        ),
        failed=(),
    )
    catalog = catalog_from_discovery(discovery)
    assert sorted(k.kind for k in catalog.kinds) == ["Deployment", "Thing"]
    assert catalog.serving("Thing")[0].group == ""  # no groupVersion: the core group
    assert catalog.serving("Deployment")[0].singular == ""


def test_a_partly_failed_discovery_gives_an_incomplete_catalog() -> None:
    catalog = catalog_from_discovery(discovery_of(failed=("metrics.k8s.io/v1beta1",)))
    assert not catalog.complete
    assert catalog.knows("Deployment")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _kinds(client: FakeClient, clock: Clock) -> KindDiscovery:
    return KindDiscovery(client, min_refresh_seconds=2.0, monotonic=clock)


def _asked(client: FakeClient) -> int:
    return len(client.calls("discover"))


async def test_discovery_is_read_once_when_first_needed_and_kept_for_known_kinds() -> None:
    client, clock = FakeClient(), Clock()
    kinds = _kinds(client, clock)
    assert _asked(client) == 0
    first = await kinds.catalog_for("Deployment")
    clock.now += 3600
    assert await kinds.catalog_for("Deployment") is first
    assert await kinds.catalog_for("Node") is first
    assert _asked(client) == 1


async def test_an_unknown_kind_refreshes_at_most_once_per_interval() -> None:
    client, clock = FakeClient(), Clock()
    kinds = _kinds(client, clock)
    await kinds.catalog_for("Deployment")
    for _ in range(5):  # a storm of misspelled targets
        assert not (await kinds.catalog_for("Deplyment")).knows("Deplyment")
    assert _asked(client) == 1
    clock.now += 1.9
    await kinds.catalog_for("Deplyment")
    assert _asked(client) == 1
    clock.now += 0.1
    await kinds.catalog_for("Deplyment")
    assert _asked(client) == 2


async def test_a_crd_installed_since_is_learnt_on_the_next_refresh() -> None:
    client, clock = FakeClient(), Clock()
    kinds = _kinds(client, clock)
    assert not (await kinds.catalog_for("Gadget")).knows("Gadget")
    client.discovery = discovery_of((*BUILTIN_KINDS, GADGET))
    clock.now += 2.0
    assert (await kinds.catalog_for("Gadget")).knows("Gadget")


async def test_an_incomplete_catalog_is_refreshed_even_for_a_kind_it_knows() -> None:
    client, clock = FakeClient(discovery=discovery_of(failed=("x.example.com/v1",))), Clock()
    kinds = _kinds(client, clock)
    await kinds.catalog_for("Deployment")
    clock.now += 2.0
    client.discovery = discovery_of()
    assert (await kinds.catalog_for("Deployment")).complete
    assert _asked(client) == 2


async def test_a_failed_discovery_without_a_catalog_retries() -> None:
    client, clock = FakeClient(), Clock()
    client.fail("discover", "", errors.Unavailable("connection refused"))
    kinds = _kinds(client, clock)
    with pytest.raises(Retry):
        await kinds.catalog_for("Deployment")
    assert (await kinds.catalog_for("Deployment")).knows("Deployment")  # asked again at once


async def test_a_failed_refresh_keeps_the_last_catalog() -> None:
    client, clock = FakeClient(), Clock()
    kinds = _kinds(client, clock)
    first = await kinds.catalog_for("Deployment")
    clock.now += 2.0
    client.fail("discover", "", errors.ServerError("down", status=503))
    assert await kinds.catalog_for("Gadget") is first


async def test_a_failing_discovery_is_still_asked_at_most_once_per_interval() -> None:
    client, clock = FakeClient(), Clock()
    kinds = _kinds(client, clock)
    await kinds.catalog_for("Deployment")
    clock.now += 2.0
    client.fail("discover", "", errors.Unavailable("connection refused"), times=10)
    for _ in range(5):  # a storm of unknown kinds while the API server is in trouble
        await kinds.catalog_for("Gadget")
    assert _asked(client) == 2
