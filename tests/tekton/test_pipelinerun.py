"""SPEC §5: the lock PipelineRun — deterministic, labelled for ownership, valid labels, and every
resolved field of the spec in it (docs/api.md)."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given

from wfe.core.decide import Candidate, Run, decide
from wfe.core.lock import lock_name
from wfe.core.policy import Policy
from wfe.core.validation import ValidSpec, validate_spec
from wfe.tekton.pipelinerun import build_pipeline_run

from builders import CATALOG, NOW, spec
from strategies import parameters, valid_targets

POLICY = Policy()
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def valid(raw: dict[str, Any]) -> ValidSpec:
    checked = validate_spec(raw, POLICY)
    assert isinstance(checked, ValidSpec), checked
    return checked


def build(raw: dict[str, Any]) -> dict[str, Any]:
    return build_pipeline_run(
        valid(raw), namespace="default", name="wfe-1", uid="u-1", execution_namespace="kw"
    )


def test_manifest_shape() -> None:
    pr = build(spec())
    assert pr["apiVersion"] == "tekton.dev/v1"
    assert pr["kind"] == "PipelineRun"
    assert pr["metadata"]["name"] == "wfe-7c240c08fe7f0cc3"
    assert pr["metadata"]["namespace"] == "kw"
    assert "ownerReferences" not in pr["metadata"]
    # It cannot vanish unrecorded: a delete by anyone else only marks it.
    assert pr["metadata"]["finalizers"] == ["kubernaut.ai/workflowexecution-lock"]
    assert pr["metadata"]["annotations"] == {
        "kubernaut.ai/target-resource": spec()["targetResource"],
        "kubernaut.ai/workflow-execution": "wfe-1",
        "kubernaut.ai/source-namespace": "default",
        "kubernaut.ai/workflow-execution-uid": "u-1",
    }
    assert "workspaces" not in pr["spec"]
    labels = pr["metadata"]["labels"]
    assert labels["kubernaut.ai/workflow-execution"] == "wfe-1"
    assert labels["kubernaut.ai/source-namespace"] == "default"
    assert labels["kubernaut.ai/workflow-id"] == "restart-pod"
    assert labels["kubernaut.ai/target-resource"] == "payment.Deployment.payment-api"
    assert pr["metadata"]["annotations"]["kubernaut.ai/target-resource"] == spec()["targetResource"]
    assert pr["spec"]["pipelineRef"] == {
        "resolver": "bundles",
        "params": [
            {"name": "bundle", "value": "registry.example.com/workflows/restart-pod:1.0.0"},
            {"name": "name", "value": "workflow"},
            {"name": "kind", "value": "pipeline"},
        ],
    }
    assert pr["spec"]["params"] == [
        {"name": "NAMESPACE", "value": "payment"},
        {"name": "REPLICAS", "value": "3"},
        {"name": "TARGET_RESOURCE", "value": "payment/Deployment/payment-api"},
    ]
    assert pr["spec"]["taskRunTemplate"] == {"serviceAccountName": "kubernaut-workflow-runner"}
    assert pr["spec"]["timeouts"] == {"pipeline": "1h0m0s"}


def test_digest_pins_the_bundle() -> None:
    pr = build(
        spec(
            workflowRef={
                "workflowId": "w",
                "version": "1",
                "containerImage": "r.example/w:1",
                "containerDigest": "sha256:" + "a" * 64,
            }
        )
    )
    bundle = pr["spec"]["pipelineRef"]["params"][0]
    assert bundle == {"name": "bundle", "value": "r.example/w:1@sha256:" + "a" * 64}


def test_conflicting_digest_is_a_configuration_error() -> None:
    raw = spec(
        workflowRef={
            "workflowId": "w",
            "version": "1",
            "containerImage": "r.example/w@sha256:" + "b" * 64,
            "containerDigest": "sha256:" + "a" * 64,
        }
    )
    checked = validate_spec(raw, POLICY)
    assert not isinstance(checked, ValidSpec)
    assert "containerDigest" in checked.message


def test_spec_timeout_is_honoured() -> None:
    pr = build(spec(executionConfig={"timeout": "30m"}))
    assert pr["spec"]["timeouts"] == {"pipeline": "30m0s"}


def test_run_decision_builds_the_lock_it_names() -> None:
    decision = decide(
        Candidate(namespace="default", name="a", uid="u", spec=spec()),
        [],
        now=NOW,
        policy=POLICY,
        kinds=CATALOG,
    )
    assert isinstance(decision, Run)
    pr = build_pipeline_run(
        decision.valid, namespace="default", name="a", uid="u", execution_namespace="kw"
    )
    assert pr["metadata"]["name"] == decision.lock


@given(valid_targets, parameters)
def test_deterministic_and_labels_always_valid(target: str, params: dict[str, str]) -> None:
    raw = spec(target=target, parameters=params)
    first, second = build(raw), build(dict(reversed(list(raw.items()))))
    assert first == second
    assert first["metadata"]["name"] == lock_name(target)
    for value in first["metadata"]["labels"].values():
        assert len(value) <= 63
        assert _LABEL_VALUE.match(value), value
    names = [p["name"] for p in first["spec"]["params"]]
    assert names == sorted(names)
    assert {"name": "TARGET_RESOURCE", "value": target} in first["spec"]["params"]


def test_long_names_become_valid_labels_and_exact_annotations() -> None:
    name = ("a" * 62 + ".") * 4 + "b"  # 253 characters, a valid object name
    assert len(name) == 253
    pr = build_pipeline_run(
        valid(spec()), namespace="n" * 63, name=name, uid="u-1", execution_namespace="kw"
    )
    labels, annotations = pr["metadata"]["labels"], pr["metadata"]["annotations"]
    for value in labels.values():
        assert len(value) <= 63, value
        assert _LABEL_VALUE.match(value), value
    assert labels["kubernaut.ai/workflow-execution"] != name
    assert labels["kubernaut.ai/source-namespace"] == "n" * 63  # valid as it is: kept
    assert annotations["kubernaut.ai/workflow-execution"] == name
    assert annotations["kubernaut.ai/source-namespace"] == "n" * 63
    other = build_pipeline_run(
        valid(spec()), namespace="n" * 63, name=name[:-1] + "c", uid="u-1", execution_namespace="kw"
    )
    assert (
        other["metadata"]["labels"]["kubernaut.ai/workflow-execution"]
        != labels["kubernaut.ai/workflow-execution"]
    ), "distinct names keep distinct labels"


UPSTREAM_REF = {
    "workflowId": "w",
    "workflowName": "restart",
    "actionType": "RestartDeployment",
    "version": "1",
    "executionBundle": "quay.io/k/w:1",
    "executionBundleDigest": "sha256:" + "c" * 64,
    "executionEngine": "tekton",
    "serviceAccountName": "db-fixer",
    "dependencies": {"secrets": [{"name": "db-creds"}], "configMaps": [{"name": "conf"}]},
    "declaredParameterNames": {"NAMESPACE": True},
}


def test_upstream_fields_take_effect() -> None:
    policy = Policy(allowed_service_accounts=frozenset({"db-fixer"}))
    raw = spec(workflowRef=UPSTREAM_REF, timesOutAt="2026-11-27T12:30:00Z")
    checked = validate_spec(raw, policy, now=NOW)
    assert isinstance(checked, ValidSpec), checked
    pr = build_pipeline_run(
        checked, namespace="default", name="wfe-1", uid="u-1", execution_namespace="kw"
    )
    run = pr["spec"]
    assert run["pipelineRef"]["params"][0]["value"] == "quay.io/k/w:1@sha256:" + "c" * 64
    assert run["taskRunTemplate"] == {"serviceAccountName": "db-fixer"}
    assert run["workspaces"] == [
        {"name": "secret-db-creds", "secret": {"secretName": "db-creds"}},
        {"name": "configmap-conf", "configMap": {"name": "conf"}},
    ]
    assert run["timeouts"] == {"pipeline": "30m0s"}
    assert [p["name"] for p in run["params"]] == ["NAMESPACE", "TARGET_RESOURCE"]
    assert checked.dropped_parameters == ("REPLICAS",)
