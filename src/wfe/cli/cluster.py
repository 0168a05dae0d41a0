"""What the commands that read a cluster share (docs/cli.md): the kubeconfig, checked before
connecting, the default namespace it names, and user errors as one line on stderr, exit 1.

The kubeconfig is found as `api_client` (cli.runner) finds it: `--kubeconfig`, else in-cluster
(the service account), else `$KUBECONFIG` (a `:`-separated list, merged as kubectl merges it:
the first file to set a key wins), else `~/.kube/config`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
import yaml
from kubernetes_asyncio.config import ConfigException

from wfe.controller.inspect import InspectError
from wfe.kube import errors

__all__ = [
    "KubeconfigError",
    "check_kubeconfig",
    "default_namespace",
    "in_cluster",
    "user_errors",
]

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
_SERVICE_ACCOUNT_TOKEN = SERVICE_ACCOUNT_NAMESPACE.with_name("token")
_WHAT_TO_DO = "pass --kubeconfig FILE or set KUBECONFIG"


class KubeconfigError(ValueError):
    """No usable kubeconfig: missing, not YAML, no current context."""


def in_cluster() -> bool:
    """Whether `api_client` would use the service account (as kubernetes_asyncio decides)."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and _SERVICE_ACCOUNT_TOKEN.is_file()


def _files(kubeconfig: Path | None) -> list[Path]:
    if kubeconfig is not None:
        return [kubeconfig]
    env = os.environ.get("KUBECONFIG", "")
    paths = [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return paths or [Path("~/.kube/config").expanduser()]


def _load(kubeconfig: Path | None) -> dict[str, Any]:
    """The merged kubeconfig (first file to set a key wins, as kubectl merges).

    Raises:
        KubeconfigError: no file exists, one is not YAML, or none names a current context.
    """
    files = _files(kubeconfig)
    merged: dict[str, Any] = {}
    contexts: dict[str, Any] = {}
    found = []
    for path in files:
        if not path.is_file():
            continue
        found.append(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise KubeconfigError(
                f"kubeconfig {path} is unreadable ({first}); {_WHAT_TO_DO}"
            ) from exc
        if data is None:
            continue
        if not isinstance(data, dict):
            raise KubeconfigError(f"kubeconfig {path} is not a kubeconfig; {_WHAT_TO_DO}")
        for key, value in data.items():
            merged.setdefault(key, value)
        for entry in data.get("contexts") or []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                contexts.setdefault(entry["name"], entry.get("context") or {})
    if not found:
        where = ", ".join(str(p) for p in files)
        raise KubeconfigError(f"no kubeconfig: {where} does not exist; {_WHAT_TO_DO}")
    current = merged.get("current-context")
    if not current:
        raise KubeconfigError(
            f"kubeconfig {found[0]} has no current-context; run `kubectl config use-context NAME`"
        )
    if current not in contexts:
        raise KubeconfigError(
            f"kubeconfig {found[0]}: current-context {current!r} is not among its contexts; "
            "run `kubectl config use-context NAME`"
        )
    merged["contexts"] = contexts
    return merged


def check_kubeconfig(kubeconfig: Path | None) -> None:
    """Fail with a `KubeconfigError` that says what to do, before connecting with it.

    Does nothing in-cluster without `--kubeconfig`: the service account is used.
    """
    if kubeconfig is None and in_cluster():
        return
    _load(kubeconfig)


def default_namespace(kubeconfig: Path | None) -> str:
    """The namespace when `-n` is not given: the current context's (as kubectl), in-cluster the
    service account's, else `default`.

    Raises:
        KubeconfigError: see `check_kubeconfig`.
    """
    if kubeconfig is None and in_cluster():
        try:
            return SERVICE_ACCOUNT_NAMESPACE.read_text(encoding="utf-8").strip() or "default"
        except OSError:
            return "default"
    loaded = _load(kubeconfig)
    context = loaded["contexts"][loaded["current-context"]]
    namespace = context.get("namespace") if isinstance(context, dict) else None
    return namespace if isinstance(namespace, str) and namespace else "default"


def _hint(exc: errors.ApiError) -> str:
    if isinstance(exc, errors.Forbidden):
        return "your identity lacks RBAC for this; check `kubectl auth can-i`"
    if isinstance(exc, errors.Unauthorized):
        return "the API server refused your credentials; refresh them or switch context"
    if isinstance(exc, errors.Unavailable):
        return "cannot reach the API server; check the cluster is up and the kubeconfig's server"
    if isinstance(exc, errors.NotFound):
        return "check the name and -n NAMESPACE"
    return ""


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn what a user can fix (no kubeconfig, not found, forbidden, unreachable) into one
    line and exit code 1."""
    try:
        yield
    except InspectError as exc:
        cause = exc.__cause__
        _fail(str(exc), _hint(cause) if isinstance(cause, errors.ApiError) else "")
    except errors.ApiError as exc:
        _fail(f"the API server said: {exc}", _hint(exc))
    except ConfigException as exc:
        _fail(f"no usable kubeconfig: {exc}", _WHAT_TO_DO)
    except (OSError, ValueError) as exc:
        _fail(str(exc), "")


def _fail(message: str, hint: str) -> None:
    line = message.splitlines()[0] if message else "failed"
    if hint and hint not in line:
        line = f"{line}; {hint}"
    typer.echo(f"error: {line}", err=True)
    raise typer.Exit(1)
