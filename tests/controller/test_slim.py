"""Slimmed cache objects give exactly the same failure evidence as full ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wfe.controller.slim import slim_object, slim_pipeline_run, slim_task_run
from wfe.tekton.status import read_evidence

CORPUS = sorted((Path(__file__).parent.parent / "core" / "tekton_corpus").glob("*.json"))


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_same_evidence_and_smaller(path: Path) -> None:
    doc = json.loads(path.read_text())
    full = read_evidence(doc["pipelineRun"], doc["taskRuns"])
    pr = slim_pipeline_run(doc["pipelineRun"])
    trs = [slim_task_run(t) for t in doc["taskRuns"]]
    assert read_evidence(pr, trs) == full
    before = len(json.dumps([doc["pipelineRun"], doc["taskRuns"]]))
    after = len(json.dumps([pr, trs]))
    assert after <= before


def test_managed_fields_dropped_without_touching_the_input() -> None:
    obj = {"metadata": {"name": "a", "managedFields": [{"manager": "x"}]}, "spec": {}}
    slim = slim_object(obj)
    assert slim == {"metadata": {"name": "a"}, "spec": {}}
    assert "managedFields" in obj["metadata"]
