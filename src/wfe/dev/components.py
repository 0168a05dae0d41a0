"""The local control plane's three programs, one by one (docs/testenv.md).

For etcd, kube-apiserver and kube-controller-manager: the flags each runs with (``*_args``,
pure, with why each non-obvious one is there) and how each is started on a free loopback port
and waited for until ready (``start_*``, :mod:`wfe.dev.processes` underneath). Every process
is appended to the caller's list as soon as it is spawned, so that the caller stops it even
when it never becomes ready. :mod:`wfe.dev.controlplane` puts them together.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path

import structlog

from wfe.dev import processes
from wfe.dev.processes import ChildProcess, http_ok, wait_until

__all__ = [
    "CONTROLLERS",
    "CONTROLLER_MANAGER_USER",
    "apiserver_args",
    "controller_manager_args",
    "etcd_args",
    "start_apiserver",
    "start_controller_manager",
    "start_etcd",
    "wait_apiserver_ready",
]

_log = structlog.get_logger(__name__)

_SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"  # an allocation range only: nothing dials it

CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
"""kube-controller-manager's user: the bootstrap RBAC binds it to its ClusterRole."""

CONTROLLERS = (
    "garbage-collector-controller",  # ownerReferences: a deleted PipelineRun takes its TaskRuns
    "namespace-controller",  # a deleted namespace is emptied and goes away
    "serviceaccount-controller",  # `default` ServiceAccount in every namespace
    "serviceaccount-token-controller",  # tokens for ServiceAccount token Secrets
)
"""The kube-controller-manager controllers the control plane runs (``--controllers``)."""


def etcd_args(binary: Path, workdir: Path, client_url: str, peer_url: str) -> list[str]:
    """etcd alone, data in ``workdir``; no fsync (a test store, thrown away afterwards)."""
    return [
        str(binary),
        "--name=wfe-dev",
        f"--data-dir={workdir / 'etcd-data'}",
        f"--listen-client-urls={client_url}",
        f"--advertise-client-urls={client_url}",
        f"--listen-peer-urls={peer_url}",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=wfe-dev={peer_url}",
        "--unsafe-no-fsync=true",
        "--log-level=warn",
    ]


def apiserver_args(
    binary: Path,
    workdir: Path,
    pki: Path,
    *,
    etcd_url: str,
    port: int,
    extra: Sequence[str] = (),
) -> list[str]:
    """kube-apiserver on ``127.0.0.1:port``: client certificates, ServiceAccount tokens, RBAC."""
    return [
        str(binary),
        f"--etcd-servers={etcd_url}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={workdir / 'apiserver-certs'}",
        f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--service-account-issuer=https://127.0.0.1:{port}",
        # The verifying flag reads a public key, the signing flag a SEC 1 EC private key.
        f"--service-account-key-file={pki / 'service-account.pub'}",
        f"--service-account-signing-key-file={pki / 'service-account.key'}",
        "--authorization-mode=RBAC",
        # No Pod ever runs here (no scheduler, no kubelet): nothing to check a Pod's account of.
        "--disable-admission-plugins=ServiceAccount",
        f"--service-cluster-ip-range={_SERVICE_CLUSTER_IP_RANGE}",
        # Nothing runs behind the `kubernetes` Service: don't maintain its endpoints.
        "--endpoint-reconciler-type=none",
        "--allow-privileged=true",
        *extra,
    ]


def controller_manager_args(
    binary: Path, kubeconfig: Path, pki: Path, *, port: int, extra: Sequence[str] = ()
) -> list[str]:
    """kube-controller-manager with :data:`CONTROLLERS` only, secure port on ``127.0.0.1:port``.

    It runs as :data:`CONTROLLER_MANAGER_USER`, whose ClusterRole may list and watch everything
    and create ServiceAccounts and their tokens, but not delete; with
    ``--use-service-account-credentials`` each controller runs as a ServiceAccount of its own in
    ``kube-system``, bound to its ``system:controller:*`` role, as in a kubeadm cluster. No
    leader election (one instance), no cloud provider (none is configured by default).
    """
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        # Its secure port (/healthz, /metrics) checks tokens and permissions with the API
        # server, and client certificates against our CA; the CA bundles are not looked up in
        # kube-system (there is no front proxy, so that lookup only logs errors).
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--authentication-skip-lookup=true",
        f"--client-ca-file={pki / 'ca.crt'}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--tls-cert-file={pki / 'controller-manager.crt'}",
        f"--tls-private-key-file={pki / 'controller-manager.key'}",
        f"--controllers={','.join(CONTROLLERS)}",
        "--leader-elect=false",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki / 'service-account.key'}",
        f"--root-ca-file={pki / 'ca.crt'}",
        # Deleting a namespace takes a call or two per resource type; 20/s made it slow.
        "--kube-api-qps=50",
        "--kube-api-burst=100",
        *extra,
    ]


async def start_etcd(
    binary: Path, workdir: Path, deadline: float, started: list[ChildProcess]
) -> str:
    """Start etcd; return its client URL once ``/health`` says it is healthy."""
    client_port, peer_port = processes.free_ports(2)
    client_url = f"http://127.0.0.1:{client_port}"
    argv = etcd_args(binary, workdir, client_url, f"http://127.0.0.1:{peer_port}")
    process = processes.spawn("etcd", argv, workdir)
    started.append(process)
    await wait_until(
        process, deadline, lambda: http_ok(f"{client_url}/health", None, b'"health":"true"')
    )
    _log.info("etcd ready", url=client_url, pid=process.popen.pid)
    return client_url


async def start_apiserver(
    binary: Path,
    workdir: Path,
    pki: Path,
    *,
    etcd_url: str,
    tls: ssl.SSLContext,
    deadline: float,
    started: list[ChildProcess],
    extra: Sequence[str] = (),
) -> str:
    """Start kube-apiserver; return its URL once ready (:func:`wait_apiserver_ready`)."""
    (port,) = processes.free_ports(1)
    argv = apiserver_args(binary, workdir, pki, etcd_url=etcd_url, port=port, extra=extra)
    process = processes.spawn("kube-apiserver", argv, workdir)
    started.append(process)
    server = f"https://127.0.0.1:{port}"
    await wait_apiserver_ready(process, server, tls, deadline)
    _log.info("kube-apiserver ready", server=server, pid=process.popen.pid)
    return server


async def wait_apiserver_ready(
    process: ChildProcess, server: str, tls: ssl.SSLContext, deadline: float
) -> None:
    """``/readyz`` answers 200 and namespace ``default`` exists (``tls``: an admin's)."""
    await wait_until(process, deadline, lambda: http_ok(f"{server}/readyz", tls, b"ok"))
    # /readyz can pass a moment before the bootstrap controller has made `default`.
    await wait_until(
        process,
        deadline,
        lambda: http_ok(f"{server}/api/v1/namespaces/default", tls, b'"default"'),
    )


async def start_controller_manager(
    binary: Path,
    workdir: Path,
    kubeconfig: Path,
    pki: Path,
    *,
    deadline: float,
    started: list[ChildProcess],
    extra: Sequence[str] = (),
) -> None:
    """Start kube-controller-manager; return once its ``/healthz`` answers ``ok``."""
    (port,) = processes.free_ports(1)
    argv = controller_manager_args(binary, kubeconfig, pki, port=port, extra=extra)
    process = processes.spawn("kube-controller-manager", argv, workdir)
    started.append(process)
    tls = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    url = f"https://127.0.0.1:{port}/healthz"  # always allowed, without credentials
    await wait_until(process, deadline, lambda: http_ok(url, tls, b"ok"))
    _log.info("kube-controller-manager ready", healthz=url, pid=process.popen.pid)
