"""SPEC §6 on real Tekton v1 shapes: every corpus document is read and judged as expected.

The corpus (tests/core/tekton_corpus, see its README) holds PipelineRun and TaskRun documents
shaped as Tekton v1.15 writes them, with the analysis each must produce.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wfe.api.enums import Phase
from wfe.api.models import LocalObjectReference, WorkflowExecutionStatus
from wfe.core.policy import Policy
from wfe.core.progress import observe
from wfe.tekton.status import read_evidence

from builders import NOW

CORPUS = Path(__file__).parent.parent / "core" / "tekton_corpus"
CASES = sorted(CORPUS.glob("*.json"))


def test_corpus_is_there() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_analysis_matches_expectation(path: Path) -> None:
    doc: dict[str, Any] = json.loads(path.read_text())
    expected = doc["expected"]
    evidence = read_evidence(doc["pipelineRun"], doc["taskRuns"])
    running = WorkflowExecutionStatus(
        phase=Phase.RUNNING,
        start_time=evidence.start_time or NOW,
        pipeline_run_ref=LocalObjectReference(name=doc["pipelineRun"]["metadata"]["name"]),
    )
    out = observe(running, evidence, now=NOW, policy=Policy()).status
    assert out.phase is Phase(expected["phase"])
    summary = out.pipeline_run_status
    assert summary is not None
    assert (summary.completed_tasks, summary.total_tasks) == (
        expected["completedTasks"],
        expected["totalTasks"],
    )
    details = out.failure_details
    if expected["phase"] != "Failed":
        assert details is None
        return
    assert details is not None
    got = {
        "reason": str(details.reason),
        "wasExecutionFailure": details.was_execution_failure,
        "failedTaskIndex": details.failed_task_index,
        "failedTaskName": details.failed_task_name,
        "failedTaskRunName": details.failed_task_run_name,
        "failedStepName": details.failed_step_name,
        "exitCode": details.exit_code,
    }
    assert got == {k: expected[k] for k in got}
    assert details.natural_language_summary
    assert details.message
    assert details.failed_at is not None
