"""Builders of WorkflowExecution objects and records shared by the tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from wfe.api.enums import FailureReason, Phase
from wfe.api.models import (
    BlockClearance,
    FailureDetails,
    LocalObjectReference,
    WorkflowExecutionStatus,
)
from wfe.core.history import WfeRecord
from wfe.core.kinds import BUILTIN_KINDS, KindCatalog
from wfe.core.lock import lock_name

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
TARGET = "payment/Deployment/payment-api"
# What a cluster serving the built-in kinds lists in discovery (complete: nothing else served).
CATALOG = KindCatalog.of(BUILTIN_KINDS)


def spec(target: str = TARGET, **overrides: Any) -> dict[str, Any]:
    """A valid raw spec, as a user would write it."""
    base: dict[str, Any] = {
        "remediationRequestRef": {"name": "rr-1", "namespace": "kubernaut-system"},
        "workflowRef": {
            "workflowId": "restart-pod",
            "version": "1.0.0",
            "containerImage": "registry.example.com/workflows/restart-pod:1.0.0",
        },
        "targetResource": target,
        "parameters": {"NAMESPACE": "payment", "REPLICAS": "3"},
        "confidence": 0.9,
        "rationale": "memory leak; restart clears it",
    }
    base.update(overrides)
    return base


def record(
    name: str,
    phase: Phase | None,
    *,
    target: str = TARGET,
    namespace: str = "default",
    finished: datetime | None = None,
    started: datetime | None = None,
    ran: bool = True,
    failures: int | None = None,
    next_allowed: datetime | None = None,
    cleared: bool = False,
    reason: FailureReason = FailureReason.TASK_FAILED,
    released: datetime | None = None,
) -> WfeRecord:
    """A WorkflowExecution as the core sees it."""
    details = None
    if phase is Phase.FAILED:
        details = FailureDetails(reason=reason, message="boom", was_execution_failure=ran)
    status = WorkflowExecutionStatus(
        phase=phase,
        start_time=started or (finished - timedelta(minutes=1) if finished else None),
        completion_time=finished,
        pipeline_run_ref=LocalObjectReference(name=lock_name(target))
        if phase in (Phase.RUNNING, Phase.COMPLETED, Phase.FAILED)
        else None,
        failure_details=details,
        consecutive_failures=failures,
        next_allowed_execution=next_allowed,
        lock_released_at=released,
        block_clearance=BlockClearance(cleared_at=NOW, cleared_by="alice", clear_reason="ok")
        if cleared
        else None,
    )
    return WfeRecord(
        namespace=namespace,
        name=name,
        uid=f"uid-{namespace}-{name}",
        target=target,
        workflow_id="restart-pod",
        created=(finished or started or NOW) - timedelta(minutes=2),
        deleting=False,
        status=status,
    )
