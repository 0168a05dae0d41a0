"""Fixtures for tests against the real local control plane (docs/testenv.md, STYLE.md 10).

Every test in tests/integration is marked ``integration`` and runs in the session's event loop
(the control plane and its clients are session-wide). Fixtures:

- ``control_plane``: the session's :class:`wfe.dev.controlplane.ControlPlane` (etcd,
  kube-apiserver with our CRD and Tekton's installed, kube-controller-manager's garbage
  collector and namespace controller). For identities use its ``user_kubeconfig(user,
  groups)`` and ``await service_account_kubeconfig(ns, name)``.
- ``admin_kubeconfig``: the admin (``system:masters``) kubeconfig path.
- ``api_client``: a session-wide admin ``kubernetes_asyncio`` ApiClient (don't close it).
- ``make_api_client``: ``await make_api_client(kubeconfig)`` gives an ApiClient for another
  identity, closed after the test.
- ``namespace``: a fresh namespace per test (its name). It is not deleted afterwards (it
  could be: the namespace controller runs), because the whole control plane is thrown away at
  the end of the session and emptying namespaces would only cost CPU meanwhile; with
  ``WFE_KEEP_CONTROLPLANE=1`` a failed test's objects stay there to look at. When the test
  fails its Events are printed.
- ``eventually``: :func:`wfe.dev.eventually.eventually`, also importable from there.

When the binaries are not built, the tests are skipped with the reason, unless
``CI`` is set (``CI=true``), where a missing API server fails the run instead.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient, CoreV1Api, V1Namespace, V1ObjectMeta

from wfe.dev.controlplane import ControlPlane
from wfe.dev.eventually import eventually as _eventually
from wfe.dev.testbin import Testbin, TestbinMissingError, find_testbin

_HERE = Path(__file__).parent
_CALL_REPORT = pytest.StashKey[pytest.TestReport]()

MakeApiClient = Callable[[Path], Awaitable[ApiClient]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark this folder's tests ``integration``; run its async ones in the session loop."""
    for item in items:
        if _HERE not in item.path.parents:
            continue
        item.add_marker(pytest.mark.integration)
        if item.get_closest_marker("asyncio") is not None:
            # In front of the bare marker asyncio_mode=auto added, so it is the closest one.
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_CALL_REPORT] = report
    return report


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def testbin() -> Testbin:
    """The built binaries; skips the tests (fails them under CI) when they are missing."""
    try:
        return find_testbin()
    except TestbinMissingError as exc:
        if _in_ci():
            pytest.fail(f"CI is set and the local control plane is missing: {exc}", pytrace=False)
        pytest.skip(f"local control plane binaries not built ({exc})")


@pytest.fixture(scope="session")
async def control_plane(testbin: Testbin) -> AsyncIterator[ControlPlane]:
    """One control plane for the whole session, stopped at its end."""
    async with ControlPlane(testbin=testbin) as control_plane:
        yield control_plane


@pytest.fixture(scope="session")
def admin_kubeconfig(control_plane: ControlPlane) -> Path:
    """The path of the admin kubeconfig (user ``admin`` in ``system:masters``)."""
    return control_plane.admin_kubeconfig


@pytest.fixture(scope="session")
async def api_client(control_plane: ControlPlane) -> AsyncIterator[ApiClient]:
    """A session-wide admin ApiClient."""
    async with await control_plane.api_client() as client:
        yield client


@pytest.fixture
async def make_api_client(control_plane: ControlPlane) -> AsyncIterator[MakeApiClient]:
    """``await make_api_client(kubeconfig)``: an ApiClient closed when the test ends."""
    clients: list[ApiClient] = []

    async def make(kubeconfig: Path) -> ApiClient:
        client = await control_plane.api_client(kubeconfig)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def namespace(api_client: ApiClient, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A new namespace for this test, left in place; its Events are printed if it fails."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"t-{slug}-{secrets.token_hex(3)}"
    core = CoreV1Api(api_client)
    await core.create_namespace(
        V1Namespace(metadata=V1ObjectMeta(name=name, labels={"wfe.test/namespace": "true"}))
    )
    yield name
    report = request.node.stash.get(_CALL_REPORT, None)
    if report is not None and report.failed:
        await _print_events(core, name)


async def _print_events(core: CoreV1Api, namespace: str) -> None:
    events = await core.list_namespaced_event(namespace)
    print(f"--- Events in namespace {namespace} ({len(events.items)}):")
    for event in events.items:
        involved = event.involved_object
        print(
            f"{event.last_timestamp or event.event_time} {event.type} {event.reason} "
            f"{involved.kind}/{involved.name}: {event.message}"
        )


@pytest.fixture
def eventually() -> Callable[..., Awaitable[object]]:
    """:func:`wfe.dev.eventually.eventually` (``await eventually(predicate, timeout)``)."""
    return _eventually
