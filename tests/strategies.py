"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from hypothesis import strategies as st

_DNS = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?\Z")
_KIND = st.from_regex(r"\A[A-Za-z][A-Za-z0-9]{0,15}\Z")
_NAME = st.from_regex(r"\A[A-Za-z0-9]([-A-Za-z0-9._:]{0,40}[A-Za-z0-9])?\Z")

namespaced_targets = st.builds(lambda ns, k, n: f"{ns}/{k}/{n}", _DNS, _KIND, _NAME)
cluster_targets = st.builds(lambda k, n: f"{k}/{n}", _KIND, _NAME)
valid_targets = st.one_of(namespaced_targets, cluster_targets)
parameter_keys = st.from_regex(r"\A[A-Z][A-Z0-9_]{0,20}\Z")
parameters = st.dictionaries(parameter_keys, st.text(max_size=40), max_size=6)
