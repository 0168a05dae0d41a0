"""The command lines of the local control plane's three programs (docs/testenv.md).

Pure: given ports, paths and the PKI files' directory, the flags etcd, kube-apiserver and
kube-controller-manager run with, and why each non-obvious one is there.
:mod:`wfe.dev.controlplane` starts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "CONTROLLERS",
    "CONTROLLER_MANAGER_USER",
    "apiserver_args",
    "controller_manager_args",
    "etcd_args",
]

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
