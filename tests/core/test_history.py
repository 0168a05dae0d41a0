"""Records built from raw WorkflowExecution objects; bad objects name the bad field."""

from __future__ import annotations

from typing import Any

import pytest

from wfe.api.enums import Phase
from wfe.core import history
from wfe.core.errors import InvalidInput, join
from wfe.core.history import record_from_object

from builders import TARGET, spec


def obj(**status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "WorkflowExecution",
        "metadata": {
            "name": "a",
            "namespace": "default",
            "uid": "u-1",
            "creationTimestamp": "2026-11-27T10:00:00Z",
        },
        "spec": spec(),
        "status": status,
    }


def test_reads_upstream_shaped_object_with_unknown_fields() -> None:
    raw = obj(
        phase="Failed",
        completionTime="2026-11-27T10:05:00Z",
        consecutiveFailures=2,
        failureDetails={"reason": "TaskFailed", "message": "x", "wasExecutionFailure": True},
        someUpstreamOnlyField={"a": 1},
    )
    record = record_from_object(raw)
    assert record.key == "default/a"
    assert record.phase is Phase.FAILED
    assert record.target == "payment/Deployment/payment-api"
    assert record.workflow_id == "restart-pod"
    assert record.status.consecutive_failures == 2
    assert record.finished_at is not None
    assert record.finished_at.isoformat() == "2026-11-27T10:05:00+00:00"
    assert not record.deleting


def test_new_object_without_status() -> None:
    raw = obj()
    del raw["status"]
    record = record_from_object(raw)
    assert record.phase is None
    assert record.finished_at == record.created


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda o: o.update(metadata=None), "metadata"),
        (lambda o: o["metadata"].pop("name"), "metadata.name"),
        (lambda o: o["metadata"].update(creationTimestamp="yesterday"), "creationTimestamp"),
        (lambda o: o["status"].update(phase="Exploded"), "status.phase"),
        (lambda o: o["status"].update(consecutiveFailures=-1), "status.consecutiveFailures"),
        (lambda o: o["status"].update(startTime="soon"), "status.startTime"),
    ],
)
def test_malformed_objects_name_the_field(mutate: Any, field: str) -> None:
    raw = obj(phase="Running")
    mutate(raw)
    with pytest.raises(InvalidInput) as info:
        record_from_object(raw)
    assert field in str(info.value)
    assert field in join(info.value.problems)


def test_spec_oddities_do_not_break_records() -> None:
    raw = obj()
    raw["spec"] = {"targetResource": 42, "workflowRef": "nope"}
    record = record_from_object(raw)
    assert record.target is None
    assert record.workflow_id is None


def test_peers_on_target_skips_others_unparsed_and_fails_closed_on_an_unreadable_one() -> None:
    running = obj(phase="Running")
    skipped = obj(phase="Skipped", consecutiveFailures="not a number")  # never parsed
    other = obj(phase="Running")
    other["spec"] = spec("payment/Deployment/other")
    (peer,) = history.peers_on_target([running, skipped, other], TARGET)
    assert peer.phase is Phase.RUNNING
    broken = obj(phase="Failed", consecutiveFailures="not a number")
    with pytest.raises(history.UnreadablePeer) as caught:
        history.peers_on_target([running, broken], TARGET)
    assert caught.value.key == "default/a"
