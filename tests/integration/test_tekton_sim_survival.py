"""The Tekton simulator outlives what the controller's tests rehearse (docs/testenv.md).

Against real API servers, each case with a run the simulator had started before the trouble
and one created after it, both of which must reach their end:

- an expired resourceVersion: the API server's own ``410 Gone`` (the first watch starts from a
  resourceVersion long compacted out of its watch cache);
- a dropped connection: every connection between the simulator and the API server cut (a TCP
  proxy in between aborts them), the server itself up;
- the API server restarting (a control plane of this module's own: it is stopped and started
  again);
- Tekton's CRDs deleted and created again ("Tekton API not served"): the simulator says once
  that PipelineRuns are not served, waits, and carries on when they are back.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from kubernetes_asyncio.client import ApiClient, ApiextensionsV1Api, CoreV1Api, CustomObjectsApi
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config import new_client_from_config
from structlog.testing import capture_logs

from corpus import Json, load, request
from wfe.dev import tekton_sim
from wfe.dev.controlplane import ControlPlane
from wfe.dev.crds import install_crds, load_tekton_crds
from wfe.dev.tekton_scenarios import DURATION_PARAMETER
from wfe.dev.tekton_sim import SimSettings, TektonSimulator
from wfe.dev.tekton_watch import ListWatch
from wfe.dev.testbin import Testbin

GROUP, VERSION = "tekton.dev", "v1"
TEKTON_CRDS = ("pipelineruns.tekton.dev", "taskruns.tekton.dev")
Eventually = Callable[..., Awaitable[Any]]
SETTINGS = SimSettings(default_duration=1.0, max_wait=0.2, retry_delay=0.2)


def _pipeline_run(namespace: str, name: str, running: str = "1s") -> Json:
    """A PipelineRun the simulator succeeds after ``running`` of running phase."""
    body = copy.deepcopy(request(load("succeeded")))
    body.pop("status", None)
    meta = body["metadata"]
    for key in ("uid", "resourceVersion", "generation", "creationTimestamp"):
        meta.pop(key, None)
    meta["namespace"], meta["name"] = namespace, name
    body["spec"]["params"].append({"name": DURATION_PARAMETER, "value": running})
    return body


async def _create(api: ApiClient, namespace: str, name: str, running: str = "1s") -> Json:
    created: Json = await CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, "pipelineruns", _pipeline_run(namespace, name, running)
    )
    return created


async def _reason(api: ApiClient, namespace: str, name: str) -> str | None:
    pr = await CustomObjectsApi(api).get_namespaced_custom_object(
        GROUP, VERSION, namespace, "pipelineruns", name
    )
    conditions = (pr.get("status") or {}).get("conditions") or [{}]
    reason: str | None = conditions[0].get("reason")
    return reason


async def _succeeds(api: ApiClient, namespace: str, name: str, eventually: Eventually) -> None:
    async def succeeded() -> bool:
        reason = await _reason(api, namespace, name)
        assert reason == "Succeeded", reason
        return True

    await eventually(succeeded, 90, message=f"{name} succeeds")
    listed = await CustomObjectsApi(api).list_namespaced_custom_object(
        GROUP, VERSION, namespace, "taskruns", label_selector=f"tekton.dev/pipelineRun={name}"
    )
    assert len(listed["items"]) == 2  # apply and verify, both its own


async def _running(api: ApiClient, namespace: str, name: str, eventually: Eventually) -> None:
    async def running() -> bool:
        reason = await _reason(api, namespace, name)
        assert reason == "Running", reason
        return True

    await eventually(running, 60, message=f"{name} runs")


@contextlib.asynccontextmanager
async def _simulating(api: ApiClient, namespace: str) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(TektonSimulator(api, namespace, SETTINGS).run())
    try:
        yield task
        assert not task.done(), "the simulator ended on its own"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _namespace(api: ApiClient, name: str) -> str:
    await CoreV1Api(api).create_namespace({"metadata": {"name": name}})
    return name


# --- on the session's control plane --------------------------------------------------------


class _StaleFirstList(ListWatch):
    """Starts its first watch from resourceVersion 1, long gone from the watch cache."""

    gone = 0  # 410s the API server answered, over all instances

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stale = True

    async def list(self) -> str:
        version = await super().list()
        if self._stale:
            self._stale = False
            return "1"
        return version

    async def watch(self, version: str) -> None:
        try:
            await super().watch(version)
        except ApiException as exc:
            if exc.status == 410:
                type(self).gone += 1
            raise


async def test_survives_an_expired_resource_version(
    api_client: ApiClient,
    namespace: str,
    eventually: Eventually,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tekton_sim, "ListWatch", _StaleFirstList)
    await _create(api_client, namespace, "before", running="3s")
    async with _simulating(api_client, namespace):
        await _running(api_client, namespace, "before", eventually)
        await _create(api_client, namespace, "after")
        await _succeeds(api_client, namespace, "before", eventually)
        await _succeeds(api_client, namespace, "after", eventually)
    assert _StaleFirstList.gone >= 1, "the API server never answered 410 Gone"


class _Proxy:
    """A TCP proxy to the API server whose connections can all be cut at once."""

    def __init__(self, port: int) -> None:
        self._target = port
        self._writers: list[asyncio.StreamWriter] = []
        self.cut_connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> _Proxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        self._writers += [writer, up_writer]
        await asyncio.gather(
            self._pump(reader, up_writer), self._pump(up_reader, writer), return_exceptions=True
        )

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    def cut(self) -> None:
        """Abort every open connection, both sides (the listener stays)."""
        open_now = [w for w in self._writers if not w.transport.is_closing()]
        self.cut_connections += len(open_now) // 2
        for writer in open_now:
            writer.transport.abort()
        self._writers.clear()


async def test_survives_dropped_connections(
    api_client: ApiClient,
    namespace: str,
    control_plane: ControlPlane,
    eventually: Eventually,
    tmp_path: Path,
) -> None:
    port = int(control_plane.server.rsplit(":", 1)[1])
    async with _Proxy(port) as proxy:
        config = yaml.safe_load(control_plane.admin_kubeconfig.read_text())
        config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
        kubeconfig = tmp_path / "via-proxy.yaml"
        kubeconfig.write_text(yaml.safe_dump(config))
        proxied = await new_client_from_config(config_file=str(kubeconfig), persist_config=False)
        async with proxied, _simulating(proxied, namespace):
            await _create(api_client, namespace, "before", running="6s")
            await _running(api_client, namespace, "before", eventually)
            proxy.cut()  # the watch, and whatever else was open
            assert proxy.cut_connections >= 1
            await _create(api_client, namespace, "after")
            await _succeeds(api_client, namespace, "after", eventually)
            proxy.cut()
            await _succeeds(api_client, namespace, "before", eventually)


# --- on a control plane of this module's own (restarted, its CRDs deleted) ------------------


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def own_control_plane(testbin: Testbin) -> AsyncIterator[ControlPlane]:
    """A control plane these tests may break without disturbing the session's."""
    async with ControlPlane(testbin=testbin) as control_plane:
        yield control_plane


@pytest_asyncio.fixture(loop_scope="session")
async def own_api(own_control_plane: ControlPlane) -> AsyncIterator[ApiClient]:
    async with await own_control_plane.api_client() as api:
        yield api


async def test_survives_an_api_server_restart(
    own_control_plane: ControlPlane, own_api: ApiClient, eventually: Eventually
) -> None:
    namespace = await _namespace(own_api, "restart")
    async with _simulating(own_api, namespace):
        await _create(own_api, namespace, "before", running="8s")
        await _running(own_api, namespace, "before", eventually)
        old = own_control_plane.pids["kube-apiserver"]
        await own_control_plane.restart_apiserver(down_for=1.0)
        assert own_control_plane.pids["kube-apiserver"] != old
        await _create(own_api, namespace, "after")
        await _succeeds(own_api, namespace, "after", eventually)
        await _succeeds(own_api, namespace, "before", eventually)


async def _crds_gone(api: ApiClient) -> bool:
    extensions = ApiextensionsV1Api(api)
    for name in TEKTON_CRDS:
        try:
            await extensions.read_custom_resource_definition(name)
        except ApiException as exc:
            if exc.status != 404:
                raise
        else:
            return False
    return True


async def test_survives_the_tekton_crds_being_deleted_and_created_again(
    own_control_plane: ControlPlane, own_api: ApiClient, testbin: Testbin, eventually: Eventually
) -> None:
    namespace = await _namespace(own_api, "crds")
    extensions = ApiextensionsV1Api(own_api)
    with capture_logs() as logs:
        async with _simulating(own_api, namespace) as task:
            await _create(own_api, namespace, "before")
            await _succeeds(own_api, namespace, "before", eventually)
            await _create(own_api, namespace, "cut-short", running="1h")
            await _running(own_api, namespace, "cut-short", eventually)

            for name in TEKTON_CRDS:
                await extensions.delete_custom_resource_definition(name)
            await eventually(lambda: _crds_gone(own_api), 60, message="Tekton's CRDs are gone")
            await eventually(
                lambda: any("not served" in e["event"] for e in logs),
                30,
                message="the simulator notices PipelineRuns are not served",
            )
            assert not task.done()

            await install_crds(own_api, load_tekton_crds(testbin.tekton_crds), timeout=60)
            await _create(own_api, namespace, "after")
            await _succeeds(own_api, namespace, "after", eventually)
    not_served = [e for e in logs if "not served" in e["event"]]
    assert len(not_served) == 1, not_served  # said once, not at every retry
    assert not [e for e in logs if e.get("exc_info") or "Traceback" in str(e)]
