"""The committed CRD is the generated one, and it is a structural schema with SPEC §2's rules."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from wfe.api import formats
from wfe.api.crd import crd_manifest, crd_yaml, packaged_crd_yaml, structural
from wfe.api.enums import FailureReason, Phase, SkipReason


def test_committed_manifest_is_current() -> None:
    assert packaged_crd_yaml() == crd_yaml(), "run `wfe crd > src/wfe/api/crd.yaml`"


def _walk(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = [(path, node)]
    for name, child in node.get("properties", {}).items():
        out += _walk(child, f"{path}.{name}")
    if isinstance(node.get("additionalProperties"), dict):
        out += _walk(node["additionalProperties"], f"{path}.*")
    if "items" in node:
        out += _walk(node["items"], f"{path}[]")
    return out


def _schema() -> dict[str, Any]:
    version = crd_manifest()["spec"]["versions"][0]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


# A null is kept (not pruned) only where it means something or must be refused by a rule.
NULLABLE = {".spec.parameters.*", ".spec.workflowRef.declaredParameterNames"}


def test_structural_every_node_typed_no_refs_nulls_only_where_meant() -> None:
    for path, node in _walk(_schema()):
        assert "type" in node, path
        assert not {"$ref", "anyOf", "oneOf", "allOf", "default", "title"} & set(node), path
        assert ("nullable" in node) == (path in NULLABLE), path


def test_nothing_is_kept_unchecked() -> None:
    """No subtree escapes the schema: everything stored is declared (docs/api.md)."""
    assert "x-kubernetes-preserve-unknown-fields" not in crd_yaml()


# The fields of upstream's WorkflowExecutionSpec and WorkflowRef (its embedded WorkflowSnapshot),
# by wire name, with the older shape's; every one must be declared so none is pruned silently.
UPSTREAM_SPEC = {
    "remediationRequestRef",
    "workflowRef",
    "targetResource",
    "clusterID",
    "parameters",
    "confidence",
    "rationale",
    "timesOutAt",
}
UPSTREAM_WORKFLOW_REF = {
    "workflowId",
    "workflowName",
    "actionType",
    "version",
    "executionBundle",
    "executionBundleDigest",
    "executionEngine",
    "engineConfig",
    "serviceAccountName",
    "dependencies",
    "resources",
    "declaredParameterNames",
}
OLDER = {"executionConfig"}
OLDER_WORKFLOW_REF = {"containerImage", "containerDigest"}


def test_every_field_of_both_shapes_is_declared() -> None:
    spec = _schema()["properties"]["spec"]
    assert set(spec["properties"]) == UPSTREAM_SPEC | OLDER
    ref = spec["properties"]["workflowRef"]
    assert set(ref["properties"]) == UPSTREAM_WORKFLOW_REF | OLDER_WORKFLOW_REF
    deps = ref["properties"]["dependencies"]["properties"]
    assert set(deps) == {"secrets", "configMaps"}
    assert set(ref["properties"]["resources"]["properties"]) == {"claims", "limits", "requests"}
    assert ref["properties"]["executionEngine"]["enum"] == ["tekton", "job", "ansible"]
    assert spec["properties"]["timesOutAt"]["format"] == "date-time"


def _rules() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path, rule)
        for path, node in _walk(_schema())
        for rule in node.get("x-kubernetes-validations", [])
    ]


def test_rule_messages_are_words_not_patterns() -> None:
    rules = _rules()
    assert len(rules) >= 12
    for path, rule in rules:
        assert rule.get("message"), path
        assert "^" not in rule["message"], path
        assert "[a-z" not in rule["message"], path


def test_format_rules_are_the_core_patterns() -> None:
    text = crd_yaml()
    for pattern in (
        formats.TARGET_PATTERN,
        formats.BUNDLE_PATTERN,
        formats.DIGEST_PATTERN,
        formats.DURATION_PATTERN,
        formats.DNS_SUBDOMAIN_PATTERN,
        formats.PARAMETER_KEY_PATTERN,
    ):
        assert f"r'{pattern}'" in "".join(r["rule"] for _, r in _rules()), pattern
    assert "'" not in formats.BUNDLE_PATTERN + formats.TARGET_PATTERN  # a CEL raw string
    assert text


def test_names_and_columns() -> None:
    crd = yaml.safe_load(packaged_crd_yaml())
    names = crd["spec"]["names"]
    assert crd["metadata"]["name"] == "workflowexecutions.kubernaut.ai"
    assert names["shortNames"] == ["wfe"]
    assert (names["plural"], names["singular"], names["kind"]) == (
        "workflowexecutions",
        "workflowexecution",
        "WorkflowExecution",
    )
    version = crd["spec"]["versions"][0]
    assert version["name"] == "v1alpha1"
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    assert columns["Phase"]["jsonPath"] == ".status.phase"
    assert columns["WorkflowID"]["jsonPath"] == ".spec.workflowRef.workflowId"
    assert columns["Target"]["jsonPath"] == ".spec.targetResource"
    assert columns["Duration"]["jsonPath"] == ".status.duration"
    assert columns["FailureReason"]["priority"] == 1
    assert columns["SkipReason"]["priority"] == 1


def test_enums_cover_every_value_the_controller_writes() -> None:
    status = _schema()["properties"]["status"]["properties"]
    assert status["phase"]["enum"] == [p.value for p in Phase]
    assert status["failureDetails"]["properties"]["reason"]["enum"] == [
        r.value for r in FailureReason
    ]
    assert status["skipDetails"]["properties"]["reason"]["enum"] == [r.value for r in SkipReason]


def test_spec_rules() -> None:
    spec = _schema()["properties"]["spec"]
    assert {"rule": "self == oldSelf", "message": "spec is immutable"} in spec[
        "x-kubernetes-validations"
    ]
    assert set(spec["required"]) == {"workflowRef", "targetResource"}
    assert spec["properties"]["confidence"]["minimum"] == 0
    assert spec["properties"]["confidence"]["maximum"] == 1
    assert set(spec["properties"]["workflowRef"]["required"]) == {"workflowId", "version"}


def test_structural_rejects_what_it_cannot_express() -> None:
    with pytest.raises(ValueError, match="anyOf"):
        structural({"anyOf": [{"type": "string"}, {"type": "integer"}]})
    with pytest.raises(ValueError, match="without a type"):
        structural({"description": "x"})
