"""The local control plane: etcd, kube-apiserver and kube-controller-manager (docs/testenv.md).

Tests and ``wfe dev`` run the controller against the real API server, the way envtest does for
Go controllers, never against a mock. :class:`ControlPlane` starts the binaries that
tools/k8s-testbin/build.sh built (located by :mod:`wfe.dev.testbin`) with a fresh PKI
(:mod:`wfe.dev.pki`) in a temporary directory, on free loopback ports, in this order
(:mod:`wfe.dev.components` has each program's flags and readiness check):

- etcd with its own data dir and ``--unsafe-no-fsync``; ready when ``/health`` says so;
- kube-apiserver with client-certificate and ServiceAccount-token authentication,
  ``--authorization-mode=RBAC`` and ``--disable-admission-plugins=ServiceAccount`` (no Pod ever
  runs, so nothing needs a Pod's ServiceAccount checked); ready when ``/readyz`` answers 200
  and namespace ``default`` exists;
- our CRD and Tekton's PipelineRun and TaskRun CRDs (:mod:`wfe.dev.crds`);
- kube-controller-manager with only the controllers a cluster without nodes needs here
  (:data:`wfe.dev.components.CONTROLLERS`: garbage collector, namespace deletion,
  ServiceAccounts and their tokens), as ``system:kube-controller-manager`` with a
  ServiceAccount per controller, the way kubeadm runs it; ready when its ``/healthz`` answers
  ``ok``. Started after the CRDs, so the garbage collector's first discovery already includes
  Tekton's resources (it rediscovers every 30 s).

There is still no scheduler and no kubelet: no Pod ever runs.

Identities: the admin kubeconfig (``CN=admin, O=system:masters``), :meth:`user_kubeconfig`
for a user with groups (client certificate) and :meth:`service_account_kubeconfig` for a
ServiceAccount (TokenRequest API), so tests can run the controller with exactly the shipped RBAC.

Only the processes started here are ever stopped, by PID; when start-up fails the error carries
the tails of their logs. :meth:`restart_apiserver` stops and restarts kube-apiserver alone (its
data is in etcd), for tests of clients that must survive it. Run ``python -m
wfe.dev.controlplane`` to keep one up until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import signal
import ssl
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import structlog
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.config import new_client_from_config

from wfe.dev import components, processes
from wfe.dev.crds import install_crds, load_tekton_crds, load_wfe_crds
from wfe.dev.kubeconfig import service_account_token, write_kubeconfig
from wfe.dev.pki import TestPKI
from wfe.dev.processes import ChildProcess
from wfe.dev.testbin import Testbin, TestbinMissingError, find_testbin

__all__ = ["ControlPlane", "ControlPlaneError", "main"]

_log = structlog.get_logger(__name__)

_T = TypeVar("_T")
_RESTART_GRACE_SECONDS = 3.0


class ControlPlaneError(RuntimeError):
    """The control plane did not start (the message ends with the logs' tails)."""


class ControlPlane:
    """etcd, kube-apiserver and kube-controller-manager, started by :meth:`start`.

    Use it as ``async with ControlPlane() as cp:``. ``testbin`` defaults to
    :func:`wfe.dev.testbin.find_testbin` (``$WFE_TESTBIN_DIR`` or the XDG cache); ``workdir``
    to a new temporary directory, removed by :meth:`stop` unless ``keep_workdir`` (default: the
    environment variable ``WFE_KEEP_CONTROLPLANE=1``). ``controller_manager=False`` leaves
    kube-controller-manager out (nothing is garbage-collected, namespaces never finish
    deleting).
    """

    def __init__(
        self,
        *,
        testbin: Testbin | None = None,
        workdir: Path | None = None,
        install_crds: bool = True,
        start_timeout: float = 120.0,
        keep_workdir: bool | None = None,
        controller_manager: bool = True,
        extra_apiserver_args: Sequence[str] = (),
        extra_controller_manager_args: Sequence[str] = (),
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
        self._controller_manager = controller_manager
        self._extra_apiserver_args = tuple(extra_apiserver_args)
        self._extra_controller_manager_args = tuple(extra_controller_manager_args)
        self._processes: list[ChildProcess] = []
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
        """The directory with the PKI, kubeconfigs, etcd data and the processes' logs."""
        return self._require(self._workdir)

    @property
    def pids(self) -> dict[str, int]:
        """The PID of each process started here, by name (``etcd``, ``kube-apiserver``, ...)."""
        return {p.name: p.popen.pid for p in self._processes}

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
            return await service_account_token(
                api, namespace, name, create=create, expiration_seconds=expiration_seconds
            )

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
        """Start etcd and kube-apiserver, install the CRDs, start kube-controller-manager.

        Each is waited for until ready before the next starts.

        Raises:
            TestbinMissingError: the binaries are not built (nothing was started).
            ControlPlaneError: a process exited or was not ready within ``start_timeout``
                seconds; everything started is stopped again and the message has the logs'
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
            etcd_url = await components.start_etcd(
                testbin.etcd, self.workdir, deadline, self._processes
            )
            pki = self.workdir / "pki"
            self._server = await components.start_apiserver(
                testbin.kube_apiserver,
                self.workdir,
                pki,
                etcd_url=etcd_url,
                tls=self._admin_tls(),
                deadline=deadline,
                started=self._processes,
                extra=self._extra_apiserver_args,
            )
            self._admin_kubeconfig = write_kubeconfig(
                self.workdir / "kubeconfigs" / "admin.yaml",
                server=self._server,
                ca_pem=(pki / "ca.crt").read_bytes(),
                user="admin",
                client=self._require(self._pki).client_cert("admin", ["system:masters"]),
            )
            if self._install_crds:
                crds = load_wfe_crds() + load_tekton_crds(testbin.tekton_crds)
                async with await self.api_client() as api:
                    self.installed_crds = await install_crds(
                        api, crds, timeout=max(deadline - time.monotonic(), 1.0)
                    )
            if self._controller_manager:
                await self._start_controller_manager(testbin, deadline)
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
            await asyncio.to_thread(processes.terminate, process)
        self._processes.clear()
        atexit.unregister(self._kill_now)
        if self._workdir is not None and self._owns_workdir:
            if self._keep_workdir:
                _log.info("control plane workdir kept", workdir=str(self._workdir))
            else:
                shutil.rmtree(self._workdir, ignore_errors=True)
        self._workdir = None
        self._server = None

    async def restart_apiserver(self, *, down_for: float = 0.0) -> None:
        """Stop kube-apiserver (by its PID), wait ``down_for`` seconds, start it again.

        SIGTERM, SIGKILL after 3 s; then the same port, flags and certificates. The objects are
        in etcd, so they survive. For tests of clients that must outlive an API server restart
        (a dropped watch, refused connections). Returns when it is ready again.
        """
        found = [(i, p) for i, p in enumerate(self._processes) if p.name == "kube-apiserver"]
        if not found:
            raise ControlPlaneError("the control plane is not running (call start() first)")
        index, old = found[0]
        # With clients' watches open it may take well over the usual grace to drain them; a
        # restart rehearsal does not need it to be graceful.
        await asyncio.to_thread(processes.terminate, old, _RESTART_GRACE_SECONDS)
        if down_for > 0:
            await asyncio.sleep(down_for)
        new = processes.spawn(old.name, old.argv, self.workdir)
        self._processes[index] = new
        try:
            deadline = time.monotonic() + self._start_timeout
            await components.wait_apiserver_ready(new, self.server, self._admin_tls(), deadline)
        except processes.ProcessError as exc:
            message = f"kube-apiserver did not restart: {exc}\n{new.describe()}"
            raise ControlPlaneError(message) from exc
        _log.info("kube-apiserver restarted", server=self.server, pid=new.popen.pid)

    # -- internals --------------------------------------------------------------------------

    def _write_pki(self) -> None:
        pki_dir = self.workdir / "pki"
        pki_dir.mkdir(mode=0o700, exist_ok=True)
        self._pki = pki = TestPKI()
        self._ca_file, _ = pki.ca.write(pki_dir, "ca")
        pki.serving_cert().write(pki_dir, "apiserver")
        pki.serving_cert().write(pki_dir, "controller-manager")
        pki.client_cert("admin", ["system:masters"]).write(pki_dir, "admin")
        sa_key = pki.service_account_key()
        private = pki_dir / "service-account.key"
        private.touch(mode=0o600)
        private.write_bytes(sa_key.private_pem)
        (pki_dir / "service-account.pub").write_bytes(sa_key.public_pem)

    def _admin_tls(self) -> ssl.SSLContext:
        pki = self.workdir / "pki"
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        return context

    async def _start_controller_manager(self, testbin: Testbin, deadline: float) -> None:
        pki = self.workdir / "pki"
        user = components.CONTROLLER_MANAGER_USER
        kubeconfig = write_kubeconfig(
            self.workdir / "kubeconfigs" / "kube-controller-manager.yaml",
            server=self.server,
            ca_pem=(pki / "ca.crt").read_bytes(),
            user=user,
            client=self._require(self._pki).client_cert(user),
        )
        await components.start_controller_manager(
            testbin.kube_controller_manager,
            self.workdir,
            kubeconfig,
            pki,
            deadline=deadline,
            started=self._processes,
            extra=self._extra_controller_manager_args,
        )

    def _log_tails(self) -> str:
        return "\n".join(process.describe() for process in self._processes)

    def _kill_now(self) -> None:
        """Last resort at interpreter exit: SIGKILL our children if stop() never ran."""
        for process in self._processes:
            processes.kill_now(process)

    def _require(self, value: _T | None) -> _T:
        if value is None:
            raise ControlPlaneError("the control plane is not running (call start() first)")
        return value


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
