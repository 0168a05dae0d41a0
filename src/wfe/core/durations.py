"""Go-style durations: `metav1.Duration` parsing and `time.Duration.String()` formatting.

The API speaks Go durations (`executionConfig.timeout: 30m`, `status.duration: 3m30s`,
Tekton's `timeouts.pipeline: 1h0m0s`), so the core parses and prints them the way Go does.
Parsed values are bounded by `MAX_DURATION` (8760h, one year): far beyond any timeout, cooldown
or retention that makes sense, far inside what Go's int64 nanoseconds (about 2562047h), Tekton
and `timedelta` hold, so an absurd value is an error naming its field, never an overflow
(docs/configuration.md, docs/api.md).
"""

from __future__ import annotations

import re
from datetime import timedelta

from wfe.api.formats import DURATION_MAX

__all__ = ["MAX_DURATION", "format_duration", "parse_duration"]

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
MAX_DURATION = timedelta(hours=int(DURATION_MAX.removesuffix("h")))
_MAX_SECONDS = MAX_DURATION.total_seconds()
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|μs|ms|s|m|h)")
_WHOLE = re.compile(r"^(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|μs|ms|s|m|h))+$")


def parse_duration(text: str) -> timedelta:
    """Parse a Go duration such as `1h30m`, `90s` or `1.5h`.

    Raises:
        ValueError: the text is not a non-negative Go duration ("0" alone is accepted), or it
            is longer than `MAX_DURATION`.
    """
    if text == "0":
        return timedelta(0)
    if not _WHOLE.fullmatch(text):
        raise ValueError(f"not a duration like 30s, 5m or 1h30m: {text[:80]!r}")
    # Summed as floats (a huge number becomes inf, never an exception) and bounded before a
    # timedelta is built, which would overflow.
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    if not seconds <= _MAX_SECONDS:
        raise ValueError(
            f"longer than {DURATION_MAX}, the longest duration accepted: {text[:80]!r}"
        )
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
