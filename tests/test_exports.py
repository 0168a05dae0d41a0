"""Every module declares `__all__`, lists only names it has, and lists every public name it
defines (the httpx convention, STYLE §4)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import wfe

_SKIP = {"wfe.__main__"}


def _modules() -> list[ModuleType]:
    names = [m.name for m in pkgutil.walk_packages(wfe.__path__, "wfe.") if m.name not in _SKIP]
    return [importlib.import_module(n) for n in ["wfe", *names]]


@pytest.mark.parametrize("module", _modules(), ids=lambda m: m.__name__)
def test_module_declares_its_public_names(module: ModuleType) -> None:
    assert hasattr(module, "__all__"), f"{module.__name__} has no __all__"
    exported = set(module.__all__)
    missing = sorted(n for n in exported if not hasattr(module, n))
    assert not missing, f"{module.__name__}.__all__ lists undefined {missing}"
    defined = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and getattr(value, "__module__", None) == module.__name__
    }
    unlisted = sorted(defined - exported)
    assert not unlisted, f"{module.__name__} defines public {unlisted} outside __all__"
