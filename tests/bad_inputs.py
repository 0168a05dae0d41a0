"""The bad-input corpus: WorkflowExecutions that must be refused by name, fail by name, or run.

Each case is data: a merge patch over a valid base spec (`DELETE` removes a key; `None` is a
literal null, as a YAML key with nothing after it is), an optional metadata name, and the
outcome. `rejected`: the API server refuses it and the message names `field`; `failed`: it is
admitted and the controller fails it as ConfigurationError naming `field` in
failureDetails.message; `runs`: it is admitted and completes. No case may leave a
WorkflowExecution retried forever (issue 9). `needs` names work outside this corpus that the
expected outcome depends on. Used by tests/test_bad_inputs.py (the controller's validation,
offline) and tests/integration/controller/test_bad_inputs.py (the API server and the
controller).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from wfe.api.models import API_VERSION, KIND
from wfe.dev.tekton_scenarios import SCENARIO_PARAMETER

__all__ = ["CASES", "DELETE", "Case", "manifest"]

DELETE: Any = object()
SHA = "sha256:" + "a" * 64
OTHER_SHA = "sha256:" + "b" * 64
IMAGE = "registry.example.com/workflows/restart-deployment:1.0.0"
DISCOVERY = "the kind-spelling check against discovery (core/kinds.py, the lead's)"
OWNER_ANNOTATIONS = (
    "owned_by and the PipelineRun mapping reading the owner annotations (the lead's)"
)
NOW_IN_DECIDE = "decide passing now= to validate_spec (the lead's)"


@dataclass(frozen=True)
class Case:
    name: str
    outcome: Literal["rejected", "failed", "runs"]
    spec: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    field: str | None = None
    also: tuple[str, ...] = ()
    metadata_name: str | None = None
    needs: str | None = None

    @property
    def object_name(self) -> str:
        return self.metadata_name or self.name


def _merge(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if value is DELETE:
            base.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(base.get(key), dict):
            base[key] = _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def manifest(case: Case) -> dict[str, Any]:
    """The WorkflowExecution to create for `case` (its target is unique to it)."""
    spec: dict[str, Any] = {
        "workflowRef": {"workflowId": "restart-deployment", "version": "1.0.0"},
        "targetResource": f"payment/Deployment/{case.name}",
        "parameters": {"NAMESPACE": "payment", SCENARIO_PARAMETER: "success"},
    }
    spec["workflowRef"]["containerImage"] = IMAGE
    _merge(spec, case.spec)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": case.object_name},
        "spec": spec,
    }


def _target(value: Any) -> dict[str, Any]:
    return {"targetResource": value}


def _image(value: Any, **more: Any) -> dict[str, Any]:
    return {"workflowRef": {"containerImage": value, **more}}


def _timeout(value: str) -> dict[str, Any]:
    return {"executionConfig": {"timeout": value}}


def _params(**values: Any) -> dict[str, Any]:
    return {"parameters": values}


def _upstream(**ref: Any) -> dict[str, Any]:
    """The current upstream shape: executionBundle and the catalog snapshot's fields."""
    base = {
        "containerImage": DELETE,
        "workflowId": "0b5a5d8e-2f0c-4c5e-9d7a-111111111111",
        "workflowName": "restart-deployment",
        "actionType": "RestartDeployment",
        "executionBundle": f"quay.io/kubernaut/workflows/restart@{SHA}",
        "executionBundleDigest": SHA,
        "executionEngine": "tekton",
    }
    return {"workflowRef": {**base, **ref}}


def _upstream_spec(ref: Mapping[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {**_upstream(**(ref or {})), **spec}


_NAME_64 = "name-64-" + "x" * 56
_NAME_253 = "name-253." + "y" * 60 + "." + "y" * 60 + "." + "y" * 60 + "." + "z" * 61

CASES: tuple[Case, ...] = (
    # --- targetResource: format in the schema -----------------------------------------------------
    Case(
        "target-uppercase-name",
        "rejected",
        _target("payment/Deployment/Checkout"),
        "spec.targetResource",
        ("lowercase Kubernetes names",),
    ),
    Case(
        "target-underscore-name",
        "rejected",
        _target("payment/Deployment/check_out"),
        "spec.targetResource",
    ),
    Case(
        "target-colon-name", "rejected", _target("ClusterRole/system:node"), "spec.targetResource"
    ),
    Case(
        "target-uppercase-namespace",
        "rejected",
        _target("Payment/Deployment/x"),
        "spec.targetResource",
    ),
    Case(
        "target-namespace-64",
        "rejected",
        _target("n" * 64 + "/Deployment/x"),
        "spec.targetResource",
    ),
    Case(
        "target-name-254",
        "rejected",
        _target("payment/Deployment/" + "x" * 254),
        "spec.targetResource",
    ),
    Case("target-four-parts", "rejected", _target("a/b/Deployment/x"), "spec.targetResource"),
    Case("target-one-part", "rejected", _target("checkout"), "spec.targetResource"),
    Case("target-empty-name", "rejected", _target("payment/Deployment/"), "spec.targetResource"),
    Case(
        "target-space-in-kind", "rejected", _target("payment/Deploy ment/x"), "spec.targetResource"
    ),
    Case(
        "target-kind-digit-first",
        "rejected",
        _target("payment/9Deployment/x"),
        "spec.targetResource",
    ),
    Case(
        "target-uppercase-group",
        "rejected",
        _target("payment/Certificate.Cert-Manager.io/w"),
        "spec.targetResource",
    ),
    Case("target-not-a-string", "rejected", _target(42), "spec.targetResource"),
    Case("target-missing", "rejected", _target(DELETE), "spec.targetResource"),
    # --- targetResource: the kind as discovery spells it ------------------------------------------
    Case(
        "kind-lowercase",
        "failed",
        _target("payment/deployment/checkout"),
        "spec.targetResource",
        needs=DISCOVERY,
    ),
    Case(
        "kind-plural",
        "failed",
        _target("payment/deployments/checkout"),
        "spec.targetResource",
        needs=DISCOVERY,
    ),
    Case(
        "kind-short-name",
        "failed",
        _target("payment/deploy/checkout"),
        "spec.targetResource",
        needs=DISCOVERY,
    ),
    Case(
        "kind-not-served",
        "failed",
        _target("payment/Deplyment/checkout"),
        "spec.targetResource",
        needs=DISCOVERY,
    ),
    Case(
        "kind-cluster-scoped-with-namespace",
        "failed",
        _target("default/Node/n1"),
        "spec.targetResource",
        needs=DISCOVERY,
    ),
    Case(
        "kind-namespaced-without-namespace",
        "failed",
        _target("Deployment/checkout"),
        "spec.targetResource",
        needs=DISCOVERY,
    ),
    Case("target-cluster-scoped", "runs", _target("Node/worker-bad-inputs")),
    # --- the bundle -------------------------------------------------------------------------------
    Case("image-two-ats", "rejected", _image("r/x@sha256:a@b"), "spec.workflowRef.containerImage"),
    Case(
        "image-bad-tag", "rejected", _image("r.example/x:-bad"), "spec.workflowRef.containerImage"
    ),
    Case(
        "image-short-digest",
        "rejected",
        _image("r.example/x@sha256:abc"),
        "spec.workflowRef.containerImage",
    ),
    Case(
        "image-md5-digest",
        "rejected",
        _image("r.example/x@md5:" + "a" * 32),
        "spec.workflowRef.containerImage",
    ),
    Case("image-uppercase", "rejected", _image("R/X:1"), "spec.workflowRef.containerImage"),
    Case("image-space", "rejected", _image("r.example/a b:1"), "spec.workflowRef.containerImage"),
    Case(
        "image-url", "rejected", _image("https://r.example/x:1"), "spec.workflowRef.containerImage"
    ),
    Case(
        "image-unpinned",
        "failed",
        _image("registry.example.com/workflows/restart"),
        "spec.workflowRef.containerImage",
        ("neither a tag nor a digest",),
    ),
    Case("image-missing", "rejected", _image(DELETE), "spec.workflowRef", ("executionBundle",)),
    Case(
        "images-differ",
        "rejected",
        _upstream(containerImage="r.example/x:2"),
        "spec.workflowRef",
        ("containerImage",),
    ),
    Case(
        "images-equal",
        "runs",
        _upstream(containerImage=f"quay.io/kubernaut/workflows/restart@{SHA}"),
    ),
    Case(
        "digest-not-a-digest",
        "rejected",
        _image(IMAGE, containerDigest="latest"),
        "spec.workflowRef.containerDigest",
    ),
    Case(
        "digest-conflicts-with-image",
        "failed",
        _image(f"r.example/x@{OTHER_SHA}", containerDigest=SHA),
        "spec.workflowRef.containerDigest",
    ),
    Case("digest-pins-unpinned-image", "runs", _image("r.example/x", containerDigest=SHA)),
    Case(
        "bundle-digest-bad",
        "rejected",
        _upstream(executionBundleDigest="sha1:" + "a" * 40),
        "spec.workflowRef.executionBundleDigest",
    ),
    Case(
        "digests-differ",
        "rejected",
        _upstream(containerDigest=OTHER_SHA),
        "spec.workflowRef",
        ("executionBundleDigest",),
    ),
    # --- durations --------------------------------------------------------------------------------
    Case("timeout-huge", "rejected", _timeout("99999999999h"), "spec.executionConfig.timeout"),
    Case("timeout-over-a-year", "rejected", _timeout("9000h"), "spec.executionConfig.timeout"),
    Case("timeout-word", "rejected", _timeout("soon"), "spec.executionConfig.timeout"),
    Case("timeout-too-long-text", "rejected", _timeout("1h" * 40), "spec.executionConfig.timeout"),
    Case("timeout-zero", "failed", _timeout("0s"), "spec.executionConfig.timeout"),
    Case("timeout-ok", "runs", _timeout("30m")),
    # --- names ------------------------------------------------------------------------------------
    Case("name-64", "runs", metadata_name=_NAME_64, needs=OWNER_ANNOTATIONS),
    Case("name-253", "runs", metadata_name=_NAME_253, needs=OWNER_ANNOTATIONS),
    Case("name-dotted", "runs", metadata_name="name.dotted.ok"),
    # --- parameters -------------------------------------------------------------------------------
    Case(
        "param-null", "rejected", _params(MEMORY_LIMIT=None), "spec.parameters", ("MEMORY_LIMIT",)
    ),
    Case(
        "param-lowercase-key",
        "rejected",
        _params(memory_limit="1Gi"),
        "spec.parameters",
        ("memory_limit",),
    ),
    Case(
        "param-dashed-key",
        "rejected",
        _params(**{"MEMORY-LIMIT": "1Gi"}),
        "spec.parameters",
        ("MEMORY-LIMIT",),
    ),
    Case("param-number", "rejected", _params(REPLICAS=3), "spec.parameters.REPLICAS"),
    Case("param-boolean", "rejected", _params(DRY_RUN=True), "spec.parameters.DRY_RUN"),
    Case("param-object", "rejected", _params(LIMITS={"memory": "1Gi"}), "spec.parameters.LIMITS"),
    Case("param-too-long", "rejected", _params(BIG="x" * 8193), "spec.parameters.BIG"),
    Case(
        "param-too-many",
        "rejected",
        {"parameters": {f"P{i}": "x" for i in range(65)}},
        "spec.parameters",
    ),
    Case(
        "param-target-differs",
        "failed",
        _params(TARGET_RESOURCE="payment/Deployment/other"),
        "spec.parameters.TARGET_RESOURCE",
    ),
    Case("param-empty-string", "runs", _params(MEMORY_LIMIT="")),
    # --- the current upstream shape ---------------------------------------------------------------
    Case(
        "upstream-shape",
        "runs",
        _upstream_spec(
            {
                "dependencies": {
                    "secrets": [{"name": "db-creds"}],
                    "configMaps": [{"name": "conf"}],
                },
                "declaredParameterNames": {"NAMESPACE": True, SCENARIO_PARAMETER: True},
            },
            remediationRequestRef={"name": "rr-1", "namespace": "kubernaut-system"},
            confidence=0.9,
            rationale="OOMKilled three times",
            clusterID="",
        ),
    ),
    Case(
        "times-out-at-future",
        "runs",
        _upstream_spec(timesOutAt="2099-01-01T00:00:00Z"),
        needs=NOW_IN_DECIDE,
    ),
    Case(
        "times-out-at-past",
        "failed",
        _upstream_spec(timesOutAt="2000-01-01T00:00:00Z"),
        "spec.timesOutAt",
    ),
    Case(
        "times-out-at-no-zone",
        "rejected",
        _upstream_spec(timesOutAt="2099-01-01T00:00:00"),
        "spec.timesOutAt",
    ),
    Case("cluster-id-remote", "failed", _upstream_spec(clusterID="prod-eu-1"), "spec.clusterID"),
    Case(
        "engine-job", "failed", _upstream(executionEngine="job"), "spec.workflowRef.executionEngine"
    ),
    Case(
        "engine-ansible",
        "failed",
        _upstream(executionEngine="ansible"),
        "spec.workflowRef.executionEngine",
    ),
    Case(
        "engine-capitalised",
        "rejected",
        _upstream(executionEngine="Tekton"),
        "spec.workflowRef.executionEngine",
    ),
    Case("engine-absent", "runs", _upstream(executionEngine=DELETE)),
    Case(
        "engine-config",
        "failed",
        _upstream(engineConfig={"playbookPath": "fix.yml"}),
        "spec.workflowRef.engineConfig",
    ),
    Case(
        "engine-config-nested",
        "rejected",
        _upstream(engineConfig={"awx": {"id": "1"}}),
        "spec.workflowRef.engineConfig",
    ),
    Case(
        "resources",
        "failed",
        _upstream(resources={"limits": {"memory": "1Gi"}}),
        "spec.workflowRef.resources",
    ),
    Case(
        "resources-integer-quantity",
        "rejected",
        _upstream(resources={"limits": {"cpu": 1}}),
        "spec.workflowRef.resources.limits.cpu",
    ),
    Case(
        "service-account-not-allowed",
        "failed",
        _upstream(serviceAccountName="cluster-admin"),
        "spec.workflowRef.serviceAccountName",
    ),
    Case(
        "service-accounts-differ",
        "failed",
        _upstream_spec(
            {"serviceAccountName": "db-fixer"},
            executionConfig={"serviceAccountName": "other-fixer"},
        ),
        "spec.workflowRef.serviceAccountName",
        ("spec.executionConfig.serviceAccountName",),
    ),
    Case("service-account-allowed", "runs", _upstream(serviceAccountName="db-fixer")),
    Case(
        "service-account-bad-name",
        "rejected",
        {"executionConfig": {"serviceAccountName": "Admin!"}},
        "spec.executionConfig.serviceAccountName",
    ),
    Case(
        "dependency-twice",
        "rejected",
        _upstream(dependencies={"secrets": [{"name": "a"}, {"name": "a"}]}),
        "spec.workflowRef.dependencies.secrets",
    ),
    Case(
        "dependency-bad-name",
        "rejected",
        _upstream(dependencies={"configMaps": [{"name": "Bad_Name"}]}),
        "spec.workflowRef.dependencies.configMaps[0].name",
    ),
    Case(
        "declared-drops-undeclared",
        "runs",
        _upstream_spec(
            {"declaredParameterNames": {SCENARIO_PARAMETER: True}},
            parameters={"NAMESPACE": "payment", "API_TOKEN": "hallucinated"},
        ),
    ),
    Case("declared-empty", "runs", _upstream(declaredParameterNames={})),
    Case("declared-null", "runs", _upstream(declaredParameterNames=None)),
    Case(
        "declared-not-boolean",
        "rejected",
        _upstream(declaredParameterNames={"A": "yes"}),
        "spec.workflowRef.declaredParameterNames.A",
    ),
    # --- the rest of the spec ---------------------------------------------------------------------
    Case("confidence-above-one", "rejected", {"confidence": 1.5}, "spec.confidence"),
    Case(
        "workflow-id-empty",
        "rejected",
        {"workflowRef": {"workflowId": ""}},
        "spec.workflowRef.workflowId",
    ),
    Case(
        "version-missing",
        "rejected",
        {"workflowRef": {"version": DELETE}},
        "spec.workflowRef.version",
    ),
    Case("workflow-ref-missing", "rejected", {"workflowRef": DELETE}, "spec.workflowRef"),
    Case("rationale-too-long", "rejected", {"rationale": "x" * 8193}, "spec.rationale"),
)
