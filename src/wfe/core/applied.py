"""What `kubectl apply` was asked to create, when it differs from what the server received.

Client-side `kubectl apply` drops keys whose value is null before it sends the object (a null
means "delete this field" in its three-way merge), so a parameter written `MEMORY_LIMIT:` with
nothing after it never reaches the API server, and the CRD's rule against null parameters
cannot see it. kubectl keeps what it was given in the `last-applied-configuration` annotation;
reading it lets the controller fail such a WorkflowExecution instead of running the workflow
without the parameter (docs/api.md). The annotation can only add problems, never remove one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from wfe.core.errors import Problem

__all__ = ["LAST_APPLIED_ANNOTATION", "null_parameters_dropped_by_kubectl"]

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"


def null_parameters_dropped_by_kubectl(
    annotations: Mapping[str, str] | None, spec: Mapping[str, Any]
) -> list[Problem]:
    """A problem for each parameter kubectl was given as null and the stored spec lacks."""
    text = (annotations or {}).get(LAST_APPLIED_ANNOTATION)
    if not isinstance(text, str):
        return []
    try:
        applied = json.loads(text)
    except ValueError:
        return []
    applied_spec = applied.get("spec") if isinstance(applied, dict) else None
    params = applied_spec.get("parameters") if isinstance(applied_spec, dict) else None
    if not isinstance(params, dict):
        return []
    stored = spec.get("parameters")
    stored = stored if isinstance(stored, Mapping) else {}
    return [
        Problem(
            f"spec.parameters.{key}",
            "has no value (null) in what kubectl applied, which dropped it before sending: "
            'give it a string value, "" for an empty one',
        )
        for key, value in params.items()
        if isinstance(key, str) and value is None and key not in stored
    ]
