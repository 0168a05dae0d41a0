"""``eventually`` polls sync and async predicates and fails with the last reason."""

from __future__ import annotations

import pytest

from wfe.dev.eventually import eventually


async def test_returns_the_first_truthy_value_of_an_async_predicate() -> None:
    calls = 0

    async def third_time_lucky() -> int:
        nonlocal calls
        calls += 1
        return calls if calls >= 3 else 0

    assert await eventually(third_time_lucky, 5, interval=0.01) == 3


async def test_retries_a_failing_assertion_until_it_passes() -> None:
    seen: list[int] = []

    def check() -> bool:
        seen.append(1)
        assert len(seen) > 2, "not yet"
        return True

    assert await eventually(check, 5, interval=0.01) is True


async def test_times_out_with_the_last_assertion_message() -> None:
    def never() -> bool:
        raise AssertionError("phase is Pending")

    with pytest.raises(AssertionError, match="phase is Pending"):
        await eventually(never, 0.05, interval=0.01, message="PipelineRun started")
