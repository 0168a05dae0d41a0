"""The failure analysis (SPEC §6) judges the Tekton simulator's runs as it judges the corpus.

For every simulator scenario, the finished run it writes is read (``wfe.tekton.status``) and
observed (``wfe.core.progress``) like a real one, and the outcome must be the ``expected`` of
the corpus document the scenario is compared with (tests/core/tekton_corpus/README.md): the
controller's tests that rehearse a failure on the simulator then rehearse what it would conclude
on Tekton itself.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_tekton_scenarios import CASES, run

from corpus import Json, load, request
from wfe.api.enums import Phase
from wfe.api.models import LocalObjectReference, WorkflowExecutionStatus
from wfe.core.policy import Policy
from wfe.core.progress import observe
from wfe.dev.tekton_scenarios import Scenario
from wfe.tekton.status import read_evidence

from builders import NOW


def _judged(pipeline_run: Json, task_runs: list[Json]) -> dict[str, Any]:
    evidence = read_evidence(pipeline_run, task_runs)
    running = WorkflowExecutionStatus(
        phase=Phase.RUNNING,
        start_time=evidence.start_time or NOW,
        pipeline_run_ref=LocalObjectReference(name=pipeline_run["metadata"]["name"]),
    )
    out = observe(running, evidence, now=NOW, policy=Policy()).status
    summary = out.pipeline_run_status
    assert summary is not None
    got: dict[str, Any] = {
        "phase": out.phase.value,
        "completedTasks": summary.completed_tasks,
        "totalTasks": summary.total_tasks,
    }
    details = out.failure_details
    if details is not None:
        got |= {
            "reason": str(details.reason),
            "wasExecutionFailure": details.was_execution_failure,
            "failedTaskIndex": details.failed_task_index,
            "failedTaskName": details.failed_task_name,
            "failedTaskRunName": details.failed_task_run_name,
            "failedStepName": details.failed_step_name,
            "exitCode": details.exit_code,
        }
    return got


@pytest.mark.parametrize("scenario", list(CASES), ids=lambda s: s.value)
def test_the_simulated_run_is_judged_as_its_corpus_document(scenario: Scenario) -> None:
    name, elapsed, stop = CASES[scenario]
    doc = load(name)
    pr = request(doc)
    state = run(scenario, pr, elapsed, stop)
    got = _judged({**pr, "status": state.status}, list(state.task_runs))
    expected = {k: v for k, v in doc["expected"].items() if k in got or k == "reason"}
    assert got == expected
