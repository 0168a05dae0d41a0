"""The local control plane: a real etcd and kube-apiserver on loopback (docs/testenv.md).

Tests and ``wfe dev`` run the controller against the real API server, the way envtest does for
Go controllers, never against a mock. :class:`ControlPlane` starts the binaries that
tools/k8s-testbin/build.sh built (located by :mod:`wfe.dev.testbin`) with a fresh PKI
(:mod:`wfe.dev.pki`) in a temporary directory, on free loopback ports:

- etcd with its own data dir and ``--unsafe-no-fsync``; ready when ``/health`` says so;
- kube-apiserver with client-certificate and ServiceAccount-token authentication,
  ``--authorization-mode=RBAC`` and ``--disable-admission-plugins=ServiceAccount`` (no
  controller-manager creates default ServiceAccounts); ready when ``/readyz`` answers 200 and
  namespace ``default`` exists.

It then installs our CRD and Tekton's PipelineRun and TaskRun CRDs (:mod:`wfe.dev.crds`).
There is no controller-manager and no scheduler: nothing garbage-collects, namespaces never
finish deleting, no Pod ever runs. Use a fresh namespace per test and don't wait for deletions.

Identities: the admin kubeconfig (``CN=admin, O=system:masters``), :meth:`user_kubeconfig`
for a user with groups (client certificate) and :meth:`service_account_kubeconfig` for a
ServiceAccount (TokenRequest API), so tests can run the controller with exactly the shipped RBAC.

Only the processes started here are ever stopped, by PID; when start-up fails the error carries
the tails of both logs. Run ``python -m wfe.dev.controlplane`` to keep one up until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self, TypeAlias, TypeVar

import structlog
from kubernetes_asyncio.client import (
    ApiClient,
    AuthenticationV1TokenRequest,
    CoreV1Api,
    V1ObjectMeta,
    V1ServiceAccount,
    V1TokenRequestSpec,
)
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config import new_client_from_config

from wfe.dev.crds import install_crds, load_tekton_crds, load_wfe_crds
from wfe.dev.kubeconfig import write_kubeconfig
from wfe.dev.pki import TestPKI
from wfe.dev.testbin import Testbin, TestbinMissingError, find_testbin

__all__ = ["ControlPlane", "ControlPlaneError", "main"]

_log = structlog.get_logger(__name__)

_T = TypeVar("_T")
_Probe: TypeAlias = Callable[[], bool]

_SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"  # an allocation range only: nothing dials it
_LOG_TAIL_LINES = 40
_STOP_GRACE_SECONDS = 15.0


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGKILL it when its parent dies (PR_SET_PDEATHSIG).

    Without it, a test run killed by a timeout leaves etcd and kube-apiserver running.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


class ControlPlaneError(RuntimeError):
    """The control plane did not start (the message ends with the logs' tails)."""


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]


class ControlPlane:
    """One etcd plus one kube-apiserver, started by :meth:`start` and stopped by :meth:`stop`.

    Use it as ``async with ControlPlane() as cp:``. ``testbin`` defaults to
    :func:`wfe.dev.testbin.find_testbin` (``$WFE_TESTBIN_DIR`` or the XDG cache); ``workdir``
    to a new temporary directory, removed by :meth:`stop` unless ``keep_workdir`` (default: the
    environment variable ``WFE_KEEP_CONTROLPLANE=1``).
    """

    def __init__(
        self,
        *,
        testbin: Testbin | None = None,
        workdir: Path | None = None,
        install_crds: bool = True,
        start_timeout: float = 120.0,
        keep_workdir: bool | None = None,
        extra_apiserver_args: Sequence[str] = (),
    ) -> None:
        self._testbin = testbin
        self._workdir_arg = workdir
        self._install_crds = install_crds
        self._start_timeout = start_timeout
        self._keep_workdir = (
            keep_workdir
            if keep_workdir is not None
            else os.environ.get("WFE_KEEP_CONTROLPLANE") == "1"
        )
        self._extra_apiserver_args = tuple(extra_apiserver_args)
        self._processes: list[_Process] = []
        self._pki: TestPKI | None = None
        self._workdir: Path | None = None
        self._owns_workdir = False
        self._server: str | None = None
        self._admin_kubeconfig: Path | None = None
        self._ca_file: Path | None = None
        self.installed_crds: list[str] = []
        """Names of the CRDs :meth:`start` installed."""

    # -- what tests and tools need ----------------------------------------------------------

    @property
    def server(self) -> str:
        """The API server's URL, ``https://127.0.0.1:<port>``."""
        return self._require(self._server)

    @property
    def admin_kubeconfig(self) -> Path:
        """A kubeconfig for ``admin`` in ``system:masters`` (cluster-admin)."""
        return self._require(self._admin_kubeconfig)

    @property
    def ca_file(self) -> Path:
        """The PEM CA certificate that signed the serving and client certificates."""
        return self._require(self._ca_file)

    @property
    def workdir(self) -> Path:
        """The directory with the PKI, kubeconfigs, etcd data and both logs."""
        return self._require(self._workdir)

    def user_kubeconfig(
        self, user: str, groups: Sequence[str] = (), *, namespace: str | None = None
    ) -> Path:
        """Write a kubeconfig authenticating as ``user`` in ``groups`` (client certificate).

        The API server sees user ``user`` with groups ``groups`` + ``system:authenticated``;
        what it may do is up to RBAC.
        """
        pki = self._require(self._pki)
        path = self.workdir / "kubeconfigs" / f"user-{_safe(user)}.yaml"
        return write_kubeconfig(
            path,
            server=self.server,
            ca_pem=pki.ca.cert_pem,
            user=user,
            client=pki.client_cert(user, groups),
            namespace=namespace,
        )

    async def service_account_token(
        self,
        namespace: str,
        name: str,
        *,
        create: bool = True,
        expiration_seconds: int = 3600,
    ) -> str:
        """A token for ServiceAccount ``namespace/name`` from the TokenRequest API.

        With ``create`` the ServiceAccount is created first (an existing one is fine).
        """
        async with await self.api_client() as api:
            core = CoreV1Api(api)
            if create:
                account = V1ServiceAccount(metadata=V1ObjectMeta(name=name, namespace=namespace))
                try:
                    await core.create_namespaced_service_account(namespace, account)
                except ApiException as exc:
                    if exc.status != 409:
                        raise
            # No audiences: the token is for the API server's own (--service-account-issuer).
            request = AuthenticationV1TokenRequest(
                spec=V1TokenRequestSpec(audiences=[], expiration_seconds=expiration_seconds)
            )
            response = await core.create_namespaced_service_account_token(name, namespace, request)
            token: str = response.status.token
            return token

    async def service_account_kubeconfig(
        self,
        namespace: str,
        name: str,
        *,
        create: bool = True,
        expiration_seconds: int = 3600,
    ) -> Path:
        """Write a kubeconfig for ServiceAccount ``namespace/name`` with a TokenRequest token.

        Its default namespace is ``namespace``. See :meth:`service_account_token`.
        """
        token = await self.service_account_token(
            namespace, name, create=create, expiration_seconds=expiration_seconds
        )
        path = self.workdir / "kubeconfigs" / f"sa-{_safe(namespace)}-{_safe(name)}.yaml"
        return write_kubeconfig(
            path,
            server=self.server,
            ca_pem=self._require(self._pki).ca.cert_pem,
            user=f"system:serviceaccount:{namespace}:{name}",
            token=token,
            namespace=namespace,
        )

    async def api_client(self, kubeconfig: Path | None = None) -> ApiClient:
        """A new ``kubernetes_asyncio`` ApiClient for ``kubeconfig`` (default: the admin one).

        The caller closes it (``async with await cp.api_client() as api:``).
        """
        path = kubeconfig if kubeconfig is not None else self.admin_kubeconfig
        client: ApiClient = await new_client_from_config(
            config_file=str(path), persist_config=False
        )
        return client

    # -- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start etcd and kube-apiserver, wait until ready, install the CRDs.

        Raises:
            TestbinMissingError: the binaries are not built (nothing was started).
            ControlPlaneError: a process exited or was not ready within ``start_timeout``
                seconds; everything started is stopped again and the message has both logs'
                tails.
        """
        if self._processes or self._workdir is not None:
            raise ControlPlaneError("this control plane was already started")
        testbin = self._testbin if self._testbin is not None else find_testbin()
        started = time.monotonic()
        if self._workdir_arg is not None:
            self._workdir = self._workdir_arg
            self._workdir.mkdir(parents=True, exist_ok=True)
        else:
            self._workdir = Path(tempfile.mkdtemp(prefix="wfe-controlplane-"))
            self._owns_workdir = True
        atexit.register(self._kill_now)
        try:
            deadline = time.monotonic() + self._start_timeout
            self._write_pki()
            etcd_url = await self._start_etcd(testbin, deadline)
            await self._start_apiserver(testbin, etcd_url, deadline)
            if self._install_crds:
                crds = load_wfe_crds() + load_tekton_crds(testbin.tekton_crds)
                async with await self.api_client() as api:
                    self.installed_crds = await install_crds(
                        api, crds, timeout=max(deadline - time.monotonic(), 1.0)
                    )
        except Exception as exc:
            tails = self._log_tails()
            await self.stop()
            raise ControlPlaneError(
                f"the local control plane did not start: {exc}\n{tails}"
            ) from exc
        except BaseException:
            await self.stop()
            raise
        _log.info(
            "control plane ready",
            server=self.server,
            kubeconfig=str(self.admin_kubeconfig),
            seconds=round(time.monotonic() - started, 1),
        )

    async def stop(self) -> None:
        """Stop the processes started here (SIGTERM, then SIGKILL), remove the workdir.

        Safe to call more than once and after a failed :meth:`start`.
        """
        for process in reversed(self._processes):
            await asyncio.to_thread(_terminate, process)
        self._processes.clear()
        atexit.unregister(self._kill_now)
        if self._workdir is not None and self._owns_workdir:
            if self._keep_workdir:
                _log.info("control plane workdir kept", workdir=str(self._workdir))
            else:
                shutil.rmtree(self._workdir, ignore_errors=True)
        self._workdir = None
        self._server = None

    # -- internals --------------------------------------------------------------------------

    def _write_pki(self) -> None:
        pki_dir = self.workdir / "pki"
        pki_dir.mkdir(mode=0o700, exist_ok=True)
        self._pki = pki = TestPKI()
        self._ca_file, _ = pki.ca.write(pki_dir, "ca")
        pki.serving_cert().write(pki_dir, "apiserver")
        pki.client_cert("admin", ["system:masters"]).write(pki_dir, "admin")
        sa_key = pki.service_account_key()
        private = pki_dir / "service-account.key"
        private.touch(mode=0o600)
        private.write_bytes(sa_key.private_pem)
        (pki_dir / "service-account.pub").write_bytes(sa_key.public_pem)

    async def _start_etcd(self, testbin: Testbin, deadline: float) -> str:
        client_port, peer_port = _free_ports(2)
        client_url = f"http://127.0.0.1:{client_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        process = self._spawn(
            "etcd",
            [
                str(testbin.etcd),
                "--name=wfe-dev",
                f"--data-dir={self.workdir / 'etcd-data'}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=wfe-dev={peer_url}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        await _wait_until(
            process, deadline, lambda: _http_ok(f"{client_url}/health", None, b'"health":"true"')
        )
        _log.info("etcd ready", url=client_url, pid=process.popen.pid)
        return client_url

    async def _start_apiserver(self, testbin: Testbin, etcd_url: str, deadline: float) -> None:
        (port,) = _free_ports(1)
        server = f"https://127.0.0.1:{port}"
        pki = self.workdir / "pki"
        process = self._spawn(
            "kube-apiserver",
            [
                str(testbin.kube_apiserver),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--service-account-issuer={server}",
                f"--service-account-key-file={pki / 'service-account.pub'}",
                f"--service-account-signing-key-file={pki / 'service-account.key'}",
                "--authorization-mode=RBAC",
                "--disable-admission-plugins=ServiceAccount",
                f"--service-cluster-ip-range={_SERVICE_CLUSTER_IP_RANGE}",
                # Nothing runs behind the `kubernetes` Service: don't maintain its endpoints.
                "--endpoint-reconciler-type=none",
                "--allow-privileged=true",
                *self._extra_apiserver_args,
            ],
        )
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        await _wait_until(process, deadline, lambda: _http_ok(f"{server}/readyz", context, b"ok"))
        # /readyz can pass a moment before the bootstrap controller has made `default`.
        await _wait_until(
            process,
            deadline,
            lambda: _http_ok(f"{server}/api/v1/namespaces/default", context, b'"default"'),
        )
        self._server = server
        self._admin_kubeconfig = write_kubeconfig(
            self.workdir / "kubeconfigs" / "admin.yaml",
            server=server,
            ca_pem=(pki / "ca.crt").read_bytes(),
            user="admin",
            client=self._require(self._pki).client_cert("admin", ["system:masters"]),
        )
        _log.info("kube-apiserver ready", server=server, pid=process.popen.pid)

    def _spawn(self, name: str, argv: list[str]) -> _Process:
        log_path = self.workdir / f"{name}.log"
        log_file = log_path.open("ab")
        try:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                # Own session: a Ctrl-C in the terminal reaches us, and we stop them in order.
                start_new_session=True,
                # And if we are killed before we can stop them, the kernel does (Linux).
                preexec_fn=_die_with_parent,
            )
        except BaseException:
            log_file.close()
            raise
        process = _Process(name, popen, log_path, log_file)
        self._processes.append(process)
        _log.info("process started", process=name, pid=popen.pid, log=str(log_path))
        return process

    def _log_tails(self) -> str:
        parts = []
        for process in self._processes:
            code = process.popen.poll()
            state = "running" if code is None else f"exited with {code}"
            parts.append(
                f"--- {process.name} (pid {process.popen.pid}, {state}), last "
                f"{_LOG_TAIL_LINES} lines of {process.log_path}:\n{_tail(process.log_path)}"
            )
        return "\n".join(parts)

    def _kill_now(self) -> None:
        """Last resort at interpreter exit: SIGKILL our children if stop() never ran."""
        for process in self._processes:
            if process.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.popen.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.popen.wait(5)
            process.log_file.close()

    def _require(self, value: _T | None) -> _T:
        if value is None:
            raise ControlPlaneError("the control plane is not running (call start() first)")
        return value


def _terminate(process: _Process) -> None:
    popen = process.popen
    if popen.poll() is None:
        popen.terminate()
        try:
            popen.wait(_STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _log.warning("process ignored SIGTERM; killing it", process=process.name)
            popen.kill()
            popen.wait()
    process.log_file.close()
    _log.info("process stopped", process=process.name, pid=popen.pid, code=popen.returncode)


async def _wait_until(process: _Process, deadline: float, probe: _Probe) -> None:
    while True:
        if await asyncio.to_thread(probe):
            return
        code = process.popen.poll()
        if code is not None:
            raise ControlPlaneError(f"{process.name} exited with code {code} while starting")
        if time.monotonic() > deadline:
            raise ControlPlaneError(f"{process.name} was not ready in time")
        await asyncio.sleep(0.25)


def _http_ok(url: str, context: ssl.SSLContext | None, expect: bytes) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as response:
            body: bytes = response.read()
            return response.status == 200 and expect in body
    except (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError, OSError):
        return False


def _free_ports(count: int) -> list[int]:
    # Hold all sockets open until every port is chosen, so the ports differ from each other.
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(cannot read: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


async def _serve() -> None:
    async with ControlPlane() as control_plane:
        print(f"export KUBECONFIG={control_plane.admin_kubeconfig}", flush=True)
        print("control plane running; press Ctrl-C to stop it", file=sys.stderr, flush=True)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        await stopping.wait()


def main() -> int:
    """Start a control plane, print ``export KUBECONFIG=...``, run until SIGINT or SIGTERM."""
    try:
        asyncio.run(_serve())
    except TestbinMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ControlPlaneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
