"""The bad-input corpus (tests/bad_inputs.py) through the controller's own validation, offline.

The controller re-validates every object (it may predate the schema), so each case the API
server rejects must also be refused here naming the same field, each `failed` case fails here
naming its field, and each `runs` case is valid. Cases whose outcome needs the kind check
against discovery are format-valid here. The same corpus runs against the API server and the
controller in tests/integration/controller/test_bad_inputs.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wfe.core.policy import Policy
from wfe.core.validation import Invalid, ValidSpec, validate_spec

from bad_inputs import CASES, DISCOVERY, Case, manifest

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
POLICY = Policy(allowed_service_accounts=frozenset({"db-fixer", "other-fixer"}))


def test_the_corpus_is_large_distinct_and_complete() -> None:
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)
    admitted = [c for c in CASES if c.outcome != "rejected"]
    targets = [manifest(c)["spec"].get("targetResource") for c in admitted]
    assert len(set(targets)) == len(targets), "admitted cases must not skip each other"
    for case in CASES:
        assert (case.field is None) == (case.outcome == "runs"), case.name
    assert {c.outcome for c in CASES} == {"rejected", "failed", "runs"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_controller_validation_agrees(case: Case) -> None:
    checked = validate_spec(manifest(case)["spec"], POLICY, now=NOW)
    if case.outcome == "runs" or case.needs == DISCOVERY:
        assert isinstance(checked, ValidSpec), checked
        return
    assert isinstance(checked, Invalid), f"{case.name}: the controller would run it"
    assert case.field is not None
    assert case.field in checked.message, checked.message
    if case.outcome == "failed":
        for text in case.also:
            assert text in checked.message, checked.message
