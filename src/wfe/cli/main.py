"""The `wfe` command: operator tools around the WorkflowExecution controller.

Subcommands that need no cluster (`crd`, `lock-name`) work anywhere; they print exactly what
the controller itself uses, so an operator's hand computation can never disagree with it.
"""

from __future__ import annotations

import typer

from wfe.api import crd
from wfe.core import errors, lock, target

__all__ = ["app", "main"]

app = typer.Typer(
    name="wfe",
    help="WorkflowExecution controller: run remediation workflows safely.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("crd")
def _crd() -> None:
    """Print the WorkflowExecution CustomResourceDefinition (YAML)."""
    typer.echo(crd.crd_yaml(), nl=False)


@app.command("lock-name")
def _lock_name(
    target_resource: str = typer.Argument(
        ..., metavar="TARGET", help="namespace/Kind/name or Kind/name"
    ),
) -> None:
    """Print the lock (PipelineRun) name of a target, as the runbooks compute it."""
    try:
        target.parse_target(target_resource)
    except errors.InvalidInput as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(lock.lock_name(target_resource))


def main() -> None:
    """Entry point for `python -m wfe`."""
    app()
