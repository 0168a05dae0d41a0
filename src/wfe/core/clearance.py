"""Clearing a target's block: an audited human decision (SPEC §4).

A failure that ran (the target may be half-changed) or exhausted retries block the target
until a person clears it, with a reason, through the `wfe` CLI or by annotating the failed
WorkflowExecution. The clearance is recorded in `status.blockClearance`; it also resets the
target's failure count (see `decide.prior_failures`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from wfe.api.enums import Phase
from wfe.api.models import BlockClearance, WorkflowExecutionStatus
from wfe.core.errors import Problem
from wfe.core.policy import Policy

__all__ = ["CLEARED_BY_ANNOTATION", "CLEAR_ANNOTATION", "blocks_target", "requested_clearance"]

CLEAR_ANNOTATION = "kubernaut.ai/clear-block"
CLEARED_BY_ANNOTATION = "kubernaut.ai/cleared-by"
_MAX_REASON = 1024


def blocks_target(status: WorkflowExecutionStatus, policy: Policy) -> bool:
    """Whether this finished WorkflowExecution blocks its target until cleared."""
    if status.phase is not Phase.FAILED or status.block_clearance is not None:
        return False
    details = status.failure_details
    if details is None or details.was_execution_failure:
        return True
    return (status.consecutive_failures or 0) >= policy.max_consecutive_failures


def requested_clearance(
    annotations: Mapping[str, str] | None,
    status: WorkflowExecutionStatus,
    *,
    now: datetime,
    policy: Policy,
) -> BlockClearance | Problem | None:
    """The clearance an annotation asks for; a Problem if it cannot apply; None if none asked."""
    annotations = annotations or {}
    if CLEAR_ANNOTATION not in annotations or status.block_clearance is not None:
        return None
    field = f"metadata.annotations[{CLEAR_ANNOTATION}]"
    reason = annotations[CLEAR_ANNOTATION].strip()
    if not reason:
        return Problem(field, "must give the reason for clearing the block")
    if not blocks_target(status, policy):
        return Problem(field, "this WorkflowExecution does not block its target")
    by = annotations.get(CLEARED_BY_ANNOTATION, "").strip() or "annotation"
    return BlockClearance(cleared_at=now, cleared_by=by[:253], clear_reason=reason[:_MAX_REASON])
