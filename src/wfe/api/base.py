"""Building blocks shared by the spec and status models: the wire conventions of the API.

Every model is frozen, speaks camelCase on the wire (the upstream kubernaut field names) and
ignores fields it does not declare (the API server's structural schema has already pruned
them; docs/api.md lists what is declared). Times are metav1.Time: RFC 3339 in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

__all__ = ["KubeTime", "Model", "format_time", "validation_rule"]


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with second precision, as Kubernetes writes metav1.Time."""
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


KubeTime = Annotated[
    datetime,
    PlainSerializer(format_time, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class Model(BaseModel):
    """The base of every API model."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
        use_enum_values=False,
    )


def validation_rule(
    rule: str,
    message: str | None = None,
    *,
    message_expression: str | None = None,
    field_path: str | None = None,
) -> JsonDict:
    """One `x-kubernetes-validations` entry (a CEL rule and what the user reads on failure)."""
    out: JsonDict = {"rule": rule}
    if message is not None:
        out["message"] = message
    if message_expression is not None:
        out["messageExpression"] = message_expression
    if field_path is not None:
        out["fieldPath"] = field_path
    return out
