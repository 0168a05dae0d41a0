"""JSON merge patches (RFC 7386) from an old and a new document."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import apply_merge_patch
from hypothesis import given
from hypothesis import strategies as st

from wfe.controller.patches import merge_diff, status_patch


@pytest.mark.parametrize(
    ("old", "new", "patch"),
    [
        pytest.param({"a": 1}, {"a": 1}, {}, id="unchanged"),
        pytest.param({"a": 1}, {"a": 2}, {"a": 2}, id="changed-value"),
        pytest.param({"a": 1, "b": 2}, {"a": 1}, {"b": None}, id="removed-key-is-null"),
        pytest.param({}, {"a": {"b": 1}}, {"a": {"b": 1}}, id="added-object"),
        pytest.param(
            {"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}}, {"a": {"c": 3}}, id="nested-change"
        ),
        pytest.param({"a": {"b": 1}}, {"a": {"b": 1}, "x": 0}, {"x": 0}, id="unchanged-nested"),
        pytest.param({"a": [1, 2]}, {"a": [1]}, {"a": [1]}, id="lists-replaced-whole"),
        pytest.param({"a": {"b": 1}}, {"a": 5}, {"a": 5}, id="object-replaced-by-scalar"),
        pytest.param({"a": 5}, {"a": {"b": 1}}, {"a": {"b": 1}}, id="scalar-replaced-by-object"),
    ],
)
def test_merge_diff(old: dict[str, Any], new: dict[str, Any], patch: dict[str, Any]) -> None:
    assert merge_diff(old, new) == patch


# No booleans: merge_diff compares with Python's ==, for which 0 == False (a status is typed, so
# one field never holds both).
_scalars = st.integers() | st.text(max_size=5)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)
_documents = st.dictionaries(st.text(max_size=3), _values, max_size=4)


@given(_documents, _documents)
def test_the_patch_turns_old_into_new(old: dict[str, Any], new: dict[str, Any]) -> None:
    """(A merge patch cannot set a null; statuses are written without nulls, `to_wire`.)"""
    assert apply_merge_patch(old, merge_diff(old, new)) == new


def test_a_status_patch_carries_the_resource_version_or_is_none() -> None:
    assert status_patch({"phase": "Running"}, {"phase": "Running"}, "7") is None
    assert status_patch({"phase": "Pending"}, {"phase": "Running"}, "7") == {
        "metadata": {"resourceVersion": "7"},
        "status": {"phase": "Running"},
    }
