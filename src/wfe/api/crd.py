"""The WorkflowExecution CustomResourceDefinition, generated from the pydantic models.

Pydantic's JSON schema is not a structural CRD schema: it uses `$ref`/`$defs`, `anyOf` with
`null` for optional fields, titles and defaults. `structural()` rewrites it into the subset the
API server accepts (every node typed, references inlined, no nulls) and keeps the validation
(patterns, bounds, enums, CEL rules). `crd.yaml` beside this module is the committed result;
a test regenerates it and fails when the two differ.
"""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import yaml

from wfe.api.models import (
    API_VERSION,
    GROUP,
    KIND,
    PLURAL,
    VERSION,
    WorkflowExecutionSpec,
    WorkflowExecutionStatus,
)

__all__ = ["CRD_NAME", "crd_manifest", "crd_yaml", "packaged_crd_yaml", "structural"]

CRD_NAME = f"{PLURAL}.{GROUP}"

# Keywords of a JSON schema node that a structural CRD schema may keep as they are.
_KEPT = (
    "type",
    "format",
    "description",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "enum",
    "nullable",
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
)


def structural(schema: dict[str, Any]) -> dict[str, Any]:
    """Convert a pydantic JSON schema into a structural OpenAPI v3 schema for a CRD."""
    defs: dict[str, Any] = schema.get("$defs", {})

    def convert(node: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in node:
            target = defs[node["$ref"].rsplit("/", 1)[-1]]
            merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            return convert(merged)
        if "anyOf" in node:
            options = [o for o in node["anyOf"] if o.get("type") != "null"]
            if len(options) != 1:
                raise ValueError(f"cannot express anyOf {node['anyOf']!r} structurally")
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            return convert({**options[0], **rest})
        # Copies: a rule shared by several fields must not become a YAML alias.
        out: dict[str, Any] = {k: copy.deepcopy(node[k]) for k in _KEPT if k in node}
        if "enum" in node and "type" not in node:
            out["type"] = "string"
        if "properties" in node:
            out["type"] = "object"
            out["properties"] = {k: convert(v) for k, v in node["properties"].items()}
            if node.get("required"):
                out["required"] = sorted(node["required"])
        elif isinstance(node.get("additionalProperties"), dict):
            out["additionalProperties"] = convert(node["additionalProperties"])
        if "items" in node:
            out["items"] = convert(node["items"])
        if "type" not in out:
            raise ValueError(f"schema node without a type: {node!r}")
        return out

    return convert(schema)


def _printer_columns() -> list[dict[str, Any]]:
    return [
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "WorkflowID", "type": "string", "jsonPath": ".spec.workflowRef.workflowId"},
        {"name": "Target", "type": "string", "jsonPath": ".spec.targetResource"},
        {"name": "Duration", "type": "string", "jsonPath": ".status.duration"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {
            "name": "FailureReason",
            "type": "string",
            "priority": 1,
            "jsonPath": ".status.failureDetails.reason",
        },
        {
            "name": "SkipReason",
            "type": "string",
            "priority": 1,
            "jsonPath": ".status.skipDetails.reason",
        },
        {
            "name": "Lock",
            "type": "string",
            "priority": 1,
            "jsonPath": ".status.pipelineRunRef.name",
        },
        {
            "name": "NextAllowed",
            "type": "date",
            "priority": 1,
            "jsonPath": ".status.nextAllowedExecution",
        },
    ]


def crd_manifest() -> dict[str, Any]:
    """The CRD as a dict, ready to create through the API."""
    spec_schema = structural(WorkflowExecutionSpec.model_json_schema(by_alias=True))
    status_schema = structural(
        WorkflowExecutionStatus.model_json_schema(by_alias=True, mode="serialization")
    )
    spec_schema["description"] = "What to run against which target; immutable after creation."
    status_schema["description"] = "Observed state, written only by the controller."
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": KIND.lower(),
                "shortNames": ["wfe"],
                "categories": ["kubernaut"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": _printer_columns(),
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": f"{API_VERSION} {KIND}: run a remediation workflow.",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                        }
                    },
                }
            ],
        },
    }


def crd_yaml() -> str:
    """The generated CRD as YAML (what `wfe crd` prints)."""
    return "# Generated by `wfe crd` from wfe.api.models; do not edit.\n" + yaml.safe_dump(
        crd_manifest(), sort_keys=False, width=100, allow_unicode=True
    )


def packaged_crd_yaml() -> str:
    """The committed CRD manifest shipped inside the package."""
    return (resources.files("wfe.api") / "crd.yaml").read_text(encoding="utf-8")
