"""One object, one spelling (docs/targets.md): table cases and the lock invariant as a property."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wfe.core.kinds import (
    BUILTIN_KINDS,
    Canonical,
    KindCatalog,
    Misspelled,
    ServedKind,
    Undecidable,
    check_kind,
)
from wfe.core.lock import lock_name
from wfe.core.target import Target

from builders import CATALOG

KNATIVE_SERVICE = ServedKind(
    kind="Service",
    group="serving.knative.dev",
    namespaced=True,
    plural="services",
    short_names=("ksvc",),
)
WIDGET_A = ServedKind(kind="Widget", group="a.example.com", namespaced=True, plural="widgets")
WIDGET_B = ServedKind(kind="Widget", group="b.example.com", namespaced=True, plural="widgets")
CERTIFICATE = ServedKind(
    kind="Certificate",
    group="cert-manager.io",
    namespaced=True,
    plural="certificates",
    singular="certificate",
    short_names=("cert", "certs"),
)
WIDE = KindCatalog.of([*BUILTIN_KINDS, KNATIVE_SERVICE, WIDGET_A, WIDGET_B, CERTIFICATE])


def _target(raw: str) -> Target:
    # Split by hand: the format check (core.target) is tested on its own.
    parts = raw.split("/")
    kind, _, group = parts[-2].partition(".")
    namespace = parts[0] if len(parts) == 3 else None
    return Target(raw=raw, namespace=namespace, kind=kind, group=group or None, name=parts[-1])


def check(raw: str, catalog: KindCatalog = CATALOG) -> Canonical | Misspelled | Undecidable:
    return check_kind(_target(raw), catalog)


@pytest.mark.parametrize(
    "raw",
    [
        "payment/Deployment/checkout",
        "payment/StatefulSet/db",
        "Node/worker-1",
        "Namespace/payment",
        "payment/Pod/api-0",
    ],
)
def test_canonical_builtin_targets_pass(raw: str) -> None:
    assert isinstance(check(raw), Canonical)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("payment/deployment/checkout", "payment/Deployment/checkout"),
        ("payment/deployments/checkout", "payment/Deployment/checkout"),
        ("payment/deploy/checkout", "payment/Deployment/checkout"),
        ("payment/DEPLOYMENT/checkout", "payment/Deployment/checkout"),
        ("payment/Deployment.apps/checkout", "payment/Deployment/checkout"),
        ("payment/sts/db", "payment/StatefulSet/db"),
        ("node/worker-1", "Node/worker-1"),
        ("default/Node/worker-1", "Node/worker-1"),
        ("payment/Service.core/web", "payment/Service/web"),
    ],
)
def test_other_spellings_fail_with_the_canonical_target(raw: str, canonical: str) -> None:
    result = check(raw)
    assert isinstance(result, Misspelled)
    assert result.problem.field == "spec.targetResource"
    assert repr(canonical) in result.problem.message
    assert result.canonical == canonical


def test_namespaced_kind_without_a_namespace_says_how_to_write_it() -> None:
    result = check("Deployment/checkout")
    assert isinstance(result, Misspelled)
    assert "namespaced" in result.problem.message
    assert "NAMESPACE/Deployment/checkout" in result.problem.message
    assert result.canonical is None  # the namespace is not known


def test_unserved_kind_fails_closed_when_discovery_was_complete() -> None:
    result = check("payment/Deplyment/checkout")
    assert isinstance(result, Misspelled)
    assert "not served" in result.problem.message


def test_unserved_kind_is_undecidable_when_discovery_was_partial() -> None:
    partial = KindCatalog.of(BUILTIN_KINDS, complete=False)
    assert isinstance(check("payment/Deplyment/checkout", partial), Undecidable)
    # A served kind is judged even so: what was listed is certain.
    assert isinstance(check("payment/Deployment/checkout", partial), Canonical)
    assert isinstance(check("payment/deploy/checkout", partial), Misspelled)


def test_builtin_group_keeps_the_bare_kind_and_others_are_qualified() -> None:
    assert isinstance(check("payment/Service/web", WIDE), Canonical)
    served = check("payment/Service.serving.knative.dev/web", WIDE)
    assert isinstance(served, Canonical)
    assert served.served.group == "serving.knative.dev"
    wrong = check("payment/ksvc/web", WIDE)
    assert isinstance(wrong, Misspelled)
    assert wrong.canonical == "payment/Service.serving.knative.dev/web"


def test_a_kind_of_several_custom_groups_has_no_bare_spelling() -> None:
    bare = check("ns/Widget/w", WIDE)
    assert isinstance(bare, Misspelled)
    assert "ns/Widget.a.example.com/w" in bare.problem.message
    assert "ns/Widget.b.example.com/w" in bare.problem.message
    assert isinstance(check("ns/Widget.a.example.com/w", WIDE), Canonical)


def test_crd_kind_by_its_kind_and_not_its_short_name() -> None:
    assert isinstance(check("web/Certificate/site", WIDE), Canonical)
    short = check("web/cert/site", WIDE)
    assert isinstance(short, Misspelled)
    assert short.canonical == "web/Certificate/site"
    qualified = check("web/Certificate.cert-manager.io/site", WIDE)
    assert isinstance(qualified, Misspelled)
    assert qualified.canonical == "web/Certificate/site"


# --- the invariant: one object, one lock ---------------------------------------------------


def _spellings(served: ServedKind) -> st.SearchStrategy[str]:
    words = sorted({served.kind, *served.spellings(), f"{served.kind}.{served.group or 'core'}"})
    cased = st.sampled_from(words).flatmap(
        lambda w: st.lists(st.booleans(), min_size=len(w), max_size=len(w)).map(
            lambda ups: "".join(c.upper() if u else c.lower() for c, u in zip(w, ups, strict=True))
        )
    )
    return st.one_of(st.sampled_from(words), cased)


@st.composite
def two_spellings_of_one_object(draw: st.DrawFn) -> tuple[str, str]:
    served = draw(st.sampled_from([*BUILTIN_KINDS, KNATIVE_SERVICE, CERTIFICATE]))
    name = draw(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True))
    namespace = draw(st.sampled_from(["payment", "kube-system"]))

    def target(kind: str, with_namespace: bool) -> str:
        return f"{namespace}/{kind}/{name}" if with_namespace else f"{kind}/{name}"

    first = target(draw(_spellings(served)), draw(st.booleans()))
    second = target(draw(_spellings(served)), draw(st.booleans()))
    return first, second


@given(two_spellings_of_one_object())
def test_two_spellings_of_one_object_never_both_run_under_two_locks(
    pair: tuple[str, str],
) -> None:
    first, second = pair
    results = [check(t, WIDE) for t in pair]
    a, b = results
    if isinstance(a, Canonical) and isinstance(b, Canonical) and a.served == b.served:
        # Both accepted as the same object: then they are one string, so one lock by the
        # runbook recipe. (`Service` and `Service.serving.knative.dev` are two objects.)
        assert first == second
        digest = hashlib.sha256(first.encode()).hexdigest()[:16]
        assert lock_name(first) == f"wfe-{digest}"
    for raw, result in zip(pair, results, strict=True):
        if isinstance(result, Misspelled) and result.canonical is not None:
            assert isinstance(check(result.canonical, WIDE), Canonical), raw
