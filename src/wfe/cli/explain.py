"""`wfe explain` and `wfe locks`: the controller's decisions, told (docs/cli.md).

The cluster is read by `controller.inspect`, the answer computed by `core.explain` and
`core.ledger` from the controller's own plans; this module only connects, and prints a table,
JSON or YAML. A question the cluster will not answer is one line on stderr and exit 1.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from wfe.cli.runner import api_client
from wfe.controller import inspect
from wfe.controller.resources import WORKFLOW_EXECUTIONS
from wfe.core import explain, ledger
from wfe.core.policy import Policy
from wfe.kube import errors
from wfe.kube.client import Client, KubeObject

__all__ = [
    "FORMATS",
    "explain_command",
    "explain_with",
    "load_manifest",
    "locks_command",
    "locks_with",
    "render",
    "render_explanation",
    "render_ledger",
    "select",
]

FORMATS = ("table", "json", "yaml")


async def explain_command(
    *,
    name: str | None,
    namespace: str,
    target: str | None,
    workflow: str | None,
    manifest: KubeObject | None,
    policy: Policy,
    namespaces: Sequence[str | None],
    kubeconfig: Path | None,
    now: datetime | None = None,
) -> explain.Explanation:
    """Connect and explain (see `explain_with`)."""
    async with await api_client(kubeconfig) as api:
        return await explain_with(
            Client(api),
            name=name,
            namespace=namespace,
            target=target,
            workflow=workflow,
            manifest=manifest,
            policy=policy,
            namespaces=namespaces,
            now=now,
        )


async def explain_with(
    client: Client,
    *,
    name: str | None,
    namespace: str,
    target: str | None = None,
    workflow: str | None = None,
    manifest: KubeObject | None = None,
    policy: Policy,
    namespaces: Sequence[str | None],
    now: datetime | None = None,
) -> explain.Explanation:
    """The explanation of WorkflowExecution `namespace/name`, or of a hypothetical one.

    Raises:
        inspect.InspectError: not found, forbidden, unreadable.
    """
    if name is not None:
        try:
            obj = await client.get(WORKFLOW_EXECUTIONS, namespace, name)
        except errors.NotFound as exc:
            raise inspect.InspectError(f"workflowexecution {namespace}/{name} not found") from exc
        except errors.Forbidden as exc:
            raise inspect.InspectError(f"forbidden: cannot read {namespace}/{name}: {exc}") from exc
        except errors.ApiError as exc:
            raise inspect.InspectError(f"cannot read {namespace}/{name}: {exc}") from exc
    elif manifest is not None:
        spec = manifest.get("spec") if isinstance(manifest.get("spec"), dict) else {}
        meta = manifest.get("metadata") or {}
        raw = (spec or {}).get("targetResource")
        obj = inspect.hypothetical(
            raw if isinstance(raw, str) else "",
            namespace=meta.get("namespace") or namespace,
            workflow=workflow,
            spec=spec,
        )
    elif target is not None:
        obj = inspect.hypothetical(target, namespace=namespace, workflow=workflow)
    else:
        raise inspect.InspectError("give a NAME, --target or -f")
    observed = await inspect.observe(client, obj, policy=policy, namespaces=namespaces)
    return explain.explain(observed, now=now or datetime.now(UTC), policy=policy)


def render(data: Any, output: str, table: str) -> str:
    """`data` (plain) as json/yaml, or the given table text."""
    if output == "json":
        return json.dumps(data, indent=2, sort_keys=False) + "\n"
    if output == "yaml":
        return yaml.safe_dump(data, sort_keys=False)
    return table


def _when(value: datetime | None) -> str:
    return explain.to_rfc3339(value) if value else "-"


def render_explanation(ex: explain.Explanation, output: str) -> str:
    return render(ex.to_dict(), output, _table(ex))


def _table(ex: explain.Explanation) -> str:
    rows: list[tuple[str, str]] = [
        ("workflowexecution", f"{ex.subject} ({ex.phase or 'new'})"),
        ("target", ex.target or "-"),
    ]
    if ex.recorded:
        rows.append(("recorded", ex.recorded))
    rows += [("decision", f"{ex.decision} ({ex.rule})"), ("why", ex.message)]
    if ex.cause is not None:
        c = ex.cause
        rows.append(
            (
                "caused by",
                f"{c.name} {c.phase or ''} workflow={c.workflow_id or '-'} "
                f"started={_when(c.started)} completed={_when(c.completed)}",
            )
        )
    new = ex.new_on_target
    if new is not None:
        rows.append(("a new one now", f"{new.decision} ({new.rule}): {new.message}"))
    allowed = _when(ex.allowed_at) if ex.allowed == "at" else ex.allowed
    rows.append(("target allowed", allowed))
    if ex.clear_command:
        rows.append(("to clear", ex.clear_command))
    lock = ex.lock
    if lock is not None:
        text = f"{lock.name} {lock.state}"
        if lock.holder:
            text += f", held by {lock.holder}" + ("" if lock.holder_exists else " (gone)")
        if lock.created:
            text += f", since {_when(lock.created)}"
        if lock.release_due:
            text += f", release due {_when(lock.release_due)}"
        rows.append(("lock", text))
    width = max(len(k) for k, _ in rows)
    return "".join(f"{k:<{width}}  {v}\n" for k, v in rows)


def load_manifest(path: Path) -> KubeObject:
    """A WorkflowExecution manifest from a YAML file.

    Raises:
        ValueError: unreadable, or not a mapping with a spec.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("spec"), dict):
        raise ValueError(f"{path}: not a WorkflowExecution manifest (no spec)")
    return data


async def locks_command(
    *, policy: Policy, namespaces: Sequence[str | None], kubeconfig: Path | None
) -> list[ledger.LedgerRow]:
    """Connect and read the ledger (see `locks_with`)."""
    async with await api_client(kubeconfig) as api:
        return await locks_with(Client(api), policy=policy, namespaces=namespaces)


async def locks_with(
    client: Client,
    *,
    policy: Policy,
    namespaces: Sequence[str | None],
    now: datetime | None = None,
) -> list[ledger.LedgerRow]:
    return await inspect.ledger(
        client, policy=policy, namespaces=namespaces, now=now or datetime.now(UTC)
    )


def select(
    rows: Sequence[ledger.LedgerRow], *, namespace: str | None, target: str | None, sort: str
) -> list[ledger.LedgerRow]:
    """Rows on `target` / in target namespace `namespace`, sorted by column `sort`."""
    kept = [
        r
        for r in rows
        if (target is None or r.target == target)
        and (namespace is None or r.target.startswith(f"{namespace}/"))
    ]
    return ledger.sort_rows(kept, sort)


_TABLE = (
    ("TARGET", "target"),
    ("STATE", "state"),
    ("LOCK", "lock"),
    ("RUN", "lock_state"),
    ("HOLDER", "holder"),
    ("PHASE", "holder_phase"),
    ("HELD SINCE", "held_since"),
    ("RELEASE DUE", "release_due"),
    ("BACKOFF", "backoff_count"),
    ("ALLOWED AT", "allowed_at"),
    ("BLOCKED BY", "blocked_by"),
    ("ANOMALIES", "anomalies"),
)


def render_ledger(rows: Sequence[ledger.LedgerRow], output: str) -> str:
    data = [r.to_dict() for r in rows]
    if output != "table":
        return render(data, output, "")
    if not rows:
        return "no target is held, cooling, backing off or blocked\n"

    def cell(value: Any) -> str:
        if isinstance(value, list):
            return "; ".join(value) or "-"
        return "-" if value in (None, "") else str(value)

    lines = [[h for h, _ in _TABLE]] + [[cell(d[k]) for _, k in _TABLE] for d in data]
    widths = [max(len(line[i]) for line in lines) for i in range(len(_TABLE))]
    return "".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() + "\n"
        for line in lines
    )
