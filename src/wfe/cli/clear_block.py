"""`wfe clear-block`: the audited human decision that a blocked target may run again (SPEC §4).

It annotates the failed WorkflowExecution with the reason and who decided; the controller then
records `status.blockClearance`, emits `BlockCleared` and an audit record, and resets the
target's failure count. The command refuses before writing when there is nothing to clear.
"""

from __future__ import annotations

import getpass
from pathlib import Path

from wfe.api.enums import Phase
from wfe.cli.runner import api_client
from wfe.controller.resources import WORKFLOW_EXECUTIONS
from wfe.core import clearance, history
from wfe.kube.client import Client

__all__ = ["clear_block"]


async def clear_block(
    name: str, namespace: str, *, reason: str, by: str | None, kubeconfig: Path | None
) -> str:
    """Ask the controller to clear the block; the message to print.

    Raises:
        ValueError: the reason is empty, or the WorkflowExecution blocks nothing.
    """
    if not reason.strip():
        raise ValueError("--reason must say why the block may be cleared")
    async with await api_client(kubeconfig) as api:
        client = Client(api)
        obj = await client.get(WORKFLOW_EXECUTIONS, namespace, name)
        record = history.record_from_object(obj)
        status = record.status
        if status.phase is not Phase.FAILED:
            raise ValueError(f"{namespace}/{name} is not Failed: there is no block to clear")
        if status.block_clearance is not None:
            raise ValueError(f"{namespace}/{name}: its block was already cleared")
        # Whether it blocks under the controller's own retry limit is the controller's call: it
        # refuses with a BlockClearRefused Event if there is nothing to clear.
        annotations = {
            clearance.CLEAR_ANNOTATION: reason.strip(),
            clearance.CLEARED_BY_ANNOTATION: (by or getpass.getuser()).strip(),
        }
        await client.patch(
            WORKFLOW_EXECUTIONS, namespace, name, {"metadata": {"annotations": annotations}}
        )
    return (
        f"asked to clear the block of {namespace}/{name}; the controller records it in "
        "status.blockClearance"
    )
