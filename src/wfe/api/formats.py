"""The string formats of the WorkflowExecution API, one regular expression each.

The CRD's CEL rules (`wfe.api.models`) and the core's parsers (`wfe.core.target`,
`wfe.core.bundle`, `wfe.core.validation`) use these same expressions, so what admission accepts
and what the controller re-validates (for objects that predate a rule) cannot differ. They are
written in the subset common to RE2 (CEL's `matches`) and Python's `re`: no look-arounds, no
`\\w` or `\\d` (Unicode-aware in Python), anchored with `^…$`; Python callers use `fullmatch`.
docs/api.md describes each format in words.
"""

from __future__ import annotations

__all__ = [
    "BUNDLE_PATTERN",
    "DIGEST",
    "DIGEST_PATTERN",
    "DNS_LABEL",
    "DNS_SUBDOMAIN",
    "DNS_SUBDOMAIN_PATTERN",
    "DURATION_MAX",
    "DURATION_PATTERN",
    "KIND",
    "MAX_NAME_LENGTH",
    "PARAMETER_KEY_PATTERN",
    "REPOSITORY",
    "TAG",
    "TARGET_PATTERN",
]

# Kubernetes object names (RFC 1123): a namespace is a DNS label (at most 63 characters), most
# other names a DNS subdomain (at most 253 characters, checked apart: RE2 cannot bound the
# length of a repeated group).
DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
DNS_SUBDOMAIN_PATTERN = f"^{DNS_SUBDOMAIN}$"
MAX_NAME_LENGTH = 253

# A kind as the API server names it (`Deployment`, `Node`), optionally qualified by its API
# group (`Certificate.cert-manager.io`) for a kind that two groups serve.
KIND = rf"[A-Za-z][A-Za-z0-9]{{0,62}}(\.{DNS_SUBDOMAIN})?"
# `namespace/Kind/name` or `Kind/name`; each `/`-separated part is also at most 253 characters.
TARGET_PATTERN = rf"^({DNS_LABEL}/)?{KIND}/{DNS_SUBDOMAIN}$"

PARAMETER_KEY_PATTERN = r"^[A-Z][A-Z0-9_]*$"

# Go's duration syntax (metav1.Duration, Tekton's timeouts), with numbers kept small: at most
# six parts of at most five integer digits, so no value can overflow Go's int64 nanoseconds
# (about 2562047h) and CEL's `duration()` always evaluates; the value itself is bounded by
# DURATION_MAX.
DURATION_PATTERN = r"^(0|([0-9]{1,5}(\.[0-9]{1,9})?(ns|us|µs|μs|ms|s|m|h)){1,6})$"
DURATION_MAX = "8760h"

# OCI references as the distribution/reference grammar defines them (docs/api.md): an optional
# registry host[:port], a lowercase repository path, an optional tag, an optional digest. As the
# bundle resolver reads them, a first component is a registry only when it has a `.` or a port
# or is `localhost` (else `R/x` would pass as registry `R`, and the resolver takes it for the
# repository `R/x`, which is invalid). Digests are the OCI image spec's registered algorithms
# with their exact lengths of lowercase hex.
_DOMAIN_COMPONENT = r"([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_PORT = r"(:[0-9]+)?"
_DOMAIN = (
    rf"(localhost{_PORT}|{_DOMAIN_COMPONENT}(\.{_DOMAIN_COMPONENT})+{_PORT}"
    rf"|{_DOMAIN_COMPONENT}:[0-9]+|\[[a-fA-F0-9:]+\]{_PORT})"
)
_PATH_COMPONENT = r"[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*"
REPOSITORY = rf"({_DOMAIN}/)?{_PATH_COMPONENT}(/{_PATH_COMPONENT})*"
TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
DIGEST = r"(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})"
DIGEST_PATTERN = f"^{DIGEST}$"
BUNDLE_PATTERN = rf"^{REPOSITORY}(:{TAG})?(@{DIGEST})?$"
