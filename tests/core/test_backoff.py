"""SPEC §4 backoff arithmetic: min(base * 2^min(n-1, maxExponent), max)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wfe.core.backoff import backoff_delay, next_allowed_execution
from wfe.core.errors import InvalidInput
from wfe.core.policy import Policy

from builders import NOW

POLICY = Policy()


@pytest.mark.parametrize(
    ("n", "seconds"), [(1, 60), (2, 120), (3, 240), (4, 480), (5, 600), (6, 600), (50, 600)]
)
def test_default_schedule(n: int, seconds: int) -> None:
    assert backoff_delay(n, POLICY) == timedelta(seconds=seconds)


def test_exponent_cap_without_max_cap() -> None:
    policy = Policy(backoff_max=timedelta(days=1), backoff_max_exponent=2)
    assert backoff_delay(10, policy) == timedelta(minutes=4)


def test_next_allowed_execution() -> None:
    assert next_allowed_execution(NOW, 2, POLICY) == NOW + timedelta(minutes=2)


def test_zero_failures_is_an_error_naming_the_field() -> None:
    with pytest.raises(InvalidInput, match="consecutiveFailures"):
        backoff_delay(0, POLICY)


@given(st.integers(1, 10_000))
def test_monotonic_and_bounded(n: int) -> None:
    assert POLICY.backoff_base <= backoff_delay(n, POLICY) <= POLICY.backoff_max
    assert backoff_delay(n, POLICY) <= backoff_delay(n + 1, POLICY)


def test_policy_rejects_nonsense_naming_fields() -> None:
    with pytest.raises(InvalidInput) as info:
        Policy(
            backoff_base=timedelta(minutes=5),
            backoff_max=timedelta(minutes=1),
            max_consecutive_failures=0,
            default_timeout=timedelta(hours=3),
            cooldown=timedelta(seconds=-1),
            backoff_max_exponent=99,
            runner_service_account="",
        )
    fields = {p.field for p in info.value.problems}
    assert fields == {
        "backoff_max",
        "max_consecutive_failures",
        "default_timeout",
        "cooldown",
        "backoff_max_exponent",
        "runner_service_account",
    }
