"""Step 1 of deciding a new WorkflowExecution: is the spec something we may run? (SPEC §4.1)

The CRD schema already rejects most bad specs at admission, but the controller checks again:
objects may predate the schema, the schema cannot see the controller's configuration (service
account allow-list, maximum timeout), and a spec that slipped through must fail with a clear
`ConfigurationError`, never crash the reconcile.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from wfe.api.models import PARAMETER_KEY_PATTERN, WorkflowExecutionSpec
from wfe.core.durations import parse_duration
from wfe.core.errors import InvalidInput, Problem, problems_from_validation
from wfe.core.policy import Policy
from wfe.core.target import FIELD as TARGET_FIELD
from wfe.core.target import Target, parse_target

__all__ = ["TARGET_PARAMETER", "Invalid", "ValidSpec", "validate_spec"]

# The controller always passes the target to the pipeline under this name.
TARGET_PARAMETER = "TARGET_RESOURCE"
_KEY = re.compile(PARAMETER_KEY_PATTERN)


@dataclass(frozen=True, slots=True)
class ValidSpec:
    """A spec that may run, with the choices the policy resolved for it."""

    spec: WorkflowExecutionSpec
    target: Target
    service_account: str
    timeout: timedelta


@dataclass(frozen=True, slots=True)
class Invalid:
    """A spec that must not run; every problem names its field."""

    problems: tuple[Problem, ...]

    @property
    def message(self) -> str:
        return "invalid spec: " + "; ".join(str(p) for p in self.problems)


def validate_spec(raw: Mapping[str, Any] | None, policy: Policy) -> ValidSpec | Invalid:
    """Check a raw `spec` mapping against the schema and the policy."""
    if not isinstance(raw, Mapping):
        return Invalid((Problem("spec", "missing or not an object"),))
    problems: list[Problem] = []
    target: Target | None = None
    try:
        target = parse_target(raw.get("targetResource"))
    except InvalidInput as exc:
        problems.extend(exc.problems)
    spec: WorkflowExecutionSpec | None = None
    try:
        spec = WorkflowExecutionSpec.model_validate(raw)
    except ValidationError as exc:
        problems.extend(
            p for p in problems_from_validation(exc, prefix="spec") if p.field != TARGET_FIELD
        )
    if spec is None or target is None:
        return Invalid(tuple(problems))
    problems.extend(_parameter_problems(spec))
    problems.extend(_digest_problems(spec))
    timeout, timeout_problems = _timeout(spec, policy)
    problems.extend(timeout_problems)
    service_account = policy.runner_service_account
    requested = spec.execution_config.service_account_name if spec.execution_config else None
    if requested is not None:
        if policy.service_account_allowed(requested):
            service_account = requested
        else:
            problems.append(
                Problem(
                    "spec.executionConfig.serviceAccountName",
                    f"{requested!r} is not in the controller's allow-list",
                )
            )
    if problems:
        return Invalid(tuple(problems))
    return ValidSpec(spec=spec, target=target, service_account=service_account, timeout=timeout)


def _parameter_problems(spec: WorkflowExecutionSpec) -> list[Problem]:
    problems: list[Problem] = []
    for key, value in (spec.parameters or {}).items():
        if not _KEY.fullmatch(key):
            problems.append(Problem(f"spec.parameters.{key}", "key must be UPPER_SNAKE_CASE"))
        elif key == TARGET_PARAMETER and value != spec.target_resource:
            problems.append(
                Problem(
                    f"spec.parameters.{key}",
                    "is set by the controller and must equal spec.targetResource",
                )
            )
    return problems


def _digest_problems(spec: WorkflowExecutionSpec) -> list[Problem]:
    image, digest = spec.workflow_ref.container_image, spec.workflow_ref.container_digest
    if digest and "@" in image and not image.endswith("@" + digest):
        return [
            Problem(
                "spec.workflowRef.containerDigest",
                "differs from the digest already in containerImage",
            )
        ]
    return []


def _timeout(spec: WorkflowExecutionSpec, policy: Policy) -> tuple[timedelta, list[Problem]]:
    text = spec.execution_config.timeout if spec.execution_config else None
    if text is None:
        return policy.default_timeout, []
    field = "spec.executionConfig.timeout"
    try:
        requested = parse_duration(text)
    except ValueError as exc:
        return policy.default_timeout, [Problem(field, str(exc))]
    # Tekton reads a zero timeout as "no timeout": never let a spec ask for that.
    if requested < timedelta(seconds=1):
        return policy.default_timeout, [Problem(field, "must be at least 1s")]
    return min(requested, policy.max_timeout), []
