"""Target parsing: the format of SPEC §2, never normalised."""

from __future__ import annotations

import pytest
from hypothesis import given

from wfe.core.errors import InvalidInput
from wfe.core.target import parse_target

from strategies import valid_targets


def test_namespaced_and_cluster_scoped() -> None:
    t = parse_target("payment/deployment/payment-api")
    assert (t.namespace, t.kind, t.name, t.cluster_scoped) == (
        "payment",
        "deployment",
        "payment-api",
        False,
    )
    c = parse_target("Node/worker-1")
    assert (c.namespace, c.kind, c.name, c.cluster_scoped) == (None, "Node", "worker-1", True)
    assert parse_target("ClusterRole/system:node").name == "system:node"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "deployment",
        "a/b/c/d",
        "Payment/deployment/x",
        "ns/deployment/",
        "ns//x",
        "ns/deploy ment/x",
        "ns/deployment/x\n",
        "x" * 601,
        42,
        None,
    ],
)
def test_rejects_naming_the_field(raw: object) -> None:
    with pytest.raises(InvalidInput, match=r"spec\.targetResource"):
        parse_target(raw)


@given(valid_targets)
def test_round_trip_keeps_raw(raw: str) -> None:
    t = parse_target(raw)
    assert t.raw == raw
    assert "/".join(p for p in (t.namespace, t.kind, t.name) if p) == raw
