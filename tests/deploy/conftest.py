"""Fixtures for the chart and image tests: ``helm`` (the binary build.sh made) and ``chart``.

Without helm the chart tests are skipped with the reason, unless ``CI`` is set, where they fail
(``scripts/bootstrap`` builds helm with kube-apiserver).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helmchart import helm_path, in_ci


@pytest.fixture(scope="session")
def helm() -> Path:
    """The path of helm (tools/k8s-testbin/build.sh builds it)."""
    path = helm_path()
    if path is None:
        message = "helm not built: run tools/k8s-testbin/build.sh (or scripts/bootstrap)"
        if in_ci():
            pytest.fail(f"CI is set and {message}", pytrace=False)
        pytest.skip(message)
    return path
