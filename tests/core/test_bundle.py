"""Bundle references: OCI references parsed into a typed record (docs/api.md)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wfe.api.formats import BUNDLE_PATTERN
from wfe.core.bundle import BundleReference, parse_bundle, parse_digest
from wfe.core.errors import InvalidInput

from strategies import bundle_parts, digests

FIELD = "spec.workflowRef.containerImage"
SHA = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "repository", "tag", "digest"),
    [
        (
            "quay.io/kubernaut/workflows/restart:v1",
            "quay.io/kubernaut/workflows/restart",
            "v1",
            None,
        ),
        ("restart", "restart", None, None),
        ("r/x@" + SHA, "r/x", None, SHA),
        ("r/x:1.0.0@" + SHA, "r/x", "1.0.0", SHA),
        ("localhost:5000/w/x", "localhost:5000/w/x", None, None),
        ("localhost:5000/w/x:2", "localhost:5000/w/x", "2", None),
        ("[::1]:5000/x:latest", "[::1]:5000/x", "latest", None),
        ("Registry.Example.com/a__b/c-d/e.f:T_1", "Registry.Example.com/a__b/c-d/e.f", "T_1", None),
        ("x:5000", "x", "5000", None),
    ],
)
def test_parses_into_parts(text: str, repository: str, tag: str | None, digest: str | None) -> None:
    ref = parse_bundle(text, field=FIELD)
    assert (ref.repository, ref.tag, ref.digest) == (repository, tag, digest)
    assert ref.reference == text == str(ref)
    assert ref.pinned == (tag is not None or digest is not None)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("r/x@sha256:a@b", "more than one '@'"),
        ("r/x@sha256:" + "a" * 63, "64 lowercase hex"),
        ("r/x@sha256:" + "A" * 64, "64 lowercase hex"),
        ("r/x@md5:" + "a" * 32, "not supported"),
        ("r/x@latest", "algorithm:hex"),
        ("r/x@", "algorithm:hex"),
        ("r/x:", "tag"),
        ("r/x:-bad", "tag"),
        ("r/x:.bad", "tag"),
        ("r/x:" + "t" * 129, "tag"),
        ("r/x:a+b", "tag"),
        ("R/X:1", "repository"),
        ("r//x", "repository"),
        ("r/x/", "repository"),
        ("/r/x", "repository"),
        ("r/-x", "repository"),
        ("r/x y", "repository"),
        ("r/x\n", "repository"),
        ("https://r/x", "repository"),
        ("", "empty"),
        ("r/" + "x" * 1030, "longer than"),
    ],
)
def test_refuses_naming_the_field_and_the_part(text: str, says: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_bundle(text, field=FIELD)
    (problem,) = info.value.problems
    assert problem.field == FIELD
    assert says in problem.message


def test_not_a_string() -> None:
    with pytest.raises(InvalidInput, match=FIELD):
        parse_bundle(3, field=FIELD)
    with pytest.raises(InvalidInput, match="containerDigest"):
        parse_digest(None, field="spec.workflowRef.containerDigest")


def test_with_digest_pins() -> None:
    ref = parse_bundle("r/x", field=FIELD)
    assert not ref.pinned
    pinned = ref.with_digest(SHA)
    assert pinned.pinned
    assert pinned.reference == f"r/x@{SHA}"
    assert BundleReference("r/x", tag="1").reference == "r/x:1"


@given(bundle_parts)
def test_generated_references_parse_back(
    parts: tuple[str | None, str, str | None, str | None],
) -> None:
    registry, path, tag, digest = parts
    repository = f"{registry}/{path}" if registry else path
    ref = BundleReference(repository, tag=tag, digest=digest)
    assert parse_bundle(ref.reference, field=FIELD) == ref
    assert re.fullmatch(BUNDLE_PATTERN, ref.reference)


@given(digests)
def test_digests(digest: str) -> None:
    assert parse_digest(digest, field="f") == digest


@given(st.text(alphabet="ab1:/@._-A[] ", max_size=24))
def test_parser_agrees_with_the_schema_pattern(text: str) -> None:
    """The CRD's CEL rule and the parser are the same grammar."""
    try:
        parse_bundle(text, field=FIELD)
        accepted = True
    except InvalidInput:
        accepted = False
    assert accepted == bool(re.fullmatch(BUNDLE_PATTERN, text))
