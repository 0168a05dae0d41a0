"""The table of Tekton's reasons (tests/tekton_reasons.py) against the corpus and the
classifier: every reason Tekton writes has a corpus case showing it where Tekton writes it, the
corpus holds no reason the table does not know, and the failure analysis reads each reason as
the table says."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from corpus import Json, load, names
from tekton_reasons import NOT_WRITTEN, PLACES, REASONS, TRANSIENT, Reason
from wfe.core import reasons as core_reasons
from wfe.core.failure import analyse
from wfe.tekton.status import read_evidence

from builders import NOW

_PREVIOUS = re.compile(r"Previous status: \[([A-Za-z]+)\]")


def _conditions(obj: Json) -> list[Json]:
    return [c for c in obj.get("status", {}).get("conditions", []) if c["type"] == "Succeeded"]


def occurrences(doc: Json) -> Iterator[tuple[str, str]]:
    """Every (place, reason) a corpus document holds."""
    for cond in _conditions(doc["pipelineRun"]):
        yield "PipelineRun", cond["reason"]
    for task_run in doc["taskRuns"]:
        for cond in _conditions(task_run):
            yield "TaskRun", cond["reason"]
            for earlier in _PREVIOUS.findall(cond.get("message", "")):
                yield "TaskRun.previous", earlier
        status = task_run["status"]
        for container in [*status.get("steps", []), *status.get("sidecars", [])]:
            terminated = container.get("terminated", {})
            if "reason" in terminated:
                yield "container.terminated", terminated["reason"]
            if "reason" in container.get("waiting", {}):
                yield "container.waiting", container["waiting"]["reason"]
            # terminationReason is a copy of terminated.reason unless the entrypoint said more.
            copy = container.get("terminationReason")
            if copy and copy != terminated.get("reason"):
                yield "step.terminationReason", copy


CORPUS = {name: set(occurrences(load(name))) for name in names()}


def _id(r: Reason) -> str:
    return f"{r.where}:{r.name}" + (":example" if r.example else "")


def test_the_table_is_well_formed() -> None:
    rows = [*REASONS, *TRANSIENT, *NOT_WRITTEN]
    assert all(r.where in PLACES for r in rows)
    keys = [(r.where, r.name, r.example) for r in rows]
    assert len(keys) == len(set(keys))
    assert all(r.why for r in (*TRANSIENT, *NOT_WRITTEN))
    assert all(r.cases and not r.why for r in REASONS)
    # A reason is written, transient or not written, never two of these.
    written = {(r.where, r.name) for r in REASONS}
    assert not written & {(r.where, r.name) for r in NOT_WRITTEN}
    assert not {(r.where, r.name) for r in TRANSIENT} & {(r.where, r.name) for r in NOT_WRITTEN}


@pytest.mark.parametrize("row", REASONS, ids=_id)
def test_every_reason_has_a_corpus_case_showing_it(row: Reason) -> None:
    for case in row.cases:
        assert case in CORPUS, f"{row.name}: no corpus document {case}"
        assert (row.where, row.name) in CORPUS[case], f"{case} does not hold {row.name}"


def test_the_corpus_holds_no_reason_the_table_does_not_know() -> None:
    known = {(r.where, r.name) for r in (*REASONS, *TRANSIENT)}
    unknown = {(case, o) for case, found in CORPUS.items() for o in found if o not in known}
    assert not unknown


def test_reasons_said_not_to_be_written_are_not_in_the_corpus() -> None:
    never = {(r.where, r.name) for r in NOT_WRITTEN}
    assert not {o for found in CORPUS.values() for o in found} & never


@pytest.mark.parametrize("row", [r for r in REASONS if r.source.startswith("pkg/")], ids=_id)
def test_a_case_cites_the_source_file_of_its_reason(row: Reason) -> None:
    path = row.source.split()[0]
    assert any(path in load(case)["source"] for case in row.cases), (row.name, path)


@pytest.mark.parametrize("name", names())
def test_every_document_names_its_tekton_source(name: str) -> None:
    source = load(name)["source"]
    assert source.startswith("tektoncd/pipeline v1.15 ")
    assert re.search(r"\bpkg/[a-z0-9/_]+\.go\b", source)


@pytest.mark.parametrize("row", [r for r in REASONS if r.ran is not None], ids=_id)
def test_what_ran_agrees_with_the_cases(row: Reason) -> None:
    for case in row.cases:
        expected = load(case)["expected"]
        if expected["phase"] == "Failed":
            assert expected["wasExecutionFailure"] is row.ran, case


# -- the classifier reads each reason as the table says ---------------------------------------

_T0 = "2026-03-04T09:00:00Z"
_T5 = "2026-03-04T09:00:05Z"
_T9 = "2026-03-04T09:00:09Z"


def _condition(status: str, reason: str, message: str) -> Json:
    return {"type": "Succeeded", "status": status, "reason": reason, "message": message}


def _task_run(reason: str, message: str, **status: Any) -> Json:
    return {
        "metadata": {
            "name": "wfe-0123456789abcdef-apply",
            "creationTimestamp": _T0,
            "labels": {"tekton.dev/pipelineTask": "apply"},
        },
        "status": {"conditions": [_condition("False", reason, message)], **status},
    }


def _minimal(row: Reason) -> tuple[Json, list[Json]]:
    """The least a PipelineRun and its TaskRun hold with this reason where Tekton writes it."""
    text = row.example or ""
    pr_reason, pr_message = "Failed", "Tasks Completed: 1 (Failed: 1, Cancelled 0), Skipped: 1"
    task_runs: list[Json] = []
    if row.where == "PipelineRun":
        pr_reason, pr_message = row.name, text
    elif row.where == "TaskRun":
        task_runs.append(_task_run(row.name, text))
    elif row.where == "TaskRun.previous":
        pr_reason = "PipelineRunTimeout"
        pr_message = 'PipelineRun "wfe-0123456789abcdef" failed to finish within "1h0m0s"'
        message = (
            'TaskRun "wfe-0123456789abcdef-apply" was cancelled. TaskRun cancelled as the '
            f"PipelineRun it belongs to has timed out.\nPrevious status: [{row.name}] {text}"
        )
        task_runs.append(_task_run("TaskRunCancelled", message))
    else:
        state: Json
        step: Json = {"name": "apply", "container": "step-apply"}
        if row.where == "container.waiting":
            state = {"waiting": {"reason": row.name, "message": text}}
        elif row.where == "step.terminationReason":
            state = {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": _T5}}
            step["terminationReason"] = row.name
        elif row.with_ == row.name:  # what terminateStepsInPod writes
            message = "Step apply terminated as pod wfe-0123456789abcdef-apply-pod is terminated"
            state = {"terminated": {"exitCode": 1, "reason": row.name, "message": message,
                                    "startedAt": _T5, "finishedAt": _T9}}  # fmt: skip
            step["terminationReason"] = row.name
        else:
            state = {"terminated": {"exitCode": 1, "reason": row.name, "startedAt": _T5}}
        assert row.with_ is not None, row
        task_runs.append(_task_run(row.with_, text, steps=[{**state, **step}]))
    pipeline_run = {
        "metadata": {"name": "wfe-0123456789abcdef"},
        "status": {
            "conditions": [_condition("False", pr_reason, pr_message)],
            "startTime": _T0,
            "completionTime": _T9,
        },
    }
    return pipeline_run, task_runs


CLASSIFIED = [r for r in (*REASONS, *TRANSIENT, *NOT_WRITTEN) if r.cls is not None]


@pytest.mark.parametrize("row", CLASSIFIED, ids=_id)
def test_the_classifier_reads_each_reason_as_the_table_says(row: Reason) -> None:
    pipeline_run, task_runs = _minimal(row)
    details = analyse(read_evidence(pipeline_run, task_runs), now=NOW)
    assert details.reason is row.cls
    if row.where != "PipelineRun":
        assert details.failed_task_name == "apply"


def test_the_classifier_knows_every_reason_in_the_table_and_no_other() -> None:
    rows = (*REASONS, *TRANSIENT, *NOT_WRITTEN)
    conditions = {r.name for r in rows if r.where in ("PipelineRun", "TaskRun", "TaskRun.previous")}
    containers = {r.name for r in rows if r.where.startswith("container.")}
    entrypoint = {r.name for r in rows if r.where == "step.terminationReason"}
    assert set(core_reasons.TEKTON) == conditions
    # A container's reason is the kubelet's, or the TaskRun's that terminateStepsInPod copies.
    synthetic = {r.name for r in rows if r.where == "container.terminated" and r.with_ == r.name}
    assert synthetic | {"TaskRunResultLargerThanAllowedLimit"} == core_reasons.SYNTHETIC_STEP
    assert set(core_reasons.CONTAINER) <= containers
    assert containers - set(core_reasons.CONTAINER) <= synthetic
    assert set(core_reasons.TERMINATION) <= entrypoint
