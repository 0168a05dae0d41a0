"""Fixtures for the monitoring tests: the repository's `monitoring` package and promtool.

`promtool` comes from Debian's `prometheus` package (`scripts/bootstrap` installs it). When it
is missing the promtool tests are skipped, unless `CI` is set, where they fail.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def promtool() -> str:
    """The path of promtool."""
    path = shutil.which("promtool")
    if path is None:
        message = "promtool not installed (scripts/bootstrap installs Debian's prometheus)"
        if _in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path
