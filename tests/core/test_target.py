"""Target parsing: the format of SPEC §2 (docs/api.md), never normalised."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wfe.api.formats import TARGET_PATTERN
from wfe.core.errors import InvalidInput
from wfe.core.target import parse_target

from strategies import valid_targets


def test_namespaced_and_cluster_scoped() -> None:
    t = parse_target("payment/Deployment/payment-api")
    assert (t.namespace, t.kind, t.group, t.name, t.cluster_scoped) == (
        "payment",
        "Deployment",
        None,
        "payment-api",
        False,
    )
    c = parse_target("Node/worker-1")
    assert (c.namespace, c.kind, c.name, c.cluster_scoped) == (None, "Node", "worker-1", True)
    assert parse_target("default/ConfigMap/kube-root-ca.crt").name == "kube-root-ca.crt"


def test_kind_may_name_its_group() -> None:
    t = parse_target("payment/Certificate.cert-manager.io/web")
    assert (t.namespace, t.kind, t.group, t.name) == (
        "payment",
        "Certificate",
        "cert-manager.io",
        "web",
    )
    assert t.qualified_kind == "Certificate.cert-manager.io"
    assert parse_target("ClusterIssuer.cert-manager.io/letsencrypt").group == "cert-manager.io"


def test_format_only_kind_spelling_is_not_checked_here() -> None:
    # Whether the API server serves the kind, spelled so, is discovery's question, not format's.
    for raw in ("payment/deployment/checkout", "payment/deploy/checkout", "Deployment/x"):
        assert parse_target(raw).raw == raw


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "deployment",
        "a/b/c/d",
        "Payment/Deployment/x",
        "payment/Deployment/Checkout",
        "payment/Deployment/check_out",
        "ClusterRole/system:node",
        "payment/Deployment/-x",
        "payment/Deployment/x-",
        "payment/Deployment/a..b",
        "ns/Deployment/",
        "ns//x",
        "ns/Deploy ment/x",
        "ns/9Deployment/x",
        "ns/Deployment.Apps/x",
        "ns/Deployment./x",
        "ns/Deployment/x\n",
        "a" * 64 + "/Deployment/x",
        "ns/Deployment/" + "x" * 254,
        "x" * 601,
        42,
        None,
    ],
)
def test_rejects_naming_the_field(raw: object) -> None:
    with pytest.raises(InvalidInput, match=r"spec\.targetResource") as info:
        parse_target(raw)
    assert "^" not in str(info.value), "the message explains the format in words"


def test_longest_parts_are_accepted() -> None:
    name = ".".join(["a" * 63] * 3) + "." + "b" * 61  # 253 characters
    assert len(name) == 253
    assert parse_target(f"{'n' * 63}/Deployment/{name}").name == name


@given(valid_targets)
def test_round_trip_keeps_raw(raw: str) -> None:
    t = parse_target(raw)
    assert t.raw == raw
    assert "/".join(p for p in (t.namespace, t.qualified_kind, t.name) if p) == raw


@given(st.text(alphabet="aB9-._/: \n", max_size=30))
def test_parser_agrees_with_the_schema_pattern(raw: str) -> None:
    """The CRD's CEL rule and the parser are one rule (lengths aside, bounded above)."""
    try:
        parse_target(raw)
        accepted = True
    except InvalidInput:
        accepted = False
    assert accepted == bool(re.fullmatch(TARGET_PATTERN, raw))
