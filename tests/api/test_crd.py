"""The committed CRD is the generated one, and it is a structural schema with SPEC §2's rules."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

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


def test_structural_every_node_typed_no_refs_or_nulls() -> None:
    for path, node in _walk(_schema()):
        assert "type" in node, path
        assert not {"$ref", "anyOf", "oneOf", "allOf", "nullable", "default", "title"} & set(
            node
        ), path


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
    assert set(spec["properties"]["workflowRef"]["required"]) == {
        "workflowId",
        "version",
        "containerImage",
    }


def test_structural_rejects_what_it_cannot_express() -> None:
    with pytest.raises(ValueError, match="anyOf"):
        structural({"anyOf": [{"type": "string"}, {"type": "integer"}]})
    with pytest.raises(ValueError, match="without a type"):
        structural({"description": "x"})
