"""The `wfe` command: operator tools around the WorkflowExecution controller.

Subcommands that need no cluster (`crd`, `lock-name`) work anywhere; they print exactly what
the controller itself uses, so an operator's hand computation can never disagree with it.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
from pathlib import Path

import typer

from wfe import config
from wfe.api import crd
from wfe.core import errors, kinds, lock, target
from wfe.observability import logs

__all__ = ["app", "main"]

app = typer.Typer(
    name="wfe",
    help="WorkflowExecution controller: run remediation workflows safely.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (docs/cli.md)
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wfe {importlib.metadata.version('wfe')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """WorkflowExecution controller: run remediation workflows safely (also `kubectl wfe`)."""


@app.command("crd")
def _crd(output: str = typer.Option("yaml", "--output", "-o", help="yaml|json.")) -> None:
    """Print the WorkflowExecution CustomResourceDefinition (YAML)."""
    if output not in ("yaml", "json"):
        typer.echo(f"error: -o {output!r}: expected yaml or json", err=True)
        raise typer.Exit(2)
    if output == "json":
        typer.echo(json.dumps(crd.crd_manifest(), indent=2))
    else:
        typer.echo(crd.crd_yaml(), nl=False)


@app.command("lock-name")
def _lock_name(
    target_resource: str = typer.Argument(
        ..., metavar="TARGET", help="namespace/Kind/name or Kind/name"
    ),
    output: str = typer.Option("table", "--output", "-o", help="table|json|yaml."),
) -> None:
    """Print the lock (PipelineRun) name of a target, as the runbooks compute it.

    Warns (on stderr) when a built-in kind is spelled otherwise than the API server names it:
    the controller refuses such a target, so its lock name is not one that will ever be held.
    """
    _check_output(output)
    try:
        parsed = target.parse_target(target_resource)
    except errors.InvalidInput as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    spelling = kinds.check_kind(parsed, kinds.builtin_catalog())
    warning = str(spelling.problem) if isinstance(spelling, kinds.Misspelled) else None
    if warning:
        typer.echo(f"warning: {warning}", err=True)
    name = lock.lock_name(target_resource)
    if output == "table":
        typer.echo(name)
    else:
        data = {"target": target_resource, "lock": name, "warning": warning}
        typer.echo(_render(data, output), nl=False)


@app.command("run")
def _run(
    kubeconfig: Path | None = typer.Option(
        None, help="kubeconfig (default: in-cluster, then $KUBECONFIG)."
    ),
    config_file: Path | None = typer.Option(None, "--config", help="YAML settings file."),
    metrics_address: str | None = typer.Option(None, help="Metrics address [:9090]."),
    health_address: str | None = typer.Option(None, help="Probe address [:8081]."),
    execution_namespace: str | None = typer.Option(None, help="PipelineRun namespace."),
    watch_namespace: str | None = typer.Option(None, help="Only this WFE namespace."),
    cooldown: str | None = typer.Option(None, help="Cooldown per target [5m]."),
    workers: int | None = typer.Option(None, help="Concurrent reconciles [4]."),
    leader_election: bool | None = typer.Option(None, "--leader-election/--no-leader-election"),
    log_level: str | None = typer.Option(None, help="debug|info|warning|error."),
    log_format: str | None = typer.Option(None, help="json|console."),
    overrides: list[str] = typer.Option(
        [], "--set", help="Any setting as name=value (see docs/configuration.md); repeatable."
    ),
) -> None:
    """Run the controller (current kubeconfig or in-cluster)."""
    from wfe.cli.runner import run_controller

    flags = {
        "metrics_address": metrics_address,
        "health_address": health_address,
        "execution_namespace": execution_namespace,
        "watch_namespace": watch_namespace,
        "cooldown": cooldown,
        "workers": workers,
        "leader_election": leader_election,
        "log_level": log_level,
        "log_format": log_format,
    }
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or key.replace("-", "_") not in config.Settings.model_fields:
            typer.echo(f"error: --set {item!r}: expected name=value with a known setting", err=True)
            raise typer.Exit(2)
        flags[key.replace("-", "_")] = value
    try:
        settings = config.load_settings(config_file=config_file, flags=flags)
    except config.ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    from wfe.cli.cluster import check_kubeconfig, user_errors

    with user_errors():
        check_kubeconfig(kubeconfig)
    logs.configure_logging(settings.log_level, settings.log_format)
    raise typer.Exit(asyncio.run(run_controller(settings, kubeconfig)))


_SETTINGS_HELP = "Controller settings as name=value (as `wfe run --set`); repeatable."
_NAMESPACE_HELP = "Namespace [the kubeconfig context's, in-cluster the service account's]."


@app.command("clear-block")
def _clear_block(
    name: str = typer.Argument(..., help="The failed WorkflowExecution."),
    namespace: str | None = typer.Option(None, "--namespace", "-n", help=_NAMESPACE_HELP),
    reason: str = typer.Option(..., help="Why the target may be remediated again (audited)."),
    by: str | None = typer.Option(None, help="Who decides (default: the local user)."),
    wait: bool = typer.Option(False, "--wait", help="Wait for the controller's outcome."),
    timeout: str = typer.Option("30s", help="How long --wait waits (e.g. 30s, 2m)."),
    kubeconfig: Path | None = typer.Option(None),
    config_file: Path | None = typer.Option(None, "--config", help="The controller's settings."),
    overrides: list[str] = typer.Option([], "--set", help=_SETTINGS_HELP),
) -> None:
    """Clear the block a failed WorkflowExecution puts on its target (audited)."""
    from wfe.cli import cluster
    from wfe.cli.clear_block import clear_block
    from wfe.core.durations import parse_duration

    if not reason.strip():
        typer.echo("error: --reason must say why the block may be cleared", err=True)
        raise typer.Exit(2)
    try:
        seconds = parse_duration(timeout).total_seconds()
    except ValueError as exc:
        typer.echo(f"error: --timeout {timeout!r}: {exc}", err=True)
        raise typer.Exit(2) from exc
    settings = _settings(config_file, overrides)
    with cluster.user_errors():
        cluster.check_kubeconfig(kubeconfig)
        namespace = namespace or cluster.default_namespace(kubeconfig)
        outcome = asyncio.run(
            clear_block(
                name,
                namespace,
                reason=reason,
                by=by,
                kubeconfig=kubeconfig,
                policy=settings.policy(),
                wait=seconds if wait else None,
            )
        )
    typer.echo(outcome.message())


def _settings(config_file: Path | None, overrides: list[str]) -> config.Settings:
    """The controller's settings (file, environment, `--set`), as `wfe run` would load them."""
    flags: dict[str, object] = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or key.replace("-", "_") not in config.Settings.model_fields:
            typer.echo(f"error: --set {item!r}: expected name=value with a known setting", err=True)
            raise typer.Exit(2)
        flags[key.replace("-", "_")] = value
    try:
        return config.load_settings(config_file=config_file, flags=flags)
    except config.ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _check_output(output: str) -> None:
    if output not in ("table", "json", "yaml"):
        typer.echo(f"error: -o {output!r}: expected table, json or yaml", err=True)
        raise typer.Exit(2)


def _render(data: object, output: str) -> str:
    from wfe.cli.explain import render

    return render(data, output, "")


@app.command("explain")
def _explain(
    name: str | None = typer.Argument(None, help="An existing WorkflowExecution."),
    namespace: str | None = typer.Option(None, "--namespace", "-n", help=_NAMESPACE_HELP),
    target_resource: str | None = typer.Option(
        None, "--target", help="Explain a hypothetical WorkflowExecution on this target."
    ),
    workflow: str | None = typer.Option(None, help="Its workflowId (with --target)."),
    filename: Path | None = typer.Option(
        None, "--filename", "-f", help="Explain this WorkflowExecution manifest (not applied)."
    ),
    output: str = typer.Option("table", "--output", "-o", help="table|json|yaml."),
    kubeconfig: Path | None = typer.Option(None),
    config_file: Path | None = typer.Option(None, "--config", help="The controller's settings."),
    overrides: list[str] = typer.Option([], "--set", help=_SETTINGS_HELP),
) -> None:
    """What the controller would do with a WorkflowExecution now, by which rule, until when."""
    from wfe.cli import cluster
    from wfe.cli import explain as explain_cli

    _check_output(output)
    if sum(x is not None for x in (name, target_resource, filename)) != 1:
        typer.echo("error: give exactly one of NAME, --target, -f", err=True)
        raise typer.Exit(2)
    settings = _settings(config_file, overrides)
    with cluster.user_errors():
        manifest = explain_cli.load_manifest(filename) if filename else None
        cluster.check_kubeconfig(kubeconfig)
        namespace = namespace or cluster.default_namespace(kubeconfig)
        ex = asyncio.run(
            explain_cli.explain_command(
                name=name,
                namespace=namespace,
                target=target_resource,
                workflow=workflow,
                manifest=manifest,
                policy=settings.policy(),
                namespaces=[settings.watch_namespace],
                kubeconfig=kubeconfig,
            )
        )
    typer.echo(explain_cli.render_explanation(ex, output), nl=False)


@app.command("locks")
def _locks(
    namespace: str | None = typer.Option(
        None, "--namespace", "-n", help="Only targets in this namespace."
    ),
    target_resource: str | None = typer.Option(None, "--target", help="Only this target."),
    sort: str = typer.Option("target", help="Sort by this column (see -o json's keys)."),
    output: str = typer.Option("table", "--output", "-o", help="table|json|yaml."),
    kubeconfig: Path | None = typer.Option(None),
    config_file: Path | None = typer.Option(None, "--config", help="The controller's settings."),
    overrides: list[str] = typer.Option([], "--set", help=_SETTINGS_HELP),
) -> None:
    """The per-target safety ledger: every target held, cooling, backing off or blocked."""
    from wfe.cli import explain as explain_cli
    from wfe.cli.cluster import check_kubeconfig, user_errors

    _check_output(output)
    settings = _settings(config_file, overrides)
    with user_errors():
        check_kubeconfig(kubeconfig)
        rows = asyncio.run(
            explain_cli.locks_command(
                policy=settings.policy(),
                namespaces=[settings.watch_namespace],
                kubeconfig=kubeconfig,
            )
        )
        rows = explain_cli.select(rows, namespace=namespace, target=target_resource, sort=sort)
    typer.echo(explain_cli.render_ledger(rows, output), nl=False)


@app.command("doctor")
def _doctor(
    output: str = typer.Option("table", "--output", "-o", help="table|json|yaml."),
    strict: bool = typer.Option(False, help="Exit 1 on a warning or an unanswered check too."),
    controller_namespace: str = typer.Option(
        "kubernaut-system", help="The controller's namespace."
    ),
    controller_deployment: str = typer.Option("workflow-execution", help="Its Deployment."),
    service_account: str | None = typer.Option(
        None, help="NAMESPACE/NAME to review RBAC for (default: the Deployment's)."
    ),
    unphased_after: str = typer.Option(
        "1m", help="A WorkflowExecution without a phase for this long fails the check."
    ),
    kubeconfig: Path | None = typer.Option(None),
    config_file: Path | None = typer.Option(None, "--config", help="The controller's settings."),
    overrides: list[str] = typer.Option([], "--set", help=_SETTINGS_HELP),
) -> None:
    """Check Tekton, the CRD, the controller, its RBAC, the locks; ok/warn/fail with the fix."""
    from wfe.cli import doctor as doctor_cli
    from wfe.cli.cluster import user_errors
    from wfe.controller.doctor_probe import Where
    from wfe.core import verdict
    from wfe.core.durations import parse_duration

    _check_output(output)
    try:
        grace = parse_duration(unphased_after)
    except ValueError as exc:
        typer.echo(f"error: --unphased-after: {exc}", err=True)
        raise typer.Exit(2) from exc
    settings = _settings(config_file, overrides)
    where = Where(
        namespace=controller_namespace,
        deployment=controller_deployment,
        service_account=service_account,
    )
    with user_errors():
        verdicts = asyncio.run(
            doctor_cli.doctor_command(
                settings, where=where, kubeconfig=kubeconfig, unphased_after=grace
            )
        )
    typer.echo(doctor_cli.render_verdicts(verdicts, output), nl=False)
    raise typer.Exit(verdict.exit_code(verdicts, strict=strict))


@app.command("demo")
def _demo() -> None:
    """Run the controller on a local control plane through a scripted incident."""
    from wfe.cli.demo import run_demo

    logs.configure_logging("warning", "console")
    raise typer.Exit(asyncio.run(run_demo()))


@app.command("dev")
def _dev() -> None:
    """Start a local control plane, the Tekton simulator and the controller; Ctrl-C stops."""
    from wfe.cli.dev import run_dev

    logs.configure_logging("info", "console")
    raise typer.Exit(asyncio.run(run_dev()))


def main() -> None:
    """Entry point for `python -m wfe`."""
    app()
