"""Spec validation: both API shapes, every upstream field either applied or refused by name
(docs/api.md), bounds that fail instead of looping."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wfe.core.policy import Policy
from wfe.core.validation import Dependency, Invalid, ValidSpec, validate_spec

from builders import NOW

POLICY = Policy()
SHA = "sha256:" + "a" * 64
OTHER_SHA = "sha256:" + "b" * 64
TARGET = "payment/Deployment/checkout"


def old(**ref: Any) -> dict[str, Any]:
    """The older shape: containerImage / containerDigest / executionConfig."""
    base = {"workflowId": "restart", "version": "1.0.0", "containerImage": "r.example/w/x:1"}
    return {"workflowRef": {**base, **ref}, "targetResource": TARGET, "parameters": {"A": "1"}}


def new(**ref: Any) -> dict[str, Any]:
    """The current upstream shape (api/workflowexecution/v1alpha1 + shared WorkflowSnapshot)."""
    base = {
        "workflowId": "0b5a5d8e-uuid",
        "workflowName": "restart-deployment",
        "actionType": "RestartDeployment",
        "version": "1.0.0",
        "executionBundle": f"quay.io/kubernaut/workflows/restart@{SHA}",
        "executionBundleDigest": SHA,
        "executionEngine": "tekton",
    }
    return {
        "remediationRequestRef": {"name": "rr-1", "namespace": "kubernaut-system"},
        "workflowRef": {**base, **ref},
        "targetResource": TARGET,
        "parameters": {"A": "1"},
    }


def ok(raw: dict[str, Any], policy: Policy = POLICY, **kw: Any) -> ValidSpec:
    checked = validate_spec(raw, policy, now=NOW, **kw)
    assert isinstance(checked, ValidSpec), checked
    return checked


def refused(raw: dict[str, Any], policy: Policy = POLICY, **kw: Any) -> Invalid:
    checked = validate_spec(raw, policy, **{"now": NOW, **kw})
    assert isinstance(checked, Invalid), checked
    return checked


def fields(invalid: Invalid) -> set[str]:
    return {p.field for p in invalid.problems}


# --- the two shapes ---------------------------------------------------------------------------


def test_old_shape_runs_as_before() -> None:
    valid = ok(old())
    assert valid.bundle.reference == "r.example/w/x:1"
    assert valid.parameters == (("A", "1"), ("TARGET_RESOURCE", TARGET))
    assert valid.service_account == POLICY.runner_service_account
    assert valid.timeout == POLICY.default_timeout
    assert (valid.dependencies, valid.dropped_parameters, valid.warnings) == ((), (), ())


def test_upstream_shape_runs() -> None:
    valid = ok(new())
    assert valid.bundle.reference == f"quay.io/kubernaut/workflows/restart@{SHA}"
    assert valid.spec.workflow_ref.workflow_name == "restart-deployment"


def test_digest_field_pins_an_unpinned_reference() -> None:
    assert ok(old(containerImage="r/x", containerDigest=SHA)).bundle.reference == f"r/x@{SHA}"
    assert ok(new(executionBundle="r/x:2")).bundle.reference == f"r/x:2@{SHA}"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (old(containerImage=f"r/x@{OTHER_SHA}", containerDigest=SHA), "containerDigest"),
        (new(executionBundle=f"r/x@{OTHER_SHA}"), "executionBundleDigest"),
    ],
)
def test_digest_field_must_agree_with_the_reference(raw: dict[str, Any], field: str) -> None:
    assert f"spec.workflowRef.{field}" in fields(refused(raw))


def test_both_names_of_the_bundle_must_agree() -> None:
    both = new(containerImage=f"quay.io/kubernaut/workflows/restart@{SHA}")
    assert ok(both).bundle.digest == SHA
    invalid = refused(new(containerImage="r/x:9"))
    assert "spec.workflowRef.containerImage" in fields(invalid)
    assert "spec.workflowRef.executionBundle" in invalid.message
    invalid = refused(new(containerDigest=OTHER_SHA, executionBundle="r/x"))
    assert "spec.workflowRef.containerDigest" in fields(invalid)


def test_a_bundle_is_required() -> None:
    raw = old()
    del raw["workflowRef"]["containerImage"]
    invalid = refused(raw)
    assert fields(invalid) == {"spec.workflowRef.executionBundle"}
    assert "containerImage" in invalid.message


@pytest.mark.parametrize(
    "image",
    [
        "r/x@sha256:a@b",
        "r/x:-1",
        "r/x@sha256:" + "a" * 10,
        "R/x:1",
        "r/x:1 ",
        "",
    ],
)
def test_bad_references_name_the_field(image: str) -> None:
    assert "spec.workflowRef.containerImage" in fields(refused(old(containerImage=image)))
    assert "spec.workflowRef.executionBundle" in fields(
        refused(new(executionBundle=image, executionBundleDigest=None))
    )


def test_bad_digest_fields_name_the_field() -> None:
    assert "spec.workflowRef.containerDigest" in fields(refused(old(containerDigest="latest")))
    assert "spec.workflowRef.executionBundleDigest" in fields(
        refused(new(executionBundleDigest="sha1:" + "a" * 40))
    )


def test_unpinned_bundle_refused_by_default_or_warned() -> None:
    invalid = refused(old(containerImage="r.example/w/x"))
    assert fields(invalid) == {"spec.workflowRef.containerImage"}
    assert "require_pinned_bundles" in invalid.message
    lenient = Policy(require_pinned_bundles=False)
    valid = ok(old(containerImage="r.example/w/x"), lenient)
    (warning,) = valid.warnings
    assert warning.startswith("spec.workflowRef.containerImage: ")
    assert "neither a tag nor a digest" in warning
    assert ok(old(containerImage="r.example/w/x:1"), lenient).warnings == ()


# --- what upstream added: applied or refused ----------------------------------------------------


@pytest.mark.parametrize("engine", ["job", "ansible"])
def test_engines_other_than_tekton_fail(engine: str) -> None:
    invalid = refused(new(executionEngine=engine))
    assert fields(invalid) == {"spec.workflowRef.executionEngine"}
    assert engine in invalid.message


def test_engine_absent_means_tekton() -> None:
    assert ok(new(executionEngine=None)).bundle.digest == SHA


def test_cluster_id_fails_unless_empty() -> None:
    raw = new()
    raw["clusterID"] = "prod-eu-1"
    invalid = refused(raw)
    assert fields(invalid) == {"spec.clusterID"}
    assert "prod-eu-1" in invalid.message
    raw["clusterID"] = ""
    ok(raw)


def test_engine_config_and_resources_fail() -> None:
    assert fields(refused(new(engineConfig={"playbookPath": "x.yml"}))) == {
        "spec.workflowRef.engineConfig"
    }
    assert fields(refused(new(resources={"limits": {"memory": "1Gi"}}))) == {
        "spec.workflowRef.resources"
    }
    assert fields(refused(new(resources={"claims": [{"name": "gpu"}]}))) == {
        "spec.workflowRef.resources"
    }
    ok(new(engineConfig={}, resources={}))


def test_service_account_from_either_field_through_the_allow_list() -> None:
    policy = Policy(allowed_service_accounts=frozenset({"db-fixer"}))
    assert ok(new(serviceAccountName="db-fixer"), policy).service_account == "db-fixer"
    raw = old()
    raw["executionConfig"] = {"serviceAccountName": "db-fixer"}
    assert ok(raw, policy).service_account == "db-fixer"
    both = new(serviceAccountName="db-fixer")
    both["executionConfig"] = {"serviceAccountName": "db-fixer"}
    assert ok(both, policy).service_account == "db-fixer"
    assert fields(refused(new(serviceAccountName="cluster-admin"), policy)) == {
        "spec.workflowRef.serviceAccountName"
    }


def test_two_different_service_accounts_name_both_fields() -> None:
    policy = Policy(allowed_service_accounts=frozenset({"a", "b"}))
    raw = new(serviceAccountName="a")
    raw["executionConfig"] = {"serviceAccountName": "b"}
    invalid = refused(raw, policy)
    assert "spec.workflowRef.serviceAccountName" in invalid.message
    assert "spec.executionConfig.serviceAccountName" in invalid.message


def test_dependencies_become_workspaces_in_upstream_naming() -> None:
    valid = ok(new(dependencies={"secrets": [{"name": "db"}], "configMaps": [{"name": "conf"}]}))
    assert valid.dependencies == (Dependency("secret", "db"), Dependency("configMap", "conf"))
    assert [d.workspace for d in valid.dependencies] == ["secret-db", "configmap-conf"]


@pytest.mark.parametrize(
    ("deps", "field"),
    [
        ({"secrets": [{"name": "Bad_Name"}]}, "spec.workflowRef.dependencies.secrets[0].name"),
        (
            {"configMaps": [{"name": "a"}, {"name": "a"}]},
            "spec.workflowRef.dependencies.configMaps[1].name",
        ),
        ({"secrets": [{}]}, "spec.workflowRef.dependencies.secrets.0.name"),
    ],
)
def test_bad_dependencies_name_the_entry(deps: dict[str, Any], field: str) -> None:
    assert field in fields(refused(new(dependencies=deps)))


def test_declared_parameter_names_drop_the_others_visibly() -> None:
    raw = new(declaredParameterNames={"A": True, "C": False})
    raw["parameters"] = {"A": "1", "B": "2", "C": "3", "TARGET_RESOURCE": TARGET}
    valid = ok(raw)
    assert valid.parameters == (("A", "1"), ("TARGET_RESOURCE", TARGET))
    assert valid.dropped_parameters == ("B", "C")


def test_declared_parameter_names_empty_drops_all_null_drops_none() -> None:
    assert ok(new(declaredParameterNames={})).dropped_parameters == ("A",)
    assert ok(new(declaredParameterNames=None)).dropped_parameters == ()


@given(
    st.dictionaries(st.from_regex(r"\A[A-Z][A-Z0-9_]{0,6}\Z"), st.text(max_size=5), max_size=8),
    st.dictionaries(st.from_regex(r"\A[A-Z][A-Z0-9_]{0,6}\Z"), st.booleans(), max_size=8),
)
def test_every_parameter_is_passed_or_reported_dropped(
    params: dict[str, str], declared: dict[str, bool]
) -> None:
    params.pop("TARGET_RESOURCE", None)
    raw = new(declaredParameterNames=declared)
    raw["parameters"] = params
    valid = ok(raw)
    passed = {k for k, _ in valid.parameters} - {"TARGET_RESOURCE"}
    assert passed | set(valid.dropped_parameters) == set(params)
    assert not passed & set(valid.dropped_parameters)
    assert all(declared.get(k) is True for k in passed)


# --- parameters -------------------------------------------------------------------------------


def test_null_parameter_fails_naming_the_key() -> None:
    raw = old()
    raw["parameters"] = {"NAMESPACE": "payment", "MEMORY_LIMIT": None}
    invalid = refused(raw)
    assert fields(invalid) == {"spec.parameters.MEMORY_LIMIT"}
    assert "null" in invalid.message


def test_null_parameter_that_kubectl_dropped_fails_naming_the_key() -> None:
    raw = old()
    applied = {"spec": {**raw, "parameters": {"A": "1", "MEMORY_LIMIT": None}}}
    annotations = {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(applied)}
    invalid = refused(raw, annotations=annotations)
    assert fields(invalid) == {"spec.parameters.MEMORY_LIMIT"}
    assert "kubectl" in invalid.message
    ok(raw, annotations={"kubectl.kubernetes.io/last-applied-configuration": "{not json"})
    ok(raw, annotations={"kubectl.kubernetes.io/last-applied-configuration": json.dumps([1])})


@pytest.mark.parametrize("key", ["memory_limit", "MEMORY-LIMIT", "1A", "A B"])
def test_bad_parameter_key_is_named(key: str) -> None:
    raw = old()
    raw["parameters"] = {key: "x"}
    invalid = refused(raw)
    assert f"spec.parameters[{key!r}]" in fields(invalid)


# --- durations and deadlines ------------------------------------------------------------------


def with_timeout(timeout: str | None = None, times_out_at: str | None = None) -> dict[str, Any]:
    raw = old()
    if timeout is not None:
        raw["executionConfig"] = {"timeout": timeout}
    if times_out_at is not None:
        raw["timesOutAt"] = times_out_at
    return raw


@pytest.mark.parametrize("timeout", ["99999999999h", "9000h", "100000s", "1" * 60 + "h", "soon"])
def test_absurd_timeouts_fail_naming_the_field(timeout: str) -> None:
    assert fields(refused(with_timeout(timeout))) == {"spec.executionConfig.timeout"}


def test_deadline_is_the_timeout_capped_and_combined() -> None:
    assert ok(with_timeout(times_out_at="2026-11-27T12:20:00Z")).timeout == timedelta(minutes=20)
    assert ok(with_timeout(times_out_at="2026-11-28T12:00:00Z")).timeout == POLICY.max_timeout
    both = with_timeout("10m", "2026-11-27T12:20:00Z")
    assert ok(both).timeout == timedelta(minutes=10)
    both = with_timeout("50m", "2026-11-27T12:20:00Z")
    assert ok(both).timeout == timedelta(minutes=20)


@pytest.mark.parametrize(
    "when", ["2026-11-27T11:59:00Z", "2026-11-27T12:00:00Z", "2026-11-27T12:00:00.5Z"]
)
def test_past_deadline_fails_naming_the_field(when: str) -> None:
    invalid = refused(with_timeout(times_out_at=when))
    assert fields(invalid) == {"spec.timesOutAt"}
    assert "already past" in invalid.message


def test_deadline_without_a_clock_or_zone_fails_closed() -> None:
    assert fields(refused(with_timeout(times_out_at="2026-11-28T12:00:00Z"), now=None)) == {
        "spec.timesOutAt"
    }
    assert fields(refused(with_timeout(times_out_at="2026-11-28T12:00:00"))) == {"spec.timesOutAt"}
    assert "spec.timesOutAt" in fields(refused(with_timeout(times_out_at="tomorrow")))
