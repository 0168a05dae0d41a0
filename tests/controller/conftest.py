"""Fixtures of the controller shell's unit tests: a reconciler over the fake API server."""

from __future__ import annotations

import pytest
from world import World


@pytest.fixture
def world() -> World:
    return World()
