"""How the core reports bad input: a list of problems, each naming the field at fault.

Business outcomes (skip, fail) are returned values, never exceptions; `InvalidInput` is raised
only when a caller hands a core function data it cannot work with, and its message names the
field so the operator can fix the object rather than read a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

__all__ = ["InvalidInput", "Problem", "join", "problems_from_validation"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input, with the dotted path of the field at fault."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidInput(ValueError):
    """Input a core function cannot work with; `problems` says which fields and why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "invalid input")


def problems_from_validation(error: ValidationError, *, prefix: str = "") -> list[Problem]:
    """Turn pydantic's errors into problems with wire (camelCase) field paths."""
    out: list[Problem] = []
    for item in error.errors(include_url=False):
        loc = ".".join(str(part) for part in item["loc"])
        field = ".".join(x for x in (prefix, loc) if x) or prefix or "(root)"
        out.append(Problem(field, _short(item["msg"], item.get("input"))))
    return out


def _short(message: str, value: object) -> str:
    # Echo small scalar inputs so the operator sees what was wrong; never dump big objects.
    if isinstance(value, str | int | float | bool) and len(repr(value)) <= 80:
        return f"{message} (got {value!r})"
    return message


def join(problems: Iterable[Problem]) -> str:
    """One line listing every problem."""
    return "; ".join(str(p) for p in problems)
