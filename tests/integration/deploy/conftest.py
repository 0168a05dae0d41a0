"""Fixtures for the chart on the real API server.

- ``helm``: the helm tools/k8s-testbin/build.sh made (skipped without it, failed under CI).
- ``installed``: the chart rendered with ``helm template --include-crds`` into a fresh release
  namespace and execution namespace, and applied server-side with kubectl, after the Prometheus
  Operator's real ServiceMonitor and PrometheusRule CRDs (build.sh copies them from its Go
  module) were installed, so every rendered object is checked against its real schema.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from chart_install import FIELD_MANAGER, MONITORING_CRDS, TEST_VALUES, Installed, kubectl, missing
from helmchart import helm_path, render, template
from kubernetes_asyncio.client import ApiClient

from wfe.dev.controlplane import ControlPlane
from wfe.dev.crds import install_crds, load_crd_documents
from wfe.dev.testbin import testbin_dir


@pytest.fixture(scope="session")
def helm() -> Path:
    path = helm_path()
    if path is None:
        missing("helm not built: run tools/k8s-testbin/build.sh (or scripts/bootstrap)")
    return path


async def _install_monitoring_crds(api: ApiClient) -> None:
    directory = testbin_dir() / "monitoring-crds"
    paths = [directory / name for name in MONITORING_CRDS]
    if not all(p.is_file() for p in paths):
        missing(f"{directory} lacks the Prometheus Operator CRDs: run tools/k8s-testbin/build.sh")
    crds = [doc for p in paths for doc in load_crd_documents(p.read_text())]
    await install_crds(api, crds, timeout=60)


@pytest.fixture(scope="module")
async def installed(
    helm: Path,
    control_plane: ControlPlane,
    api_client: ApiClient,
    tmp_path_factory: pytest.TempPathFactory,
) -> Installed:
    """The chart, applied server-side into fresh namespaces (see the module docstring)."""
    await _install_monitoring_crds(api_client)
    suffix = secrets.token_hex(3)
    release_namespace, exec_namespace = f"wfe-sys-{suffix}", f"wfe-exec-{suffix}"
    values = {
        **TEST_VALUES,
        "namespaces": {**TEST_VALUES["namespaces"], "execution": exec_namespace},
    }
    directory = tmp_path_factory.mktemp("chart")
    manifest = directory / "rendered.yaml"
    manifest.write_text(
        template(helm, namespace=release_namespace, values=values, include_crds=True)
    )
    rendered = render(helm, namespace=release_namespace, values=values, include_crds=True)
    applied = kubectl(
        control_plane.admin_kubeconfig,
        directory,
        "apply",
        "--server-side",
        f"--field-manager={FIELD_MANAGER}",
        "-f",
        str(manifest),
    )
    lines = [line for line in applied.stdout.splitlines() if line.strip()]
    assert len(lines) == len(rendered.docs), applied.stdout
    assert all(line.endswith("serverside-applied") for line in lines), applied.stdout
    return Installed(
        release_namespace, exec_namespace, rendered, manifest, control_plane.admin_kubeconfig
    )
