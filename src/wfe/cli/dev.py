"""`wfe dev`: the local stack for hands-on use, until Ctrl-C."""

from __future__ import annotations

import asyncio
import signal

from rich.console import Console

from wfe.cli.stack import local_stack

__all__ = ["run_dev"]


async def run_dev(console: Console | None = None) -> int:
    """Start the stack, print how to reach it, wait for SIGINT/SIGTERM."""
    console = console or Console()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with local_stack(cooldown="1m") as stack:
        kubeconfig = stack.control_plane.admin_kubeconfig
        console.print(f"[bold]Local stack ready.[/bold] kubeconfig: {kubeconfig}")
        console.print(f"  export KUBECONFIG={kubeconfig}")
        console.print("  wfe crd | kubectl apply --server-side -f -   # already installed")
        console.print("  kubectl get wfe -A")
        console.print(
            f"  metrics: http://127.0.0.1:{stack.controller.metrics_server.port}/metrics, "
            f"readiness: http://127.0.0.1:{stack.controller.probe_server.port}/readyz"
        )
        console.print(
            "  Tekton simulator: choose an outcome with parameter SIM_SCENARIO "
            "(success, step_oomkilled, image_pull_backoff, ...)."
        )
        console.print("Ctrl-C stops everything.")
        await stop.wait()
    return 0
