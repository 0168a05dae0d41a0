"""Installing CustomResourceDefinitions into the local control plane and waiting for them.

Two sources (docs/testenv.md, "Running"):

- our own CRD, ``wfe/api/crd.yaml`` (package data of :mod:`wfe.api`);
- Tekton's real ``PipelineRun`` and ``TaskRun`` CRDs, copied by tools/k8s-testbin/build.sh
  from the ``github.com/tektoncd/pipeline`` Go module. Their ``spec.conversion`` names a webhook
  Service that does not exist here, so it is replaced by ``strategy: None``.

CRDs are created (or replaced) through the API, not with a client-side apply: Tekton's are too
large for the last-applied annotation. A CRD counts as installed when it is ``Established`` and
every served version lists its plural in API discovery.
"""

from __future__ import annotations

import asyncio
import importlib.resources
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import structlog
import yaml
from kubernetes_asyncio.client import (
    ApiClient,
    ApiextensionsV1Api,
    CustomObjectsApi,
    V1CustomResourceDefinition,
)
from kubernetes_asyncio.client.exceptions import ApiException

__all__ = [
    "CrdTimeoutError",
    "install_crds",
    "load_crd_documents",
    "load_tekton_crds",
    "load_wfe_crds",
    "wait_for_crds",
]

_log = structlog.get_logger(__name__)

Manifest = dict[str, Any]


class CrdTimeoutError(TimeoutError):
    """A CRD did not become Established and discoverable in time."""


def load_crd_documents(text: str) -> list[Manifest]:
    """The CustomResourceDefinition documents in a (multi-document) YAML text."""
    return [
        doc
        for doc in yaml.safe_load_all(text)
        if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"
    ]


def load_wfe_crds() -> list[Manifest]:
    """Our own CRD(s) from ``wfe/api/crd.yaml``; empty (with a log line) while it is missing."""
    resource = importlib.resources.files("wfe.api") / "crd.yaml"
    if not resource.is_file():
        _log.warning("skipping the wfe CRD: wfe/api/crd.yaml does not exist yet")
        return []
    return load_crd_documents(resource.read_text(encoding="utf-8"))


def load_tekton_crds(paths: Iterable[Path]) -> list[Manifest]:
    """Tekton's CRDs from ``paths`` with ``spec.conversion`` set to ``strategy: None``."""
    crds: list[Manifest] = []
    for path in paths:
        for crd in load_crd_documents(path.read_text(encoding="utf-8")):
            crd["spec"]["conversion"] = {"strategy": "None"}
            crds.append(crd)
    return crds


async def install_crds(
    api: ApiClient, crds: Sequence[Manifest], *, timeout: float = 60.0
) -> list[str]:
    """Create or replace ``crds`` and wait until each is Established and discoverable.

    Returns the CRD names. Raises :class:`CrdTimeoutError` after ``timeout`` seconds, and
    ``ApiException`` when the server rejects a CRD.
    """
    extensions = ApiextensionsV1Api(api)
    for crd in crds:
        name: str = crd["metadata"]["name"]
        try:
            await extensions.create_custom_resource_definition(body=_as_model(crd))
        except ApiException as exc:
            if exc.status != 409:
                raise
            current = await extensions.read_custom_resource_definition(name)
            body = {**crd, "metadata": {**crd["metadata"]}}
            body["metadata"]["resourceVersion"] = current.metadata.resource_version
            await extensions.replace_custom_resource_definition(name, body=_as_model(body))
        _log.info("crd submitted", crd=name)
    await wait_for_crds(api, crds, timeout=timeout)
    return [crd["metadata"]["name"] for crd in crds]


def _as_model(crd: Manifest) -> V1CustomResourceDefinition:
    # kubernetes_asyncio sends a dict body as it is. Building the model instead would round-trip
    # Tekton's ~800 KB of schema through generated classes that may not know every field.
    return cast(V1CustomResourceDefinition, crd)


async def wait_for_crds(api: ApiClient, crds: Sequence[Manifest], *, timeout: float) -> None:
    """Wait until every CRD in ``crds`` is Established and its served versions discoverable."""
    pending = [crd["metadata"]["name"] for crd in crds]
    try:
        async with asyncio.timeout(timeout):
            for crd in crds:
                await _wait_for_crd(api, crd)
                pending.remove(crd["metadata"]["name"])
    except TimeoutError:
        raise CrdTimeoutError(
            f"CRDs not established and discoverable after {timeout:.0f} s: {pending}"
        ) from None


async def _wait_for_crd(api: ApiClient, crd: Manifest) -> None:
    name: str = crd["metadata"]["name"]
    spec = crd["spec"]
    extensions = ApiextensionsV1Api(api)
    discovery = CustomObjectsApi(api)
    while True:
        current = await extensions.read_custom_resource_definition(name)
        conditions = (current.status.conditions or []) if current.status else []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            break
        await asyncio.sleep(0.2)
    for version in (v["name"] for v in spec["versions"] if v.get("served", True)):
        while not await _discoverable(discovery, spec["group"], version, spec["names"]["plural"]):
            await asyncio.sleep(0.2)
    _log.info("crd established", crd=name)


async def _discoverable(discovery: CustomObjectsApi, group: str, version: str, plural: str) -> bool:
    try:
        resources = await discovery.get_api_resources(group, version)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return any(r.name == plural for r in resources.resources or [])
