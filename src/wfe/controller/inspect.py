"""Reading what the controller would read, for `wfe explain` and `wfe locks`.

The reconciler decides from its informer caches; these read the same objects straight from the
API server (a person asking "why" wants the current truth): the WorkflowExecution, the others
on its exact target in the watched namespaces, the target's lock PipelineRun in the execution
namespace and the WorkflowExecution it records as its owner, and API discovery through the
controller's own `KindDiscovery`. The lock is read through `controller.locks` (`existing_lock`,
`lock_seen`), so ownership is judged exactly as the controller judges it; the decision itself is
`core.explain`'s, made by the controller's own plans (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from wfe.api.models import API_VERSION, KIND
from wfe.controller.discovery import KindDiscovery
from wfe.controller.errors import Retry
from wfe.controller.locks import existing_lock, lock_seen
from wfe.controller.resources import PIPELINE_RUNS, WORKFLOW_EXECUTIONS
from wfe.core import explain, history, kinds
from wfe.core import ledger as ledger_rows
from wfe.core.errors import InvalidInput
from wfe.core.lock import lock_name
from wfe.core.policy import Policy
from wfe.kube import errors
from wfe.kube.client import Client, KubeObject
from wfe.tekton import pipelinerun, status

__all__ = [
    "InspectError",
    "hypothetical",
    "ledger",
    "list_wfes",
    "lock_target",
    "observe",
    "peers_on",
    "read_lock",
    "read_owner",
]

# The phases that can hold, cool or block a target: the same filter the reconciler applies to
# its target index before deciding (docs/architecture.md, "Deciding").
# A tagged image is pinned (docs/api.md): a hypothetical spec passes validation on its own.
_HYPOTHETICAL_IMAGE = "explain.invalid/hypothetical:0"


class InspectError(Exception):
    """A question the cluster would not answer: one line for the user."""


def hypothetical(
    target: str, *, namespace: str, workflow: str | None, spec: Mapping[str, Any] | None = None
) -> KubeObject:
    """A WorkflowExecution that is not (yet) in the cluster: `spec` or a minimal valid one."""
    body = dict(spec) if spec else {}
    body.setdefault("targetResource", target)
    body.setdefault(
        "workflowRef",
        {
            "workflowId": workflow or "explain",
            "version": "0",
            "containerImage": _HYPOTHETICAL_IMAGE,
        },
    )
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"namespace": namespace, "name": "(hypothetical)", "uid": ""},
        "spec": body,
    }


async def list_wfes(client: Client, namespaces: Sequence[str | None]) -> list[KubeObject]:
    """Every WorkflowExecution in the watched namespaces (None: all namespaces)."""
    out: list[KubeObject] = []
    for namespace in namespaces:
        try:
            listed = await _call(
                client.list(WORKFLOW_EXECUTIONS, namespace), "list workflowexecutions"
            )
        except _Absent as exc:
            raise InspectError("the WorkflowExecution API is not served (CRD missing)") from exc
        out.extend(listed.get("items", []))
    return out


def peers_on(objects: Iterable[KubeObject], target: str | None) -> list[history.WfeRecord]:
    """The records that can hold, cool or block exactly `target` (fail closed on one that
    cannot be read, as the reconciler does)."""
    if target is None:
        return []
    try:
        return history.peers_on_target(objects, target)
    except history.UnreadablePeer as exc:
        raise InspectError(
            f"cannot read {exc.key} on the same target (the controller waits too): {exc.cause}"
        ) from exc


async def read_lock(client: Client, policy: Policy, name: str) -> KubeObject | None:
    try:
        found: KubeObject = await _call(
            client.get(PIPELINE_RUNS, policy.execution_namespace, name), "read pipelineruns"
        )
    except _Absent:
        return None
    return found


async def read_owner(
    client: Client, lock: KubeObject, objects: Iterable[KubeObject] | None = None
) -> history.WfeRecord | None:
    """The WorkflowExecution `lock` records as its owner; None if none or gone. `objects`,
    when given, are searched first (a list already made)."""
    owner = existing_lock(lock).owner
    if owner is None:
        return None
    namespace, name = owner
    found = next(
        (
            o
            for o in objects or ()
            if (o["metadata"].get("namespace"), o["metadata"].get("name")) == owner
        ),
        None,
    )
    if found is None:
        try:
            found = await _call(
                client.get(WORKFLOW_EXECUTIONS, namespace, name), "read workflowexecutions"
            )
        except _Absent:
            return None
    try:
        return history.record_from_object(found)
    except InvalidInput as exc:
        raise InspectError(f"cannot read lock owner {namespace}/{name}: {exc}") from exc


async def observe(
    client: Client,
    obj: KubeObject,
    *,
    policy: Policy,
    namespaces: Sequence[str | None],
    discovery: KindDiscovery | None = None,
    objects: Sequence[KubeObject] | None = None,
) -> explain.Observed:
    """What the controller would look at to decide about `obj` (`objects`: the
    WorkflowExecutions already listed, else they are listed now)."""
    try:
        record = history.record_from_object(obj)
    except InvalidInput as exc:
        raise InspectError(f"the controller cannot read it either: {exc}") from exc
    if objects is None:
        objects = await list_wfes(client, namespaces)
    others = [
        r
        for r in peers_on(objects, record.target)
        if (r.namespace, r.name) != (record.namespace, record.name)
    ]
    catalog = kinds.KindCatalog(())
    if record.parsed_target is not None:
        try:
            catalog = await (discovery or KindDiscovery(client)).catalog_for(
                record.parsed_target.qualified_kind
            )
        except Retry as exc:
            raise InspectError(str(exc)) from exc
    found = await read_lock(client, policy, record.lock) if record.lock else None
    owner = await read_owner(client, found, objects) if found is not None else None
    evidence = status.read_evidence(found, []) if found is not None else None
    created = None
    if found is not None and found["metadata"].get("creationTimestamp"):
        created = datetime.fromisoformat(found["metadata"]["creationTimestamp"])
    return explain.Observed(
        record=record,
        others=others,
        seen=lock_seen(found, record, confirmed=True),
        existing=existing_lock(found) if found is not None else None,
        lock_name=record.lock,
        owner=owner,
        lock_created=created,
        lock_completion=evidence.completion_time if evidence else None,
        kinds=catalog,
    )


async def ledger(
    client: Client, *, policy: Policy, namespaces: Sequence[str | None], now: datetime
) -> list[ledger_rows.LedgerRow]:
    """One row per target that has a lock PipelineRun or a Running, Completed or Failed
    WorkflowExecution, unless it is free and nothing about its lock is odd."""
    objects = await list_wfes(client, namespaces)
    try:
        listed = await _call(
            client.list(
                PIPELINE_RUNS,
                policy.execution_namespace,
                label_selector=f"app.kubernetes.io/managed-by={pipelinerun.MANAGED_BY}",
            ),
            "list pipelineruns",
        )
    except _Absent as exc:
        raise InspectError("the Tekton PipelineRun API is not served") from exc
    locks: list[KubeObject] = list(listed.get("items", []))
    targets: dict[str, None] = {}
    for obj in objects:
        raw = (obj.get("spec") or {}).get("targetResource")
        if (
            isinstance(raw, str)
            and (obj.get("status") or {}).get("phase") in history.HISTORY_PHASES
        ):
            targets[raw] = None
    unclaimed: list[KubeObject] = []
    for lock in locks:
        raw = lock_target(lock)
        if raw is not None and lock_name(raw) == lock["metadata"].get("name"):
            targets[raw] = None
        else:
            unclaimed.append(lock)  # names no target, or not the lock of the one it names
    discovery = KindDiscovery(client)
    rows = []
    for target in targets:
        template = next(
            (
                o.get("spec")
                for o in objects
                if (o.get("spec") or {}).get("targetResource") == target
            ),
            None,
        )
        obj = hypothetical(target, namespace="default", workflow=None, spec=template)
        observed = await observe(
            client, obj, policy=policy, namespaces=namespaces, discovery=discovery, objects=objects
        )
        row = ledger_rows.ledger_row(observed, target=target, now=now, policy=policy)
        if row.state != "free" or row.lock is not None or row.anomalies:
            rows.append(row)
    for lock in unclaimed:
        rows.append(
            ledger_rows.LedgerRow(
                target=lock_target(lock) or "-",
                state="unknown",
                lock=lock["metadata"].get("name"),
                lock_state="finished" if status.is_finished(lock) else "running",
                anomalies=("unclaimed: a lock PipelineRun no target's lock name matches",),
            )
        )
    return rows


def lock_target(lock: KubeObject) -> str | None:
    """The target a lock PipelineRun records (its annotation holds the exact string)."""
    value = (lock["metadata"].get("annotations") or {}).get(pipelinerun.TARGET_ANNOTATION)
    return value if isinstance(value, str) else None


class _Absent(Exception):
    pass


async def _call(awaitable: Any, what: str) -> Any:
    try:
        return await awaitable
    except errors.NotFound as exc:
        raise _Absent from exc
    except errors.Forbidden as exc:
        raise InspectError(f"forbidden: not allowed to {what}: {exc}") from exc
    except errors.ApiError as exc:
        raise InspectError(f"cannot {what}: {exc}") from exc
