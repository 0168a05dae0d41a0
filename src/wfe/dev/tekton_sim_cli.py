"""The Tekton simulator's command line: ``python -m wfe.dev.tekton_sim`` (docs/testenv.md).

Runs one :class:`wfe.dev.tekton_sim.TektonSimulator` for the PipelineRuns of one namespace
until SIGINT or SIGTERM; the benchmark starts it this way, in a process of its own, as Tekton
would be.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Sequence

import structlog
from kubernetes_asyncio import config

from wfe.dev.tekton_scenarios import Scenario
from wfe.dev.tekton_sim import SimSettings, TektonSimulator

__all__ = ["main"]

_log = structlog.get_logger(__name__)


def _scenario_mapping(values: Sequence[str]) -> dict[str, Scenario]:
    mapping: dict[str, Scenario] = {}
    for value in values:
        target, sep, scenario = value.rpartition("=")
        if not sep or not target:
            raise argparse.ArgumentTypeError(f"expected TARGET=SCENARIO, got {value!r}")
        mapping[target] = Scenario(scenario)
    return mapping


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wfe.dev.tekton_sim",
        description="Tekton simulator (test and dev tool): plays Tekton's controller for the "
        "PipelineRuns of one namespace.",
    )
    parser.add_argument("--kubeconfig", required=True, help="kubeconfig of the API server")
    parser.add_argument("--namespace", default="kubernaut-workflows", help="namespace to watch")
    parser.add_argument(
        "--default-scenario",
        default=Scenario.SUCCESS.value,
        choices=[s.value for s in Scenario],
        help="scenario when a PipelineRun names none (annotation sim.kubernaut.ai/scenario "
        "or parameter SIM_SCENARIO)",
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="default scenario duration in seconds"
    )
    parser.add_argument(
        "--scenario-for",
        action="append",
        default=[],
        metavar="TARGET=SCENARIO",
        help="scenario for the PipelineRuns of a target (repeatable)",
    )
    return parser


async def _serve(args: argparse.Namespace) -> None:
    settings = SimSettings(
        default_scenario=Scenario(args.default_scenario),
        default_duration=args.duration,
        scenario_by_target=_scenario_mapping(args.scenario_for),
    )
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        if task is not None:
            loop.add_signal_handler(sig, task.cancel)
    api = await config.new_client_from_config(config_file=args.kubeconfig)
    async with api:
        _log.info("tekton simulator: watching", namespace=args.namespace)
        with contextlib.suppress(asyncio.CancelledError):
            await TektonSimulator(api, args.namespace, settings).run()


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (``python -m wfe.dev.tekton_sim``); returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _scenario_mapping(args.scenario_for)
    except (argparse.ArgumentTypeError, ValueError) as exc:
        parser.error(str(exc))
    asyncio.run(_serve(args))
    return 0
