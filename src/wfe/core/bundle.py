"""Tekton bundle references: an OCI reference parsed once into a typed record (docs/api.md).

`registry/repository[:tag][@digest]`, in the distribution/reference grammar the bundle
resolver applies; `wfe.api.formats.BUNDLE_PATTERN` is the same grammar as one expression for the
CRD's rule. Parsing part by part gives the precise message (the tag, the digest or the
repository) that a single pattern cannot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from wfe.api.formats import DIGEST_PATTERN, REPOSITORY, TAG
from wfe.core.errors import InvalidInput, Problem

__all__ = ["BundleReference", "parse_bundle", "parse_digest"]

_REPOSITORY = re.compile(REPOSITORY)
_TAG = re.compile(TAG)
_DIGEST = re.compile(DIGEST_PATTERN)
_ALGORITHM = re.compile(r"[A-Za-z][A-Za-z0-9]*([+._-][A-Za-z][A-Za-z0-9]*)*")
_MAX_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class BundleReference:
    """An OCI reference: `repository` includes the registry host when one is named."""

    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def pinned(self) -> bool:
        """Names a version (tag or digest); unpinned means whatever `latest` is at run time."""
        return self.tag is not None or self.digest is not None

    @property
    def reference(self) -> str:
        """The reference to resolve, as the resolver reads it."""
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return f"{self.repository}{tag}{digest}"

    def with_digest(self, digest: str) -> BundleReference:
        return replace(self, digest=digest)

    def __str__(self) -> str:
        return self.reference


def parse_digest(text: object, *, field: str) -> str:
    """Check a digest: `sha256:` + 64 or `sha512:` + 128 lowercase hex digits.

    Raises:
        InvalidInput: naming `field`.
    """
    if not isinstance(text, str):
        raise InvalidInput([Problem(field, f"must be a string, got {type(text).__name__}")])
    if not _DIGEST.fullmatch(text):
        raise InvalidInput([Problem(field, _digest_problem(text))])
    return text


def parse_bundle(text: object, *, field: str) -> BundleReference:
    """Parse an OCI reference.

    Raises:
        InvalidInput: naming `field`, saying which part is wrong.
    """
    if not isinstance(text, str):
        raise InvalidInput([Problem(field, f"must be a string, got {type(text).__name__}")])
    if not text:
        raise InvalidInput([Problem(field, "must not be empty")])
    if len(text) > _MAX_LENGTH:
        raise InvalidInput([Problem(field, f"longer than {_MAX_LENGTH} characters")])
    shown = text[:80]
    name, at, digest = text.partition("@")
    if at and "@" in digest:
        raise InvalidInput([Problem(field, f"has more than one '@' (got {shown!r})")])
    if at and not _DIGEST.fullmatch(digest):
        raise InvalidInput([Problem(field, f"{_digest_problem(digest)} (got {shown!r})")])
    repository, tag = name, None
    colon = name.rfind(":")
    if colon > name.rfind("/"):  # a colon before the last '/' belongs to a registry port
        repository, tag = name[:colon], name[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise InvalidInput(
                [
                    Problem(
                        field,
                        f"tag {tag[:40]!r} must be 1-128 letters, digits, '_', '.' or '-', not "
                        f"starting with '.' or '-' (got {shown!r})",
                    )
                ]
            )
    if not _REPOSITORY.fullmatch(repository):
        raise InvalidInput(
            [
                Problem(
                    field,
                    "repository must be a lowercase path (a-z, 0-9, separated by '/', '.', '_' "
                    "or '-') after an optional registry host[:port], e.g. "
                    f"quay.io/kubernaut/workflows/restart (got {shown!r})",
                )
            ]
        )
    return BundleReference(repository=repository, tag=tag, digest=digest if at else None)


def _digest_problem(text: str) -> str:
    algorithm, colon, _ = text.partition(":")
    if not colon or not _ALGORITHM.fullmatch(algorithm):
        return "digest must be algorithm:hex, e.g. sha256:<64 lowercase hex digits>"
    if algorithm not in ("sha256", "sha512"):
        return f"digest algorithm {algorithm[:20]!r} is not supported (sha256 or sha512)"
    length = 64 if algorithm == "sha256" else 128
    return f"a {algorithm} digest is {length} lowercase hex digits (0-9, a-f) after the colon"
