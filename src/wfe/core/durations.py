"""Go-style durations: `metav1.Duration` parsing and `time.Duration.String()` formatting.

The API speaks Go durations (`executionConfig.timeout: 30m`, `status.duration: 3m30s`,
Tekton's `timeouts.pipeline: 1h0m0s`), so the core parses and prints them the way Go does.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration"]

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")
_WHOLE = re.compile(r"^(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))+$")


def parse_duration(text: str) -> timedelta:
    """Parse a Go duration such as `1h30m`, `90s` or `1.5h`.

    Raises:
        ValueError: the text is not a non-negative Go duration ("0" alone is accepted).
    """
    if text == "0":
        return timedelta(0)
    if not _WHOLE.match(text):
        raise ValueError(f"not a duration like 30s, 5m or 1h30m: {text!r}")
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Format like Go's Duration.String() at second precision: `45s`, `3m30s`, `1h0m0s`."""
    total = int(value.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"
