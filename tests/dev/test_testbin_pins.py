"""The launcher looks for the binaries where tools/k8s-testbin/build.sh puts them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wfe.dev import testbin
from wfe.dev.testbin import KUBERNETES_VERSION

GO_MOD = Path(__file__).parents[2] / "tools" / "k8s-testbin" / "go.mod"


def test_kubernetes_version_matches_the_go_module_pin() -> None:
    pinned = re.search(r"^\s*k8s\.io/kubernetes (v\S+)$", GO_MOD.read_text(), re.MULTILINE)
    assert pinned is not None
    assert pinned.group(1) == KUBERNETES_VERSION


def test_testbin_dir_follows_xdg_cache_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("WFE_TESTBIN_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert testbin.testbin_dir() == tmp_path / "wfe-testbin" / KUBERNETES_VERSION


def test_testbin_dir_override_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "ignored"))
    monkeypatch.setenv("WFE_TESTBIN_DIR", str(tmp_path / "bin"))
    assert testbin.testbin_dir() == tmp_path / "bin"
