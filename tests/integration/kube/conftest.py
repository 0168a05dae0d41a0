"""Fixtures for wfe.kube's tests against the real API server."""

from __future__ import annotations

import pytest
from kubernetes_asyncio.client import ApiClient

from wfe.kube.client import Client


@pytest.fixture
def client(api_client: ApiClient) -> Client:
    """An admin Client (its own write counter) on the session's ApiClient."""
    return Client(api_client)
