"""User errors of the commands that read a cluster: one line on stderr, exit 1, no traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from kubernetes_asyncio.config import ConfigException

from wfe.controller.inspect import InspectError
from wfe.kube import errors

__all__ = ["user_errors"]


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn what a user can fix (no kubeconfig, not found, forbidden, unreachable) into one
    line and exit code 1."""
    try:
        yield
    except InspectError as exc:
        _fail(str(exc))
    except errors.ApiError as exc:
        _fail(f"the API server said: {exc}")
    except ConfigException as exc:
        _fail(f"no usable kubeconfig: {exc}")
    except (OSError, ValueError) as exc:
        _fail(str(exc))


def _fail(message: str) -> None:
    typer.echo(f"error: {message.splitlines()[0] if message else 'failed'}", err=True)
    raise typer.Exit(1)
