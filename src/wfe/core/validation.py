"""Step 1 of deciding a new WorkflowExecution: is the spec something we may run? (SPEC §4.1)

The CRD schema already rejects most bad specs at admission, but the controller checks again:
objects may predate the schema, the schema cannot see the controller's configuration (service
account allow-list, maximum timeout, pinned bundles) nor the time, and a spec that slipped
through must fail with a clear `ConfigurationError` naming the field, never crash or loop the
reconcile. Every field that changes where, how or as whom a run happens either takes effect in
the resolved `ValidSpec` or is a problem here (docs/api.md lists them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from wfe.api.base import format_time
from wfe.api.formats import DNS_SUBDOMAIN_PATTERN, DURATION_PATTERN, PARAMETER_KEY_PATTERN
from wfe.api.spec import DURATION_MESSAGE, NAME_MESSAGE, WorkflowExecutionSpec, WorkflowRef
from wfe.core.applied import null_parameters_dropped_by_kubectl
from wfe.core.bundle import BundleReference, parse_bundle, parse_digest
from wfe.core.durations import parse_duration
from wfe.core.errors import InvalidInput, Problem, problems_from_validation
from wfe.core.policy import Policy
from wfe.core.target import FIELD as TARGET_FIELD
from wfe.core.target import Target, parse_target

__all__ = ["TARGET_PARAMETER", "Dependency", "Invalid", "ValidSpec", "validate_spec"]

# The controller always passes the target to the pipeline under this name.
TARGET_PARAMETER = "TARGET_RESOURCE"
_KEY = re.compile(PARAMETER_KEY_PATTERN)
_NAME = re.compile(DNS_SUBDOMAIN_PATTERN)
_DURATION = re.compile(DURATION_PATTERN)
_REF = "spec.workflowRef"
_MIN_TIMEOUT = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Dependency:
    """A Secret or ConfigMap the run mounts, as a PipelineRun workspace."""

    kind: Literal["secret", "configMap"]
    name: str

    @property
    def workspace(self) -> str:
        """Upstream's workspace name for it: `secret-<name>` or `configmap-<name>`."""
        return f"{self.kind.lower()}-{self.name}"


@dataclass(frozen=True, slots=True)
class ValidSpec:
    """A spec that may run, with everything the policy and the time resolved for it.

    `parameters` are exactly what the PipelineRun gets (sorted, the target included);
    `dropped_parameters` those `declaredParameterNames` kept out of it; `warnings` what the
    controller publishes as a Warning Event because the run goes ahead despite it.
    """

    spec: WorkflowExecutionSpec
    target: Target
    service_account: str
    timeout: timedelta
    bundle: BundleReference
    parameters: tuple[tuple[str, str], ...]
    dependencies: tuple[Dependency, ...] = ()
    dropped_parameters: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Invalid:
    """A spec that must not run; every problem names its field."""

    problems: tuple[Problem, ...]

    @property
    def message(self) -> str:
        return "invalid spec: " + "; ".join(str(p) for p in self.problems)


def validate_spec(
    raw: Mapping[str, Any] | None,
    policy: Policy,
    *,
    now: datetime | None = None,
    annotations: Mapping[str, str] | None = None,
) -> ValidSpec | Invalid:
    """Check a raw `spec` mapping against the schema, the policy and (for `timesOutAt`) `now`.

    Without `now` a spec with a deadline fails: its remaining time cannot be known.
    `annotations` (the object's) reveal parameters client-side `kubectl apply` dropped.
    """
    if not isinstance(raw, Mapping):
        return Invalid((Problem("spec", "missing or not an object"),))
    problems: list[Problem] = null_parameters_dropped_by_kubectl(annotations, raw)
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
    problems.extend(_unsupported(spec))
    bundle, warnings = _bundle(spec.workflow_ref, policy, problems)
    timeout = _timeout(spec, policy, now, problems)
    service_account = _service_account(spec, policy, problems)
    dependencies = _dependencies(spec.workflow_ref, problems)
    if problems or bundle is None:
        return Invalid(tuple(problems))
    parameters, dropped = _effective_parameters(spec, target)
    return ValidSpec(
        spec=spec,
        target=target,
        service_account=service_account,
        timeout=timeout,
        bundle=bundle,
        parameters=parameters,
        dependencies=dependencies,
        dropped_parameters=dropped,
        warnings=tuple(warnings),
    )


def _key_field(key: str) -> str:
    return f"spec.parameters.{key}" if _KEY.fullmatch(key) else f"spec.parameters[{key[:64]!r}]"


def _parameter_problems(spec: WorkflowExecutionSpec) -> list[Problem]:
    problems: list[Problem] = []
    for key, value in (spec.parameters or {}).items():
        field = _key_field(key)
        if not _KEY.fullmatch(key):
            problems.append(
                Problem(field, "key must be UPPER_SNAKE_CASE (A-Z, 0-9 and _, starting A-Z)")
            )
        elif value is None:
            problems.append(
                Problem(field, 'has no value (null): give it a string value, "" for an empty one')
            )
        elif key == TARGET_PARAMETER and value != spec.target_resource:
            problems.append(
                Problem(field, "is set by the controller and must equal spec.targetResource")
            )
    return problems


def _unsupported(spec: WorkflowExecutionSpec) -> list[Problem]:
    """Upstream features this controller does not implement: fail rather than ignore them."""
    problems: list[Problem] = []
    ref = spec.workflow_ref
    if spec.cluster_id:
        problems.append(
            Problem(
                "spec.clusterID",
                f"{spec.cluster_id[:80]!r}: remote-cluster execution is not implemented; this "
                "controller runs workflows on its own cluster only (clusterID empty)",
            )
        )
    if ref.execution_engine not in (None, "tekton"):
        problems.append(
            Problem(
                f"{_REF}.executionEngine",
                f"{ref.execution_engine!r} is not implemented: this controller runs Tekton "
                "pipelines only (executionEngine tekton)",
            )
        )
    if ref.engine_config:
        problems.append(
            Problem(
                f"{_REF}.engineConfig",
                "is not implemented: engine settings belong to the ansible engine upstream, a "
                "Tekton workflow takes none",
            )
        )
    resources = ref.resources
    if resources is not None and (resources.claims or resources.limits or resources.requests):
        problems.append(
            Problem(
                f"{_REF}.resources",
                "is not implemented for Tekton runs (upstream applies it to Job containers "
                "only): compute resources belong in the bundle's Tasks",
            )
        )
    return problems


def _one_of(
    ref: WorkflowRef, new: str, old: str, problems: list[Problem]
) -> tuple[str, str] | None:
    """The (field, value) of a field written under its upstream name `new` or older `old`."""
    written = [(f"{_REF}.{name}", getattr(ref, _ATTRIBUTES[name])) for name in (new, old)]
    present = [(field, value) for field, value in written if value is not None]
    if len(present) == 2 and present[0][1] != present[1][1]:
        problems.append(
            Problem(
                present[1][0],
                f"differs from {present[0][0]}: they are two names of one field; set one of "
                "them, or both to the same value",
            )
        )
    return present[0] if present else None


_ATTRIBUTES = {
    "executionBundle": "execution_bundle",
    "containerImage": "container_image",
    "executionBundleDigest": "execution_bundle_digest",
    "containerDigest": "container_digest",
}


def _bundle(
    ref: WorkflowRef, policy: Policy, problems: list[Problem]
) -> tuple[BundleReference | None, list[str]]:
    image = _one_of(ref, "executionBundle", "containerImage", problems)
    digest = _one_of(ref, "executionBundleDigest", "containerDigest", problems)
    if image is None:
        problems.append(
            Problem(
                f"{_REF}.executionBundle",
                "is required (or containerImage, its older name): the OCI reference of the "
                "Tekton bundle to run",
            )
        )
        return None, []
    field, text = image
    try:
        bundle = parse_bundle(text, field=field)
    except InvalidInput as exc:
        problems.extend(exc.problems)
        return None, []
    if digest is not None:
        digest_field, digest_text = digest
        try:
            pinned_to = parse_digest(digest_text, field=digest_field)
        except InvalidInput as exc:
            problems.extend(exc.problems)
            return None, []
        if bundle.digest is None:
            bundle = bundle.with_digest(pinned_to)
        elif bundle.digest != pinned_to:
            problems.append(
                Problem(digest_field, f"differs from the digest already in {field.rsplit('.')[-1]}")
            )
    warnings: list[str] = []
    if not bundle.pinned:
        why = (
            f"{text[:80]!r} names neither a tag nor a digest, so the run would get whatever the "
            "repository's latest is when it starts"
        )
        if policy.require_pinned_bundles:
            problems.append(
                Problem(field, f"{why}; pin it with :tag or @sha256:… (require_pinned_bundles)")
            )
        else:
            warnings.append(f"{field}: {why}")
    return bundle, warnings


def _timeout(
    spec: WorkflowExecutionSpec, policy: Policy, now: datetime | None, problems: list[Problem]
) -> timedelta:
    """The smaller of `executionConfig.timeout` and what remains until `timesOutAt`, capped by
    the configured maximum; the default when neither is set."""
    limits: list[timedelta] = []
    text = spec.execution_config.timeout if spec.execution_config else None
    if text is not None:
        field = "spec.executionConfig.timeout"
        try:
            if not _DURATION.fullmatch(text):
                raise ValueError(f"{DURATION_MESSAGE} (got {text[:80]!r})")
            requested = parse_duration(text)
        except ValueError as exc:
            problems.append(Problem(field, str(exc)))
        else:
            # Tekton reads a zero timeout as "no timeout": never let a spec ask for that.
            if requested < _MIN_TIMEOUT:
                problems.append(Problem(field, "must be at least 1s"))
            else:
                limits.append(requested)
    deadline = spec.times_out_at
    if deadline is not None:
        field = "spec.timesOutAt"
        if deadline.tzinfo is None:
            problems.append(Problem(field, "must be an RFC 3339 time with a zone, e.g. …Z"))
        elif now is None:
            problems.append(Problem(field, "cannot be honoured: the current time is unknown"))
        elif deadline - now < _MIN_TIMEOUT:
            problems.append(
                Problem(
                    field,
                    f"is already past ({format_time(deadline)}; now {format_time(now)}): the "
                    "orchestrator's deadline for this run has expired",
                )
            )
        else:
            limits.append(deadline - now)
    if not limits:
        return policy.default_timeout
    return min(*limits, policy.max_timeout)


def _service_account(spec: WorkflowExecutionSpec, policy: Policy, problems: list[Problem]) -> str:
    """`workflowRef.serviceAccountName` (upstream) or `executionConfig.serviceAccountName`
    (older), through the allow-list; the runner account when neither is set."""
    written = [
        (f"{_REF}.serviceAccountName", spec.workflow_ref.service_account_name),
        (
            "spec.executionConfig.serviceAccountName",
            spec.execution_config.service_account_name if spec.execution_config else None,
        ),
    ]
    present = [(field, name) for field, name in written if name is not None]
    if not present:
        return policy.runner_service_account
    if len(present) == 2 and present[0][1] != present[1][1]:
        problems.append(
            Problem(
                present[0][0],
                f"{present[0][1]!r} differs from {present[1][0]} {present[1][1]!r}: the run "
                "has one identity; set one of them, or both to the same account",
            )
        )
        return policy.runner_service_account
    field, requested = present[0]
    if not policy.service_account_allowed(requested):
        problems.append(Problem(field, f"{requested!r} is not in the controller's allow-list"))
    return requested


def _dependencies(ref: WorkflowRef, problems: list[Problem]) -> tuple[Dependency, ...]:
    deps = ref.dependencies
    if deps is None:
        return ()
    out: list[Dependency] = []
    lists: tuple[tuple[Literal["secret", "configMap"], str, Any], ...] = (
        ("secret", "secrets", deps.secrets),
        ("configMap", "configMaps", deps.config_maps),
    )
    for kind, wire, items in lists:
        seen: set[str] = set()
        for i, item in enumerate(items or ()):
            field = f"{_REF}.dependencies.{wire}[{i}].name"
            if not _NAME.fullmatch(item.name):
                problems.append(Problem(field, f"{NAME_MESSAGE} (got {item.name[:80]!r})"))
            elif item.name in seen:
                problems.append(Problem(field, f"{item.name!r} is listed twice"))
            else:
                seen.add(item.name)
                out.append(Dependency(kind, item.name))
    return tuple(out)


def _effective_parameters(
    spec: WorkflowExecutionSpec, target: Target
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """What the PipelineRun gets: with `declaredParameterNames` set (upstream's allow-list,
    empty included), only the keys it declares true; the target always."""
    params = {k: v for k, v in (spec.parameters or {}).items() if v is not None}
    declared = spec.workflow_ref.declared_parameter_names
    dropped: list[str] = []
    if declared is not None:
        dropped = [k for k in params if k != TARGET_PARAMETER and declared.get(k) is not True]
        params = {k: v for k, v in params.items() if k not in dropped}
    params[TARGET_PARAMETER] = target.raw
    return tuple(sorted(params.items())), tuple(sorted(dropped))
