"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from hypothesis import strategies as st

_DNS = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?\Z")
_GROUP = st.from_regex(
    r"\A[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?){0,2}\Z"
)
_KIND = st.from_regex(r"\A[A-Za-z][A-Za-z0-9]{0,15}\Z")
_QUALIFIED_KIND = st.one_of(_KIND, st.builds(lambda k, g: f"{k}.{g}", _KIND, _GROUP))
_NAME = st.from_regex(
    r"\A[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?){0,2}\Z"
)

namespaced_targets = st.builds(lambda ns, k, n: f"{ns}/{k}/{n}", _DNS, _QUALIFIED_KIND, _NAME)
cluster_targets = st.builds(lambda k, n: f"{k}/{n}", _QUALIFIED_KIND, _NAME)
valid_targets = st.one_of(namespaced_targets, cluster_targets)
parameter_keys = st.from_regex(r"\A[A-Z][A-Z0-9_]{0,20}\Z")
parameters = st.dictionaries(parameter_keys, st.text(max_size=40), max_size=6)

# OCI references in the distribution grammar: registry host[:port]/path[:tag][@digest].
_ALNUM = st.from_regex(r"\A[a-z0-9]{1,6}\Z")
_SEPARATOR = st.sampled_from([".", "_", "__", "-", "--"])
_PATH_COMPONENT = st.builds(
    lambda first, rest: first + "".join(s + a for s, a in rest),
    _ALNUM,
    st.lists(st.tuples(_SEPARATOR, _ALNUM), max_size=2),
)
_REGISTRY = st.one_of(
    st.none(),
    st.from_regex(r"\A[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?(\.[a-z]{2,5}){1,2}\Z"),
    st.builds(lambda p: f"localhost:{p}", st.integers(1, 65535)),
)
_TAG = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z")
digests = st.one_of(
    st.from_regex(r"\Asha256:[a-f0-9]{64}\Z"), st.from_regex(r"\Asha512:[a-f0-9]{128}\Z")
)
bundle_parts = st.tuples(
    _REGISTRY,
    st.lists(_PATH_COMPONENT, min_size=1, max_size=3).map("/".join),
    st.one_of(st.none(), _TAG),
    st.one_of(st.none(), digests),
)
