"""SPEC §4: an audited clearance lifts a block; nothing else does."""

from __future__ import annotations

from datetime import timedelta

from wfe.api.enums import Phase
from wfe.api.models import BlockClearance
from wfe.core.clearance import (
    CLEAR_ANNOTATION,
    CLEARED_BY_ANNOTATION,
    blocks_target,
    requested_clearance,
)
from wfe.core.errors import Problem
from wfe.core.policy import Policy

from builders import NOW, record

POLICY = Policy()
BLOCKED = record("x", Phase.FAILED, finished=NOW - timedelta(hours=1), ran=True).status


def test_failure_that_ran_blocks() -> None:
    assert blocks_target(BLOCKED, POLICY)


def test_exhausted_retries_block() -> None:
    status = record("x", Phase.FAILED, finished=NOW, ran=False, failures=5).status
    assert blocks_target(status, POLICY)
    assert not blocks_target(
        record("x", Phase.FAILED, finished=NOW, ran=False, failures=4).status, POLICY
    )


def test_annotation_with_reason_clears() -> None:
    result = requested_clearance(
        {CLEAR_ANNOTATION: " checked the deployment ", CLEARED_BY_ANNOTATION: "alice"},
        BLOCKED,
        now=NOW,
        policy=POLICY,
    )
    assert result == BlockClearance(
        cleared_at=NOW, cleared_by="alice", clear_reason="checked the deployment"
    )


def test_empty_reason_is_refused_naming_the_annotation() -> None:
    result = requested_clearance({CLEAR_ANNOTATION: "  "}, BLOCKED, now=NOW, policy=POLICY)
    assert isinstance(result, Problem)
    assert CLEAR_ANNOTATION in result.field


def test_clearing_what_does_not_block_is_refused() -> None:
    done = record("x", Phase.COMPLETED, finished=NOW).status
    assert isinstance(
        requested_clearance({CLEAR_ANNOTATION: "why"}, done, now=NOW, policy=POLICY), Problem
    )


def test_no_annotation_or_already_cleared_means_nothing_to_do() -> None:
    assert requested_clearance({}, BLOCKED, now=NOW, policy=POLICY) is None
    cleared = record("x", Phase.FAILED, finished=NOW, cleared=True).status
    assert requested_clearance({CLEAR_ANNOTATION: "again"}, cleared, now=NOW, policy=POLICY) is None
    assert not blocks_target(cleared, POLICY)
