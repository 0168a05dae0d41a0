"""`wfe clear-block`: the audited human decision that a blocked target may run again (SPEC §4).

It annotates the failed WorkflowExecution with the reason and who decided; the controller then
records `status.blockClearance`, emits `BlockCleared` and an audit record, and resets the
target's failure count. The command refuses before writing when there is nothing to clear, by
the controller's own rule (`core.clearance.blocks_target` under the controller's settings).
With `--wait` it reports the controller's outcome: the clearance it recorded, or the reason of
its `BlockClearRefused` Event (docs/cli.md).
"""

from __future__ import annotations

import asyncio
import getpass
from dataclasses import dataclass
from pathlib import Path

from wfe.api.models import BlockClearance
from wfe.cli.runner import api_client
from wfe.controller.resources import WORKFLOW_EXECUTIONS
from wfe.core import clearance, history
from wfe.core.policy import Policy
from wfe.kube import errors
from wfe.kube.client import EVENTS, Client
from wfe.observability.events import EventReason

__all__ = ["ClearBlockError", "Outcome", "clear_block", "clear_block_with"]

REFUSED_REASON = str(EventReason.BLOCK_CLEAR_REFUSED)
_POLL = 0.5


class ClearBlockError(ValueError):
    """A refusal or a wait that ended without an outcome: one line, exit 1."""


@dataclass(frozen=True)
class Outcome:
    """What `clear-block` achieved: asked only (no wait), or the recorded clearance."""

    subject: str
    cleared: BlockClearance | None = None

    def message(self) -> str:
        c = self.cleared
        if c is None:
            return (
                f"asked to clear the block of {self.subject}; the controller records it in "
                "status.blockClearance (use --wait to see the outcome)"
            )
        at = c.cleared_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"block of {self.subject} cleared by {c.cleared_by} at {at}: {c.clear_reason}"


async def clear_block(
    name: str,
    namespace: str,
    *,
    reason: str,
    by: str | None,
    kubeconfig: Path | None,
    policy: Policy,
    wait: float | None,
) -> Outcome:
    """Connect and clear (see `clear_block_with`)."""
    async with await api_client(kubeconfig) as api:
        return await clear_block_with(
            Client(api), name, namespace, reason=reason, by=by, policy=policy, wait=wait
        )


async def clear_block_with(
    client: Client,
    name: str,
    namespace: str,
    *,
    reason: str,
    by: str | None,
    policy: Policy,
    wait: float | None,
) -> Outcome:
    """Ask the controller to clear the block; with `wait` (seconds), wait for its outcome.

    Raises:
        ClearBlockError: it blocks nothing, the controller refused, or no outcome in time.
        errors.ApiError: not found, forbidden, unreachable.
    """
    subject = f"{namespace}/{name}"
    try:
        obj = await client.get(WORKFLOW_EXECUTIONS, namespace, name)
    except errors.NotFound as exc:
        raise ClearBlockError(
            f"workflowexecution {subject} not found; check the name and -n NAMESPACE"
        ) from exc
    record = history.record_from_object(obj)
    status = record.status
    if status.block_clearance is not None:
        raise ClearBlockError(f"{subject}: its block was already cleared")
    if not clearance.blocks_target(status, policy):
        raise ClearBlockError(
            f"{subject} ({status.phase or 'new'}) does not block its target: nothing to clear "
            f"(`wfe explain {name} -n {namespace}` says what holds the target)"
        )
    refused_before = await _refusals(client, namespace, record.uid) if wait else {}
    annotations = {
        clearance.CLEAR_ANNOTATION: reason.strip(),
        clearance.CLEARED_BY_ANNOTATION: (by or getpass.getuser()).strip(),
    }
    await client.patch(
        WORKFLOW_EXECUTIONS, namespace, name, {"metadata": {"annotations": annotations}}
    )
    if not wait:
        return Outcome(subject)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        current = history.record_from_object(await client.get(WORKFLOW_EXECUTIONS, namespace, name))
        if current.status.block_clearance is not None:
            return Outcome(subject, current.status.block_clearance)
        refused = await _refusals(client, namespace, record.uid)
        new = [message for key, message in refused.items() if key not in refused_before]
        if new:
            raise ClearBlockError(f"the controller refused to clear {subject}: {new[0]}")
        if loop.time() >= deadline:
            raise ClearBlockError(
                f"{subject}: the controller recorded no clearance within {wait:g}s; is it "
                f"running? (`kubectl describe wfe {name} -n {namespace}`)"
            )
        await asyncio.sleep(_POLL)


async def _refusals(client: Client, namespace: str, uid: str) -> dict[str, str]:
    """The controller's BlockClearRefused Events about object `uid`: name -> message."""
    listed = await client.list(
        EVENTS,
        namespace,
        field_selector=f"involvedObject.uid={uid},reason={REFUSED_REASON}",
    )
    return {
        str((e.get("metadata") or {}).get("name")): str(e.get("message") or "")
        for e in listed.get("items") or []
    }
