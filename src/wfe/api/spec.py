"""The spec of a WorkflowExecution: what to run, against which target, where and as whom.

Two shapes are accepted (docs/api.md): the older one this controller was written for
(`workflowRef.containerImage`/`containerDigest`, `executionConfig`) and the current upstream
kubernaut one (`workflowRef.executionBundle`/`executionBundleDigest`, `workflowName`,
`actionType`, `executionEngine`, `engineConfig`, `serviceAccountName`, `dependencies`,
`resources`, `declaredParameterNames`; `spec.clusterID`, `spec.timesOutAt`). Every field of
either shape is declared, so none of them is pruned silently: each one either takes effect in
the PipelineRun or, when this controller does not implement it, fails the WorkflowExecution
(`wfe.core.validation`). Formats are CEL rules whose messages say in words what is expected.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictBool, StrictFloat, WithJsonSchema
from pydantic.config import JsonDict

from wfe.api import formats
from wfe.api.base import KubeTime, Model, validation_rule

__all__ = [
    "BUNDLE_MESSAGE",
    "DIGEST_MESSAGE",
    "DURATION_MESSAGE",
    "NAME_MESSAGE",
    "TARGET_MESSAGE",
    "ExecutionConfig",
    "ObjectReference",
    "ResourceClaim",
    "ResourceRequirements",
    "WorkflowDependencies",
    "WorkflowExecutionSpec",
    "WorkflowRef",
    "WorkflowResourceDependency",
]

# Bounds keep CEL's cost estimate for the spec immutability rule inside the server's budget.
_MAX_PARAMETERS = 64
_MAX_DECLARED = 128
_MAX_VALUE = 8192
_MAX_DEPENDENCIES = 32
_MAX_SMALL_MAP = 16

TARGET_MESSAGE = (
    "must be namespace/Kind/name, or Kind/name for a cluster-scoped kind: namespace and name "
    "lowercase Kubernetes names (a-z, 0-9, '-', and '.' in a name), Kind as the API server "
    "names it (Deployment, Node), or Kind.group for a kind two API groups serve "
    "(Certificate.cert-manager.io)"
)
NAME_MESSAGE = (
    "must be a lowercase Kubernetes name: a-z, 0-9, '-' and '.', starting and ending with a "
    "letter or digit"
)
BUNDLE_MESSAGE = (
    "must be an OCI reference: a lowercase repository path with an optional registry host, "
    "an optional :tag and an optional @sha256:<64 hex digits> digest, e.g. "
    "quay.io/kubernaut/workflows/restart:v1"
)
DIGEST_MESSAGE = "must be sha256:<64 lowercase hex digits> or sha512:<128 lowercase hex digits>"
DURATION_MESSAGE = (
    f"must be a Go duration such as 90s, 30m or 1h30m (units h, m, s, ms, us, ns), at most "
    f"{formats.DURATION_MAX}"
)


def _matches(pattern: str, message: str) -> JsonDict:
    return {"x-kubernetes-validations": [validation_rule(f"self.matches(r'{pattern}')", message)]}


_NAME = _matches(formats.DNS_SUBDOMAIN_PATTERN, NAME_MESSAGE)
_BUNDLE = _matches(formats.BUNDLE_PATTERN, BUNDLE_MESSAGE)
_DIGEST = _matches(formats.DIGEST_PATTERN, DIGEST_MESSAGE)
_DURATION: JsonDict = {
    "x-kubernetes-validations": [
        validation_rule(
            f"self.matches(r'{formats.DURATION_PATTERN}') && "
            f"duration(self) <= duration('{formats.DURATION_MAX}')",
            DURATION_MESSAGE,
        )
    ]
}
_TARGET: JsonDict = {
    "x-kubernetes-validations": [
        validation_rule(
            f"self.matches(r'{formats.TARGET_PATTERN}') && "
            f"self.split('/').all(p, size(p) <= {formats.MAX_NAME_LENGTH})",
            TARGET_MESSAGE,
        )
    ]
}
_KEY = formats.PARAMETER_KEY_PATTERN
_PARAMETERS: JsonDict = {
    "x-kubernetes-validations": [
        # The messages name the first offending key (all of them would exceed CEL's cost
        # budget: keys have no length bound). A nullable value has CEL type string, so a null
        # is found by its type.
        validation_rule(
            f"self.all(k, k.matches(r'{_KEY}'))",
            "parameter keys must be UPPER_SNAKE_CASE",
            message_expression=(
                "'parameter key ' + self.filter(k, !k.matches(r'" + _KEY + "'))[0] + "
                "' must be UPPER_SNAKE_CASE (A-Z, 0-9 and _, starting with a letter)'"
            ),
        ),
        validation_rule(
            "self.all(k, type(self[k]) != null_type)",
            'every parameter needs a value (write "" for an empty one)',
            message_expression=(
                "'parameter ' + self.filter(k, type(self[k]) == null_type)[0] + "
                "' has no value (null): give it a string value, \"\" for an empty one'"
            ),
        ),
    ]
}
_LIST_MAP: JsonDict = {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}

# A parameter value the API server keeps even when it is null (a YAML key with nothing after
# it), so that the rule above can refuse it instead of the server dropping it silently.
_ParameterValue = Annotated[
    Annotated[str, Field(max_length=_MAX_VALUE)] | None,
    WithJsonSchema({"type": "string", "maxLength": _MAX_VALUE, "nullable": True}),
]


class ObjectReference(Model):
    """A reference to another object (corev1.ObjectReference)."""

    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    field_path: str | None = None


class WorkflowResourceDependency(Model):
    """A Secret or ConfigMap in the execution namespace, by name."""

    name: str = Field(min_length=1, max_length=formats.MAX_NAME_LENGTH, json_schema_extra=_NAME)


class WorkflowDependencies(Model):
    """Secrets and ConfigMaps the workflow mounts: each becomes a PipelineRun workspace."""

    secrets: list[WorkflowResourceDependency] | None = Field(
        default=None, max_length=_MAX_DEPENDENCIES, json_schema_extra=_LIST_MAP
    )
    config_maps: list[WorkflowResourceDependency] | None = Field(
        default=None, max_length=_MAX_DEPENDENCIES, json_schema_extra=_LIST_MAP
    )


class ResourceClaim(Model):
    """corev1.ResourceClaim."""

    name: str = Field(min_length=1, max_length=formats.MAX_NAME_LENGTH)
    request: str | None = Field(default=None, max_length=formats.MAX_NAME_LENGTH)


_Quantities = dict[str, Annotated[str, Field(max_length=64)]]


class ResourceRequirements(Model):
    """corev1.ResourceRequirements; not implemented here: setting it fails the execution."""

    # Declared so that it is never pruned silently; upstream applies it to Job containers only.
    # Quantities are strings, as Go writes them.

    claims: list[ResourceClaim] | None = Field(
        default=None, max_length=_MAX_SMALL_MAP, json_schema_extra=_LIST_MAP
    )
    limits: _Quantities | None = Field(default=None, max_length=_MAX_SMALL_MAP)
    requests: _Quantities | None = Field(default=None, max_length=_MAX_SMALL_MAP)


class WorkflowRef(Model):
    """The remediation workflow: a Tekton bundle holding a Pipeline named `workflow`."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                validation_rule(
                    "has(self.executionBundle) || has(self.containerImage)",
                    "executionBundle (or containerImage, its older name) is required: the OCI "
                    "reference of the Tekton bundle to run",
                ),
                validation_rule(
                    "!has(self.executionBundle) || !has(self.containerImage) || "
                    "self.executionBundle == self.containerImage",
                    "executionBundle and containerImage (its older name) differ: set one of "
                    "them, or both to the same reference",
                ),
                validation_rule(
                    "!has(self.executionBundleDigest) || !has(self.containerDigest) || "
                    "self.executionBundleDigest == self.containerDigest",
                    "executionBundleDigest and containerDigest (its older name) differ: set one "
                    "of them, or both to the same digest",
                ),
            ]
        }
    )

    workflow_id: str = Field(min_length=1, max_length=253, description="Catalog workflow ID.")
    version: str = Field(min_length=1, max_length=128, description="Workflow version.")
    workflow_name: str | None = Field(
        default=None, max_length=253, description="Catalog workflow name (audit only)."
    )
    action_type: str | None = Field(
        default=None, max_length=253, description="Action type, e.g. RestartPod (audit only)."
    )
    execution_bundle: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="OCI reference of the Tekton bundle (upstream name).",
        json_schema_extra=_BUNDLE,
    )
    execution_bundle_digest: str | None = Field(
        default=None,
        max_length=140,
        description="Digest of the bundle; pins it when the reference has none.",
        json_schema_extra=_DIGEST,
    )
    container_image: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="Older name of executionBundle.",
        json_schema_extra=_BUNDLE,
    )
    container_digest: str | None = Field(
        default=None,
        max_length=140,
        description="Older name of executionBundleDigest.",
        json_schema_extra=_DIGEST,
    )
    execution_engine: Literal["tekton", "job", "ansible"] | None = Field(
        default=None, description="Only tekton is implemented; others fail the execution."
    )
    engine_config: dict[str, Annotated[str, Field(max_length=1024)]] | None = Field(
        default=None,
        max_length=_MAX_SMALL_MAP,
        description="Engine settings (ansible only upstream); any entry fails the execution.",
    )
    service_account_name: str | None = Field(
        default=None,
        max_length=253,
        description="Runner service account; must be in the controller's allow-list.",
        json_schema_extra=_NAME,
    )
    dependencies: WorkflowDependencies | None = None
    resources: ResourceRequirements | None = None
    # Strict, like the API server: "yes" is not a boolean, "0.5" not a number.
    declared_parameter_names: dict[str, StrictBool] | None = Field(
        default=None,
        max_length=_MAX_DECLARED,
        description="When set, only parameters declared true here reach the pipeline.",
        json_schema_extra={"nullable": True},
    )


class ExecutionConfig(Model):
    """Per-execution overrides, each bounded by the controller's configuration."""

    timeout: str | None = Field(
        default=None,
        max_length=64,
        description="Pipeline timeout (Go duration, e.g. 30m); capped by the configured maximum.",
        json_schema_extra=_DURATION,
    )
    service_account_name: str | None = Field(
        default=None,
        max_length=253,
        description="Runner service account; must be in the controller's allow-list.",
        json_schema_extra=_NAME,
    )


class WorkflowExecutionSpec(Model):
    """What to run against which target. Immutable after creation."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [validation_rule("self == oldSelf", "spec is immutable")]
        }
    )

    remediation_request_ref: ObjectReference | None = None
    workflow_ref: WorkflowRef
    target_resource: str = Field(
        min_length=3,
        max_length=600,
        description="namespace/Kind/name or Kind/name; the lock key, compared exactly.",
        json_schema_extra=_TARGET,
    )
    cluster_id: str | None = Field(
        default=None,
        alias="clusterID",
        max_length=253,
        description="Remote cluster (upstream fleet); only empty (this cluster) is implemented.",
    )
    parameters: dict[str, _ParameterValue] | None = Field(
        default=None,
        max_length=_MAX_PARAMETERS,
        description="Workflow parameters; keys UPPER_SNAKE_CASE, passed to Tekton as strings.",
        json_schema_extra=_PARAMETERS,
    )
    confidence: StrictFloat | None = Field(default=None, ge=0, le=1, description="Audit only.")
    rationale: str | None = Field(default=None, max_length=_MAX_VALUE, description="Audit only.")
    times_out_at: KubeTime | None = Field(
        default=None,
        description="Absolute deadline of the run; the pipeline timeout is what remains of it.",
    )
    execution_config: ExecutionConfig | None = None
