"""`wfe run`: start the controller against the current kubeconfig or in-cluster (SPEC §9).

Start-up order: validate settings (exit 2 naming the field), connect, check that Tekton's
PipelineRun API is served (exit 1 with the runbook's message if not, RB-WE-004), then serve
probes and metrics and contend for leadership. SIGTERM/SIGINT stop intake, cancel in-flight
reconciles (each is idempotent, so an interrupted one is simply redone by the next leader),
flush audit and release the Lease.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import structlog
from kubernetes_asyncio import config as kube_config
from kubernetes_asyncio.client import ApiClient, Configuration

from wfe.config import Settings
from wfe.controller.manager import TEKTON_MISSING, Controller, tekton_available
from wfe.kube import errors
from wfe.kube.client import Client

__all__ = ["api_client", "run_controller"]

_log = structlog.get_logger("wfe")


async def api_client(kubeconfig: Path | None) -> ApiClient:
    """An ApiClient from `kubeconfig`, else $KUBECONFIG/~/.kube/config, else in-cluster."""
    configuration = Configuration()
    if kubeconfig is None:
        try:
            kube_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            return ApiClient(configuration)
        except kube_config.ConfigException:
            pass
    await kube_config.load_kube_config(
        config_file=str(kubeconfig) if kubeconfig else None, client_configuration=configuration
    )
    return ApiClient(configuration)


async def run_controller(
    settings: Settings, kubeconfig: Path | None, *, stop: asyncio.Event | None = None
) -> int:
    """Run until SIGTERM/SIGINT (or `stop`); the process exit code."""
    api = await api_client(kubeconfig)
    async with api:
        client = Client(api)
        try:
            available = await tekton_available(client)
        except errors.ApiError as exc:
            _log.error(TEKTON_MISSING, error=str(exc))
            return 1
        if not available:
            _log.error(TEKTON_MISSING, missing="tekton.dev/v1 pipelineruns")
            return 1
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await Controller(settings, client).run(stop)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
    return 0
