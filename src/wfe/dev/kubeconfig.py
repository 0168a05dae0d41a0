"""Self-contained kubeconfig files for the local control plane's identities, and tokens.

Every file embeds the CA and the credentials (client certificate or bearer token), so it works
from any directory and with any client (kubectl, kubernetes_asyncio, the controller) and can be
handed around as one path. Files are written with mode 0600. :func:`service_account_token`
gets a ServiceAccount's bearer token from the TokenRequest API.
"""

from __future__ import annotations

import base64
from pathlib import Path

import yaml
from kubernetes_asyncio.client import (
    ApiClient,
    AuthenticationV1TokenRequest,
    CoreV1Api,
    V1ObjectMeta,
    V1ServiceAccount,
    V1TokenRequestSpec,
)
from kubernetes_asyncio.client.exceptions import ApiException

from wfe.dev.pki import CertKey

__all__ = ["service_account_token", "write_kubeconfig"]


def write_kubeconfig(
    path: Path,
    *,
    server: str,
    ca_pem: bytes,
    user: str,
    client: CertKey | None = None,
    token: str | None = None,
    namespace: str | None = None,
    cluster: str = "wfe-dev",
) -> Path:
    """Write a kubeconfig for ``user`` at ``server`` authenticating with ``client`` or ``token``.

    Its only context, ``<user>@<cluster>``, is the current one; ``namespace`` becomes that
    context's default namespace.

    Raises:
        ValueError: neither or both of ``client`` and ``token`` are given.
    """
    if (client is None) == (token is None):
        raise ValueError("give exactly one of client (certificate) and token")
    credentials: dict[str, str] = {}
    if client is not None:
        credentials["client-certificate-data"] = _b64(client.cert_pem)
        credentials["client-key-data"] = _b64(client.key_pem)
    if token is not None:
        credentials["token"] = token
    context_name = f"{user}@{cluster}"
    context: dict[str, str] = {"cluster": cluster, "user": user}
    if namespace:
        context["namespace"] = namespace
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)},
            }
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": context_name, "context": context}],
        "current-context": context_name,
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def service_account_token(
    api: ApiClient, namespace: str, name: str, *, create: bool, expiration_seconds: int
) -> str:
    """A token for ServiceAccount ``namespace/name`` from the TokenRequest API.

    With ``create`` the ServiceAccount is created first (an existing one is fine).
    """
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
