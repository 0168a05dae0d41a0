"""Enumerations of the WorkflowExecution API (SPEC §2).

Every value the controller can write into a status field is listed here and, through the
generated CRD, in the schema's enums: a status write the API server rejects would leave a
WorkflowExecution stuck (an upstream bug), so the enums and the writers share one source.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FailureReason", "Outcome", "Phase", "SkipReason"]


class Phase(StrEnum):
    """Lifecycle phase of a WorkflowExecution (`status.phase`)."""

    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    SKIPPED = "Skipped"


class FailureReason(StrEnum):
    """Classified cause of a failure (`status.failureDetails.reason`)."""

    OOM_KILLED = "OOMKilled"
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    FORBIDDEN = "Forbidden"
    RESOURCE_EXHAUSTED = "ResourceExhausted"
    CONFIGURATION_ERROR = "ConfigurationError"
    IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
    TASK_FAILED = "TaskFailed"
    UNKNOWN = "Unknown"


class SkipReason(StrEnum):
    """Why a WorkflowExecution was not run (`status.skipDetails.reason`)."""

    RESOURCE_BUSY = "ResourceBusy"
    RECENTLY_REMEDIATED = "RecentlyRemediated"
    EXHAUSTED_RETRIES = "ExhaustedRetries"
    PREVIOUS_EXECUTION_FAILED = "PreviousExecutionFailed"


class Outcome(StrEnum):
    """How a remediation of a target ended (`skipDetails.recentRemediation.outcome`)."""

    COMPLETED = "Completed"
    FAILED = "Failed"
