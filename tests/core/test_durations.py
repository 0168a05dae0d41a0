"""Go duration parsing and formatting."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wfe.api.formats import DURATION_PATTERN
from wfe.core.durations import MAX_DURATION, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("1.5h", 5400), ("500ms", 0.5), ("0", 0)],
)
def test_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5", "m", "-5m", "5 m", "1d", "soon", "5m\n"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (45, "45s"), (210, "3m30s"), (3600, "1h0m0s"), (-5, "-5s")]
)
def test_format_like_go(seconds: int, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


@given(st.integers(0, 10**7))
def test_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(timedelta(seconds=seconds))) == timedelta(seconds=seconds)


def test_micro_in_both_spellings_go_accepts() -> None:
    assert parse_duration("5µs") == parse_duration("5μs") == parse_duration("5us")


@pytest.mark.parametrize(
    "text", ["99999999999h", "8761h", "8760h1s", "9" * 400 + "h", "1" * 30 + "s"]
)
def test_beyond_the_bound_is_a_value_error_not_an_overflow(text: str) -> None:
    with pytest.raises(ValueError, match="longer than 8760h"):
        parse_duration(text)


def test_the_bound_itself_is_accepted() -> None:
    assert parse_duration("8760h") == MAX_DURATION == timedelta(days=365)


@given(st.text(alphabet="0123456789.hmsun", max_size=20))
def test_what_the_schema_admits_parses_within_the_bound(text: str) -> None:
    """The schema's pattern (bounded numbers) never admits a duration the core cannot hold."""
    if not re.fullmatch(DURATION_PATTERN, text):
        return
    outcome: timedelta | str
    try:
        outcome = parse_duration(text)
    except ValueError as exc:  # anything else (OverflowError) fails the test
        outcome = str(exc)
    assert isinstance(outcome, timedelta) or "longer than 8760h" in outcome


def test_the_pattern_cannot_overflow_go() -> None:
    """Six parts of at most 99999.999999999h stay under Go's int64 nanoseconds."""
    assert 6 * 100_000 * 3600 * 10**9 < 2**63 - 1
