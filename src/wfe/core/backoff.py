"""Exponential backoff after failures that never started (SPEC §4).

`delay(n) = min(base · 2^min(n-1, maxExponent), max)` for the n-th consecutive failure. The
count is carried across WorkflowExecutions of a target (upstream reset it with every new WFE,
so ExhaustedRetries could never be reached).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from wfe.core.errors import InvalidInput, Problem
from wfe.core.policy import Policy

__all__ = ["backoff_delay", "next_allowed_execution"]


def backoff_delay(consecutive_failures: int, policy: Policy) -> timedelta:
    """The wait after the n-th consecutive failure (n ≥ 1).

    Raises:
        InvalidInput: naming `consecutiveFailures` when n < 1.
    """
    if consecutive_failures < 1:
        raise InvalidInput([Problem("consecutiveFailures", "must be at least 1 to back off")])
    exponent = min(consecutive_failures - 1, policy.backoff_max_exponent)
    return min(policy.backoff_base * (1 << exponent), policy.backoff_max)


def next_allowed_execution(now: datetime, consecutive_failures: int, policy: Policy) -> datetime:
    """When the target may be tried again after the n-th consecutive failure."""
    return now + backoff_delay(consecutive_failures, policy)
