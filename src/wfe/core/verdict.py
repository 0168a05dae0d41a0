"""The records of `wfe doctor`'s checks (docs/cli.md): a `Verdict` per check, `Unanswered` for
a question the cluster would not answer, and the exit code they make together."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "STATUSES",
    "Status",
    "Unanswered",
    "Verdict",
    "exit_code",
    "names",
    "parse_time",
    "runbook",
    "unknown",
]

Status = Literal["ok", "warn", "fail", "unknown"]
STATUSES: tuple[Status, ...] = ("ok", "warn", "fail", "unknown")
_MAX_NAMED = 5  # objects named in one message; the rest are counted


def runbook(anchor: str) -> str:
    """The runbook section, as docs/runbooks/README.md anchors it (`rb-we-003`)."""
    return f"docs/runbooks/README.md#{anchor.lower()}"


@dataclass(frozen=True, slots=True)
class Unanswered:
    """The cluster would not answer the question (forbidden, unreachable, an API error)."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    check: str
    status: Status
    message: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def unknown(check: str, what: Unanswered) -> Verdict:
    first = what.reason.splitlines()[0] if what.reason else "no answer"
    return Verdict(check=check, status="unknown", message=f"cannot tell: {first}")


def names(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_MAX_NAMED])
    return shown + (f" and {len(items) - _MAX_NAMED} more" if len(items) > _MAX_NAMED else "")


def exit_code(verdicts: Iterable[Verdict], *, strict: bool = False) -> int:
    """1 when a check failed; with `strict` also when one warned or could not tell."""
    bad = {"fail", "warn", "unknown"} if strict else {"fail"}
    return 1 if any(v.status in bad for v in verdicts) else 0


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
