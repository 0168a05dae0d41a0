"""Reading step and sidecar states: what ran, whose exit code it is, what Tekton wrote itself
(the corpus, tests/core/tekton_corpus, has each shape in a whole document)."""

from __future__ import annotations

from typing import Any

from wfe.core.failure import TaskRunEvidence
from wfe.tekton.status import read_evidence

CREATED = "2026-03-04T09:00:03Z"
POD = "wfe-0123456789abcdef-apply-pod"


def _read(
    *steps: dict[str, Any], sidecars: tuple[dict[str, Any], ...] = (), message: str = ""
) -> TaskRunEvidence:
    task_run = {
        "metadata": {
            "name": "wfe-0123456789abcdef-apply",
            "creationTimestamp": CREATED,
            "labels": {"tekton.dev/pipelineTask": "apply"},
        },
        "status": {
            "conditions": [
                {"type": "Succeeded", "status": "False", "reason": "X", "message": message}
            ],
            "steps": list(steps),
            "sidecars": list(sidecars),
        },
    }
    pipeline_run = {"metadata": {"name": "wfe-0123456789abcdef"}, "status": {}}
    (evidence,) = read_evidence(pipeline_run, [task_run]).task_runs
    return evidence


def _stopped(reason: str, started_at: str) -> dict[str, Any]:
    """What taskrun.go terminateStepsInPod writes over a running or waiting step."""
    return {
        "terminated": {
            "exitCode": 1,
            "reason": reason,
            "message": f"Step apply terminated as pod {POD} is terminated",
            "startedAt": started_at,
            "finishedAt": "2026-03-04T09:05:00Z",
        },
        "name": "apply",
        "container": "step-apply",
        "terminationReason": reason,
    }


def test_a_step_tekton_stopped_while_it_waited_did_not_run() -> None:
    task_run = _read(_stopped("CreateContainerConfigError", CREATED))
    (evidence,) = task_run.steps
    assert (evidence.started, evidence.exit_code, evidence.message) == (False, None, None)
    assert evidence.terminated_reason == "CreateContainerConfigError"
    assert task_run.ran is False


def test_a_step_tekton_stopped_while_it_ran_did_run_with_no_exit_code_of_its_own() -> None:
    for step in (
        _stopped("TaskRunTimeout", "2026-03-04T09:00:08Z"),
        # Started within the second the TaskRun was created: its container exists (imageID).
        {**_stopped("TaskRunTimeout", CREATED), "imageID": "img@sha256:1"},
    ):
        task_run = _read(step)
        (evidence,) = task_run.steps
        assert (evidence.started, evidence.exit_code) == (True, None)
        assert task_run.ran is True


def test_a_kubelet_state_with_a_tekton_reason_is_not_mistaken_for_tektons() -> None:
    step = {
        "terminated": {"exitCode": 1, "reason": "TaskRunCancelled", "startedAt": CREATED},
        "name": "apply",
    }
    (evidence,) = _read(step).steps
    assert evidence.exit_code == 1  # no terminateStepsInPod message and no copied reason


def test_a_step_the_runtime_could_not_start_did_not_run() -> None:
    step = {
        "terminated": {
            "exitCode": 128,
            "reason": "StartError",
            "message": "failed to create containerd task: ...",
            "startedAt": "1970-01-01T00:00:00Z",
            "finishedAt": "2026-03-04T09:00:09Z",
        },
        "name": "apply",
        "imageID": "img@sha256:1",
    }
    task_run = _read(step)
    (evidence,) = task_run.steps
    assert (evidence.started, evidence.exit_code) == (False, None)
    assert evidence.message == "failed to create containerd task: ..."
    assert task_run.ran is False


def test_the_entrypoints_exit_codes_are_not_the_steps() -> None:
    def terminated(reason: str) -> dict[str, Any]:
        return {
            "terminated": {"exitCode": 1, "reason": "Error", "startedAt": "2026-03-04T09:00:07Z"},
            "name": reason.lower(),
            "terminationReason": reason,
        }

    timed_out, skipped, failed = _read(
        terminated("TimeoutExceeded"), terminated("Skipped"), terminated("Error")
    ).steps
    assert (timed_out.exit_code, skipped.exit_code, failed.exit_code) == (None, None, 1)
    assert timed_out.termination_reason == "TimeoutExceeded"
    assert not skipped.counts
    assert failed.counts


def test_a_step_only_prepared_has_no_state() -> None:
    task_run = _read({"name": "apply", "provenance": {}})
    (evidence,) = task_run.steps
    assert evidence.started is False
    assert (evidence.terminated_reason, evidence.waiting_reason, evidence.exit_code) == (
        None,
        None,
        None,
    )


def test_sidecars_are_read_as_sidecars() -> None:
    sidecar = {
        "waiting": {"reason": "CreateContainerConfigError", "message": 'secret "s" not found'},
        "name": "proxy",
        "container": "sidecar-proxy",
    }
    task_run = _read({"running": {"startedAt": "2026-03-04T09:00:08Z"}, "name": "apply"},
                     sidecars=(sidecar,))  # fmt: skip
    (evidence,) = task_run.sidecars
    assert (evidence.name, evidence.sidecar, evidence.started) == ("proxy", True, False)
    assert evidence.message == 'secret "s" not found'
    # The step's entrypoint waits for every sidecar: its command never ran.
    assert task_run.ran is False


def test_what_a_task_run_showed_before_it_was_stopped() -> None:
    message = (
        'TaskRun "x" failed to finish within "10m0s"\n'
        "Previous status: [ExceededNodeResources] TaskRun Pod exceeded available resources"
    )
    task_run = _read(message=message)
    assert task_run.earlier_reasons == ("ExceededNodeResources",)
    assert task_run.earlier_message == "TaskRun Pod exceeded available resources"
