"""SPEC §4 step 4: adopt, skip as busy, or release a stale lock — never someone else's live run."""

from __future__ import annotations

from datetime import timedelta

from wfe.api.enums import Phase, SkipReason
from wfe.core.contention import (
    OWNER_LABEL,
    OWNER_NAME_ANNOTATION,
    OWNER_NAMESPACE_ANNOTATION,
    OWNER_NAMESPACE_LABEL,
    Adopt,
    Busy,
    ExistingLock,
    ReleaseStale,
    owned_by,
    owner_of,
    resolve_existing,
)
from wfe.core.history import WfeRecord
from wfe.core.policy import Policy

from builders import NOW, record

POLICY = Policy()
MINE = {"kubernaut.ai/workflow-execution": "me", "kubernaut.ai/source-namespace": "default"}
THEIRS = {"kubernaut.ai/workflow-execution": "them", "kubernaut.ai/source-namespace": "team"}


ME = record("me", None)


def resolve(labels: dict[str, str] | None, *, finished: bool, owner: WfeRecord | None) -> object:
    existing = ExistingLock(labels=labels or {}, annotations={}, finished=finished)
    return resolve_existing(ME, existing, owner, now=NOW, policy=POLICY)


def test_own_pipeline_run_is_adopted() -> None:
    assert resolve(MINE, finished=False, owner=None) == Adopt()


def test_ownership_needs_both_labels() -> None:
    assert not owned_by({"kubernaut.ai/workflow-execution": "me"}, namespace="default", name="me")
    assert not owned_by(
        {**MINE, "kubernaut.ai/source-namespace": "other"}, namespace="default", name="me"
    )
    assert not owned_by(None, namespace="default", name="me")


def test_running_pipeline_run_is_busy_even_without_owner() -> None:
    result = resolve(THEIRS, finished=False, owner=None)
    assert isinstance(result, Busy)
    assert result.details.reason is SkipReason.RESOURCE_BUSY
    assert result.details.conflicting_workflow is not None
    assert result.details.conflicting_workflow.name == "them"


def test_finished_run_of_vanished_owner_is_stale() -> None:
    result = resolve(THEIRS, finished=True, owner=None)
    assert isinstance(result, ReleaseStale)
    assert (result.owner_namespace, result.owner_name) == ("team", "them")


def test_finished_run_inside_owner_cooldown_is_busy() -> None:
    owner = record("them", Phase.COMPLETED, namespace="team", finished=NOW - timedelta(minutes=1))
    assert isinstance(resolve(THEIRS, finished=True, owner=owner), Busy)


def test_finished_run_past_owner_release_time_is_stale() -> None:
    owner = record("them", Phase.COMPLETED, namespace="team", finished=NOW - timedelta(minutes=6))
    assert isinstance(resolve(THEIRS, finished=True, owner=owner), ReleaseStale)


def test_owner_still_running_is_busy_even_if_run_finished() -> None:
    owner = record("them", Phase.RUNNING, namespace="team", started=NOW - timedelta(minutes=6))
    assert isinstance(resolve(THEIRS, finished=True, owner=owner), Busy)


def test_unlabelled_run_is_never_adopted() -> None:
    assert isinstance(resolve(None, finished=False, owner=None), Busy)


UID = {"kubernaut.ai/workflow-execution-uid": "uid-old"}


def test_a_recreated_namesake_neither_adopts_nor_owns_its_predecessors_run() -> None:
    assert not owned_by(MINE, namespace="default", name="me", annotations=UID, uid="uid-new")
    assert owned_by(MINE, namespace="default", name="me", annotations=UID, uid="uid-old")
    assert owned_by(MINE, namespace="default", name="me", annotations={}, uid="uid-new")
    # The candidate is the new incarnation (uid-default-me); the run records uid-old.
    existing = ExistingLock(labels=MINE, annotations=UID, finished=True)
    result = resolve_existing(ME, existing, record("me", None), now=NOW, policy=POLICY)
    assert isinstance(result, ReleaseStale)  # its owner is gone: a stale lock


def test_a_running_predecessor_run_keeps_the_target_busy() -> None:
    # The candidate is the new incarnation (uid-default-me); the run records uid-old.
    existing = ExistingLock(labels=MINE, annotations=UID, finished=False)
    result = resolve_existing(ME, existing, record("me", None), now=NOW, policy=POLICY)
    assert isinstance(result, Busy)


def test_owner_is_read_from_the_annotations_first() -> None:
    long_name = "x" * 200
    labels = {OWNER_LABEL: "x" * 40 + "-0123456789abcdef", OWNER_NAMESPACE_LABEL: "team"}
    annotations = {OWNER_NAME_ANNOTATION: long_name, OWNER_NAMESPACE_ANNOTATION: "team"}
    assert owner_of(labels, annotations) == ("team", long_name)
    assert owned_by(labels, namespace="team", name=long_name, annotations=annotations)
    # The shortened label value alone names nobody real.
    assert not owned_by(labels, namespace="team", name=labels[OWNER_LABEL], annotations=annotations)


def test_runs_without_owner_annotations_fall_back_to_the_labels() -> None:
    labels = {OWNER_LABEL: "a", OWNER_NAMESPACE_LABEL: "team"}
    assert owner_of(labels, {}) == ("team", "a")
    assert owner_of({}, {}) is None


def test_a_deleted_lock_of_a_vanished_owner_is_let_go_even_unfinished() -> None:
    existing = ExistingLock(labels=THEIRS, annotations={}, finished=False, deleting=True)
    result = resolve_existing(ME, existing, None, now=NOW, policy=POLICY)
    assert isinstance(result, ReleaseStale)


def test_a_deleted_lock_whose_owner_lives_waits_for_the_owner_to_record_it() -> None:
    existing = ExistingLock(labels=THEIRS, annotations={}, finished=False, deleting=True)
    owner = record("them", Phase.RUNNING, namespace="team")
    assert isinstance(resolve_existing(ME, existing, owner, now=NOW, policy=POLICY), Busy)
