"""Helpers of the chart tests on the real API server (fixtures in conftest.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

_ROOT = Path(__file__).resolve().parents[3]
for _path in (_ROOT / "tests" / "deploy", _ROOT / "tests" / "integration" / "controller"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from helmchart import Rendered, in_ci  # noqa: E402

__all__ = [
    "FIELD_MANAGER",
    "KUBECTL",
    "MONITORING_CRDS",
    "TEST_VALUES",
    "Installed",
    "expand",
    "kubectl",
    "missing",
    "stored_objects",
]

KUBECTL = Path(sys.executable).parent / "kubectl"
MONITORING_CRDS = (
    "monitoring.coreos.com_servicemonitors.yaml",
    "monitoring.coreos.com_prometheusrules.yaml",
)
FIELD_MANAGER = "wfe-chart-test"

# Chart values of the test install: the monitoring objects on, the release namespace created by
# the chart (as `helm template` users do), and a short cooldown so a whole lifecycle (lock
# released after the cooldown) fits in a test.
TEST_VALUES: dict[str, Any] = {
    "serviceMonitor": {"enabled": True},
    "prometheusRule": {"enabled": True},
    "namespaces": {"createReleaseNamespace": True},
    "config": {"cooldown": "3s", "backoff_base": "2s", "backoff_max": "8s", "workers": 2},
}


def missing(message: str) -> NoReturn:
    """Skip (fail under CI): a prerequisite build.sh makes is missing."""
    if in_ci():
        pytest.fail(f"CI is set and {message}", pytrace=False)
    pytest.skip(message)


def kubectl(
    kubeconfig: Path, cache: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run kubectl with a private discovery cache (the shared one may predate new CRDs)."""
    argv = [str(KUBECTL), "--kubeconfig", str(kubeconfig), "--cache-dir", str(cache / "kube-cache")]
    result = subprocess.run(
        [*argv, *args], capture_output=True, text=True, check=False, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


@dataclass(frozen=True)
class Installed:
    """The chart as applied: its namespaces, its documents and the file kubectl applied."""

    release_namespace: str
    exec_namespace: str
    rendered: Rendered
    manifest: Path
    admin_kubeconfig: Path
    service_account: str = "workflow-execution"

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return kubectl(self.admin_kubeconfig, self.manifest.parent, *args, check=check)


def stored_objects(installed: Installed) -> list[dict[str, Any]]:
    """What the API server holds for every rendered document (kubectl get -f)."""
    result = installed.kubectl("get", "-f", str(installed.manifest), "-o", "json")
    listed = json.loads(result.stdout)
    items: list[dict[str, Any]] = listed["items"] if listed.get("kind") == "List" else [listed]
    return items


def expand(rules: Sequence[Any]) -> set[tuple[str, str, str, str]]:
    """(group, resource, verb, resourceName) of RBAC rules (dicts or kubernetes_asyncio models)."""
    out: set[tuple[str, str, str, str]] = set()
    for rule in rules:
        if not isinstance(rule, dict):
            rule = {
                "apiGroups": rule.api_groups,
                "resources": rule.resources,
                "verbs": rule.verbs,
                "resourceNames": rule.resource_names,
            }
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                for verb in rule.get("verbs") or []:
                    for name in rule.get("resourceNames") or [""]:
                        out.add((group, resource, verb, name))
    return out
