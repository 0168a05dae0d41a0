"""The generated CRD on the real API server: what it accepts, what it rejects and why, and that
every status the controller can write is stored (SPEC §2); the built PipelineRun is stored by
Tekton's real schema without losing a field (SPEC §5)."""

from __future__ import annotations

import copy
import secrets
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, CustomObjectsApi
from kubernetes_asyncio.client.exceptions import ApiException

from wfe.api.crd import crd_manifest
from wfe.api.enums import FailureReason, Phase, SkipReason
from wfe.api.models import (
    BlockClearance,
    ConflictingWorkflow,
    FailureDetails,
    LocalObjectReference,
    PipelineRunStatusSummary,
    RecentRemediation,
    SkipDetails,
    WorkflowExecutionStatus,
)
from wfe.controller.resources import PIPELINE_RUNS, WORKFLOW_EXECUTIONS
from wfe.core.policy import Policy
from wfe.core.validation import ValidSpec, validate_spec
from wfe.dev.crds import install_crds
from wfe.dev.eventually import eventually
from wfe.kube.client import Client
from wfe.kube.errors import Invalid
from wfe.tekton.pipelinerun import build_pipeline_run

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def body(name: str, **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "workflowRef": {
            "workflowId": "restart-pod",
            "version": "1.0.0",
            "containerImage": "registry.example.com/workflows/restart:1.0.0",
        },
        "targetResource": "payment/Deployment/payment-api",
        "parameters": {"NAMESPACE": "payment"},
    }
    base.update(spec)
    base = {k: v for k, v in base.items() if v is not None}
    return {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "WorkflowExecution",
        "metadata": {"name": name},
        "spec": base,
    }


UPSTREAM_SHAPED = {
    "remediationRequestRef": {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "RemediationRequest",
        "name": "rr-1",
        "namespace": "kubernaut-system",
        "uid": "0b5a5d8e-0000-0000-0000-000000000000",
    },
    "workflowRef": {
        "workflowId": "oomkill-increase-memory",
        "version": "1.0.0",
        "containerImage": "quay.io/kubernaut/workflows/oomkill:v1",
        "containerDigest": "sha256:" + "a" * 64,
    },
    "targetResource": "payment/Deployment/payment-api",
    "parameters": {"NAMESPACE": "payment", "MEMORY_LIMIT": "1Gi"},
    "confidence": 0.92,
    "rationale": "OOMKilled three times in an hour",
    "executionConfig": {"timeout": "30m", "serviceAccountName": "kubernaut-workflow-runner"},
}


async def test_valid_and_upstream_shaped_specs_are_accepted(
    api_client: ApiClient, namespace: str
) -> None:
    client = Client(api_client)
    stored = await client.create(WORKFLOW_EXECUTIONS, namespace, body("minimal"))
    assert stored["spec"]["targetResource"] == "payment/Deployment/payment-api"
    full = {"apiVersion": "kubernaut.ai/v1alpha1", "kind": "WorkflowExecution"}
    full |= {"metadata": {"name": "upstream"}, "spec": UPSTREAM_SHAPED}
    stored = await client.create(WORKFLOW_EXECUTIONS, namespace, full)
    assert stored["spec"] == UPSTREAM_SHAPED
    cluster = await client.create(
        WORKFLOW_EXECUTIONS, namespace, body("cluster-scoped", targetResource="Node/worker-1")
    )
    assert cluster["spec"]["targetResource"] == "Node/worker-1"


# The current upstream shape (kubernaut api/workflowexecution/v1alpha1 and the WorkflowSnapshot it
# embeds), every field set: stored unchanged, nothing pruned (docs/api.md).
CURRENT_UPSTREAM = {
    "remediationRequestRef": {"kind": "RemediationRequest", "name": "rr-2", "namespace": "k"},
    "workflowRef": {
        "workflowId": "0b5a5d8e-2f0c-4c5e-9d7a-111111111111",
        "workflowName": "oomkill-increase-memory",
        "actionType": "IncreaseMemory",
        "version": "1.0.0",
        "executionBundle": "quay.io/kubernaut/workflows/oomkill@sha256:" + "a" * 64,
        "executionBundleDigest": "sha256:" + "a" * 64,
        "executionEngine": "tekton",
        "engineConfig": {"playbookPath": "fix.yml"},
        "serviceAccountName": "kubernaut-workflow-runner",
        "dependencies": {"secrets": [{"name": "db-creds"}], "configMaps": [{"name": "conf"}]},
        "resources": {
            "limits": {"memory": "1Gi"},
            "requests": {"cpu": "100m"},
            "claims": [{"name": "gpu", "request": "one"}],
        },
        "declaredParameterNames": {"NAMESPACE": True, "MEMORY_LIMIT": False},
    },
    "targetResource": "payment/Deployment/payment-api",
    "clusterID": "",
    "parameters": {"NAMESPACE": "payment", "MEMORY_LIMIT": "1Gi"},
    "confidence": 0.92,
    "rationale": "OOMKilled three times in an hour",
    "timesOutAt": "2026-11-27T13:00:00Z",
}


async def test_current_upstream_shape_is_stored_unchanged(
    api_client: ApiClient, namespace: str
) -> None:
    client = Client(api_client)
    full = {"apiVersion": "kubernaut.ai/v1alpha1", "kind": "WorkflowExecution"}
    full |= {"metadata": {"name": "current"}, "spec": CURRENT_UPSTREAM}
    stored = await client.create(WORKFLOW_EXECUTIONS, namespace, full)
    assert stored["spec"] == CURRENT_UPSTREAM
    # null and {} are upstream's two meanings (no filtering / filter everything): both kept.
    for name, declared in (("declared-null", None), ("declared-empty", {})):
        ref = {**CURRENT_UPSTREAM["workflowRef"], "declaredParameterNames": declared}  # type: ignore[dict-item]
        spec = {**CURRENT_UPSTREAM, "workflowRef": ref}
        stored = await client.create(WORKFLOW_EXECUTIONS, namespace, body(name, **spec))
        assert stored["spec"]["workflowRef"]["declaredParameterNames"] == declared


async def test_unknown_fields_refused_when_strict_else_pruned(
    api_client: ApiClient, namespace: str
) -> None:
    """Anything not declared is pruned: a client asking for strict field validation (kubectl
    does) is refused naming the field; others get the object without it (docs/api.md)."""
    spec = {**UPSTREAM_SHAPED, "clusterId": "typo-of-clusterID", "futureField": "x"}
    spec["workflowRef"] = {**UPSTREAM_SHAPED["workflowRef"], "unknownRef": 1}  # type: ignore[dict-item]
    manifest = body("unknown", **spec)
    with pytest.raises(ApiException) as info:
        await CustomObjectsApi(api_client).create_namespaced_custom_object(
            "kubernaut.ai",
            "v1alpha1",
            namespace,
            "workflowexecutions",
            manifest,
            field_validation="Strict",
        )
    for field in ("spec.clusterId", "spec.futureField", "spec.workflowRef.unknownRef"):
        assert field in str(info.value.body)
    stored = await Client(api_client).create(WORKFLOW_EXECUTIONS, namespace, manifest)
    assert stored["spec"] == UPSTREAM_SHAPED


INVALID = [
    ("no-workflow-ref", {"workflowRef": None}, "spec.workflowRef"),
    ("no-target", {"targetResource": None}, "spec.targetResource"),
    (
        "empty-workflow-id",
        {"workflowRef": {"workflowId": "", "version": "1", "containerImage": "x"}},
        "spec.workflowRef.workflowId",
    ),
    (
        "no-version",
        {"workflowRef": {"workflowId": "w", "containerImage": "x"}},
        "spec.workflowRef.version",
    ),
    (
        "no-image",
        {"workflowRef": {"workflowId": "w", "version": "1"}},
        "spec.workflowRef: Invalid value: executionBundle (or containerImage",
    ),
    (
        "image-with-space",
        {"workflowRef": {"workflowId": "w", "version": "1", "containerImage": "a b"}},
        "spec.workflowRef.containerImage",
    ),
    (
        "bad-digest",
        {
            "workflowRef": {
                "workflowId": "w",
                "version": "1",
                "containerImage": "x",
                "containerDigest": "latest",
            }
        },
        "spec.workflowRef.containerDigest",
    ),
    ("target-one-part", {"targetResource": "payment-api"}, "spec.targetResource"),
    ("target-four-parts", {"targetResource": "a/b/c/d"}, "spec.targetResource"),
    ("target-bad-namespace", {"targetResource": "Payment/Deployment/x"}, "spec.targetResource"),
    ("target-empty-name", {"targetResource": "payment/Deployment/"}, "spec.targetResource"),
    ("target-capital-name", {"targetResource": "payment/Deployment/X"}, "spec.targetResource"),
    ("lowercase-param", {"parameters": {"namespace": "x"}}, "spec.parameters"),
    ("dashed-param", {"parameters": {"MEMORY-LIMIT": "x"}}, "spec.parameters"),
    ("non-string-param", {"parameters": {"REPLICAS": 3}}, "spec.parameters.REPLICAS"),
    ("confidence-above-one", {"confidence": 1.5}, "spec.confidence"),
    ("confidence-negative", {"confidence": -0.1}, "spec.confidence"),
    ("bad-timeout", {"executionConfig": {"timeout": "soon"}}, "spec.executionConfig.timeout"),
    (
        "bad-service-account",
        {"executionConfig": {"serviceAccountName": "Admin!"}},
        "spec.executionConfig.serviceAccountName",
    ),
    ("too-many-params", {"parameters": {f"P{i}": "x" for i in range(65)}}, "spec.parameters"),
]


@pytest.mark.parametrize(("name", "spec", "field"), INVALID, ids=[i[0] for i in INVALID])
async def test_invalid_specs_are_rejected_naming_the_field(
    api_client: ApiClient, namespace: str, name: str, spec: dict[str, Any], field: str
) -> None:
    with pytest.raises(Invalid) as info:
        await Client(api_client).create(WORKFLOW_EXECUTIONS, namespace, body(name, **spec))
    assert field in str(info.value), str(info.value)


async def test_spec_is_immutable(api_client: ApiClient, namespace: str) -> None:
    client = Client(api_client)
    await client.create(WORKFLOW_EXECUTIONS, namespace, body("fixed"))
    with pytest.raises(Invalid, match="spec is immutable"):
        await client.patch(
            WORKFLOW_EXECUTIONS,
            namespace,
            "fixed",
            {"spec": {"targetResource": "payment/Deployment/other"}},
        )


def _statuses() -> list[WorkflowExecutionStatus]:
    """One status per value the controller can write into an enum field."""
    out = []
    for reason in FailureReason:
        out.append(
            WorkflowExecutionStatus(
                phase=Phase.FAILED,
                start_time=NOW,
                completion_time=NOW,
                duration="1m0s",
                pipeline_run_ref=LocalObjectReference(name="wfe-0123456789abcdef"),
                pipeline_run_status=PipelineRunStatusSummary(
                    status="False", reason="Failed", message="m", completed_tasks=1, total_tasks=2
                ),
                failure_details=FailureDetails(
                    failed_task_index=0,
                    failed_task_name="apply",
                    failed_task_run_name="wfe-0123456789abcdef-apply",
                    failed_step_name="apply",
                    reason=reason,
                    message="boom",
                    exit_code=137,
                    failed_at=NOW,
                    execution_time_before_failure="30s",
                    natural_language_summary="summary",
                    was_execution_failure=True,
                ),
                consecutive_failures=2,
                next_allowed_execution=NOW,
                lock_released_at=NOW,
                block_clearance=BlockClearance(cleared_at=NOW, cleared_by="a", clear_reason="r"),
            )
        )
    for reason in SkipReason:
        out.append(
            WorkflowExecutionStatus(
                phase=Phase.SKIPPED,
                skip_details=SkipDetails(
                    reason=reason,
                    message="m",
                    skipped_at=NOW,
                    conflicting_workflow=ConflictingWorkflow(
                        name="other", workflow_id="w", started_at=NOW, target_resource="a/B/c"
                    ),
                    recent_remediation=RecentRemediation(
                        name="other",
                        workflow_id="w",
                        completed_at=NOW,
                        outcome="Completed",  # type: ignore[arg-type]
                        target_resource="a/B/c",
                        cooldown_remaining="1m0s",
                    ),
                ),
            )
        )
    out += [
        WorkflowExecutionStatus(phase=p) for p in (Phase.PENDING, Phase.RUNNING, Phase.COMPLETED)
    ]
    return out


async def test_every_status_the_controller_writes_is_stored_unchanged(
    api_client: ApiClient, namespace: str
) -> None:
    client = Client(api_client)
    for i, status in enumerate(_statuses()):
        name = f"status-{i}"
        await client.create(WORKFLOW_EXECUTIONS, namespace, body(name))
        wire = status.to_wire()
        stored = await client.patch_status(WORKFLOW_EXECUTIONS, namespace, name, {"status": wire})
        assert stored["status"] == wire, status.phase


@pytest.mark.parametrize("shape", ["older", "current"])
async def test_built_pipeline_run_is_stored_without_pruning(
    api_client: ApiClient, namespace: str, shape: str
) -> None:
    raw: dict[str, Any] = copy.deepcopy(UPSTREAM_SHAPED)
    if shape == "current":
        raw = copy.deepcopy(CURRENT_UPSTREAM)
        del raw["workflowRef"]["engineConfig"], raw["workflowRef"]["resources"]
    checked = validate_spec(raw, Policy(), now=NOW)
    assert isinstance(checked, ValidSpec), checked
    long_name = ("w" * 62 + ".") * 4 + "x"  # 253 characters: labels hashed, annotations exact
    manifest = build_pipeline_run(
        checked, namespace="team", name=long_name, uid="u-1", execution_namespace=namespace
    )
    sent = copy.deepcopy(manifest)
    stored = await Client(api_client).create(PIPELINE_RUNS, namespace, manifest)
    for key in ("labels", "annotations", "name", "namespace"):
        assert stored["metadata"][key] == sent["metadata"][key]
    assert stored["spec"] == sent["spec"]
    if shape == "current":
        assert [w["name"] for w in stored["spec"]["workspaces"]] == [
            "secret-db-creds",
            "configmap-conf",
        ]
        assert stored["spec"]["timeouts"] == {"pipeline": "1h0m0s"}


MERGE = "application/merge-patch+json"


def _in_group(crd: dict[str, Any], group: str, *, rules: bool) -> dict[str, Any]:
    """Our CRD served under another group (so the session's CRD stays as it is), with or
    without the format rules of the fields below."""
    crd = copy.deepcopy(crd)
    crd["metadata"]["name"] = f"{crd['spec']['names']['plural']}.{group}"
    crd["spec"]["group"] = group
    if not rules:
        spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        props = spec["properties"]
        for node in (
            props["targetResource"],
            props["executionConfig"]["properties"]["timeout"],
            props["workflowRef"]["properties"]["containerImage"],
            props["workflowRef"]["properties"]["containerDigest"],
        ):
            node.pop("x-kubernetes-validations")
    return crd


async def test_objects_stored_before_a_rule_still_take_status_and_finalizer_writes(
    api_client: ApiClient, namespace: str
) -> None:
    """The server validates only what an update changes (ratcheting), so the controller can
    always record Failed on an object a newer rule would refuse: it is never stuck retrying."""
    group = f"ratchet{secrets.token_hex(3)}.kubernaut.test"
    await install_crds(api_client, [_in_group(crd_manifest(), group, rules=False)])
    objects = CustomObjectsApi(api_client)
    legacy = body(
        "legacy",
        targetResource="ClusterRole/system:node",
        executionConfig={"timeout": "99999999999h"},
        workflowRef={
            "workflowId": "w",
            "version": "1",
            "containerImage": "x",
            "containerDigest": "md5:" + "a" * 32,
        },
    )
    legacy["apiVersion"] = f"{group}/v1alpha1"
    await objects.create_namespaced_custom_object(
        group, "v1alpha1", namespace, "workflowexecutions", legacy
    )
    await install_crds(api_client, [_in_group(crd_manifest(), group, rules=True)])

    async def rules_in_force() -> bool:
        probe = {**copy.deepcopy(legacy), "metadata": {"name": f"probe-{secrets.token_hex(3)}"}}
        try:
            await objects.create_namespaced_custom_object(
                group, "v1alpha1", namespace, "workflowexecutions", probe
            )
        except ApiException as exc:
            return exc.status == 422
        return False

    await eventually(rules_in_force, 30, message="the new schema is in force")
    failed = FailureDetails(
        reason=FailureReason.CONFIGURATION_ERROR, message="m", was_execution_failure=False
    )
    status = WorkflowExecutionStatus(phase=Phase.FAILED, failure_details=failed).to_wire()
    stored = await objects.patch_namespaced_custom_object_status(
        group,
        "v1alpha1",
        namespace,
        "workflowexecutions",
        "legacy",
        {"status": status},
        _content_type=MERGE,
    )
    assert stored["status"] == status
    finalized = await objects.patch_namespaced_custom_object(
        group,
        "v1alpha1",
        namespace,
        "workflowexecutions",
        "legacy",
        {"metadata": {"finalizers": ["kubernaut.ai/workflow-execution"]}},
        _content_type=MERGE,
    )
    assert finalized["metadata"]["finalizers"] == ["kubernaut.ai/workflow-execution"]
    await objects.patch_namespaced_custom_object(
        group,
        "v1alpha1",
        namespace,
        "workflowexecutions",
        "legacy",
        {"metadata": {"finalizers": None}},
        _content_type=MERGE,
    )
