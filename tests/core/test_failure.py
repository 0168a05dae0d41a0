"""SPEC §6 failure analysis on hand-built evidence (the Tekton corpus tests cover real shapes,
tests/core/test_tekton_reasons.py every reason Tekton writes)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from wfe.api.enums import FailureReason
from wfe.core.failure import RunEvidence, StepEvidence, TaskRunEvidence, analyse, classify_words

from builders import NOW


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("container OOMKilled", FailureReason.OOM_KILLED),
        ("process ran out of memory", FailureReason.OOM_KILLED),
        ('pods "x" is forbidden: User cannot create', FailureReason.FORBIDDEN),
        ("exceeded quota: compute-resources", FailureReason.RESOURCE_EXHAUSTED),
        ("0/3 nodes available: insufficient memory", FailureReason.RESOURCE_EXHAUSTED),
        ("context deadline exceeded", FailureReason.DEADLINE_EXCEEDED),
        ('TaskRun "x" failed to finish within "1h0m0s"', FailureReason.DEADLINE_EXCEEDED),
        ("Back-off pulling image: ImagePullBackOff", FailureReason.IMAGE_PULL_BACK_OFF),
        # A quota refusal also says forbidden: the quota is the cause.
        (
            'pods "x" is forbidden: exceeded quota: q, requested: cpu=2',
            FailureReason.RESOURCE_EXHAUSTED,
        ),
        (
            "0/3 nodes are available: 3 node(s) had untolerated taint",
            FailureReason.RESOURCE_EXHAUSTED,
        ),
        ("Node didn't have enough resource: cpu", FailureReason.RESOURCE_EXHAUSTED),
        ('admission webhook "w" denied the request: no', FailureReason.FORBIDDEN),
        ("the request was denied", None),
        ("nodes available: 3", None),
        ("no room left in the zoom meeting", None),
        ("forbiddenfruit module missing", None),
        ("boomerang", None),
        ("", None),
        (None, None),
    ],
)
def test_words_not_substrings(text: str | None, reason: FailureReason | None) -> None:
    assert classify_words(text) is reason


def _run(*task_runs: TaskRunEvidence, reason: str = "Failed", message: str = "") -> RunEvidence:
    return RunEvidence(
        name="wfe-0123456789abcdef",
        succeeded=False,
        reason=reason,
        message=message or "Tasks Completed: 1 (Failed: 1, Cancelled 0), Skipped: 0",
        start_time=NOW - timedelta(minutes=3),
        completion_time=NOW,
        total_tasks=2,
        task_runs=task_runs,
    )


def _task(
    name: str, index: int, *steps: StepEvidence, ok: bool | None = False, **kw: object
) -> TaskRunEvidence:
    fields: dict[str, object] = {"completion_time": NOW - timedelta(seconds=30), **kw}
    return TaskRunEvidence(
        name=f"wfe-0123456789abcdef-{name}",
        pipeline_task=name,
        index=index,
        succeeded=ok,
        steps=steps,
        **fields,  # type: ignore[arg-type]
    )


def test_step_reason_beats_messages() -> None:
    step = StepEvidence(name="apply", started=True, exit_code=137, terminated_reason="OOMKilled")
    details = analyse(
        _run(_task("fix", 0, step, reason="Failed", message="forbidden words here")), now=NOW
    )
    assert details.reason is FailureReason.OOM_KILLED
    assert (details.failed_task_name, details.failed_step_name, details.exit_code) == (
        "fix",
        "apply",
        137,
    )
    assert details.failed_task_index == 0
    assert details.was_execution_failure is True
    assert details.execution_time_before_failure == "2m30s"
    assert details.natural_language_summary is not None
    assert "fix" in details.natural_language_summary


def test_first_failed_task_wins_and_index_reported() -> None:
    ok = _task("check", 0, StepEvidence(name="s", started=True, exit_code=0), ok=True)
    bad = _task("apply", 1, StepEvidence(name="kubectl", started=True, exit_code=2))
    details = analyse(_run(ok, bad), now=NOW)
    assert details.reason is FailureReason.TASK_FAILED
    assert details.failed_task_index == 1
    assert details.exit_code == 2


def test_nothing_ran_is_not_an_execution_failure() -> None:
    waiting = StepEvidence(name="s", waiting_reason="ImagePullBackOff", message="Back-off")
    details = analyse(_run(_task("fix", 0, waiting, reason="TaskRunImagePullFailed")), now=NOW)
    assert details.reason is FailureReason.IMAGE_PULL_BACK_OFF
    assert details.was_execution_failure is False
    assert details.failed_step_name == "s"


def test_pipeline_level_configuration_failure_without_task_runs() -> None:
    details = analyse(
        _run(reason="CouldntGetPipeline", message="Error retrieving pipeline: bundle not found"),
        now=NOW,
    )
    assert details.reason is FailureReason.CONFIGURATION_ERROR
    assert details.was_execution_failure is False
    assert details.failed_task_name is None
    assert "bundle not found" in details.message


def test_cancelled_is_unknown_and_counts_as_ran_when_steps_ran() -> None:
    step = StepEvidence(name="s", started=True, exit_code=1, terminated_reason="TaskRunCancelled")
    details = analyse(
        _run(_task("fix", 0, step, reason="TaskRunCancelled"), reason="Cancelled"), now=NOW
    )
    assert details.reason is FailureReason.UNKNOWN
    assert details.was_execution_failure is True


def test_no_evidence_at_all_is_unknown() -> None:
    details = analyse(RunEvidence(name="x", succeeded=False, reason=None, message=None), now=NOW)
    assert details.reason is FailureReason.UNKNOWN
    assert details.failed_at == NOW
    assert details.message


def test_what_a_task_run_showed_before_its_timeout_is_the_cause() -> None:
    task = _task(
        "apply",
        0,
        reason="TaskRunTimeout",
        message='TaskRun "x" failed to finish within "10m0s"\nPrevious status: '
        "[ExceededNodeResources] TaskRun Pod exceeded available resources",
        earlier_reasons=("ExceededNodeResources",),
    )
    details = analyse(_run(task), now=NOW)
    assert details.reason is FailureReason.RESOURCE_EXHAUSTED
    assert details.was_execution_failure is False
    assert details.natural_language_summary is not None
    assert "ExceededNodeResources" in details.natural_language_summary


def test_a_generic_earlier_reason_is_read_by_its_own_words_only() -> None:
    def cancelled(earlier: str) -> TaskRunEvidence:
        message = (
            'TaskRun "x" was cancelled. TaskRun cancelled as the PipelineRun it belongs to has '
            f"timed out.\nPrevious status: [Pending] {earlier}"
        )
        return _task(
            "apply", 0, reason="TaskRunCancelled", message=message,
            earlier_reasons=("Pending",), earlier_message=earlier,
        )  # fmt: skip

    timeout = {"reason": "PipelineRunTimeout", "message": 'PipelineRun "p" failed to finish'}
    unschedulable = 'pod status "PodScheduled":"False"; message: "0/3 nodes are available"'
    details = analyse(_run(cancelled(unschedulable), **timeout), now=NOW)
    assert details.reason is FailureReason.RESOURCE_EXHAUSTED
    # Pending alone says nothing: the timeout it ended in is what is known.
    details = analyse(_run(cancelled("Pending"), **timeout), now=NOW)
    assert details.reason is FailureReason.DEADLINE_EXCEEDED


def test_a_task_run_still_pending_when_the_pipeline_run_timed_out_is_named() -> None:
    done = _task("check", 0, StepEvidence(name="s", started=True, exit_code=0), ok=True)
    pulling = _task(
        "apply", 1, StepEvidence(name="apply", waiting_reason="ImagePullBackOff"),
        ok=None, reason="PullImageFailed", completion_time=None,
    )  # fmt: skip
    details = analyse(_run(done, pulling, reason="PipelineRunTimeout"), now=NOW)
    assert (details.failed_task_name, details.failed_task_index) == ("apply", 1)
    assert details.failed_task_run_name == "wfe-0123456789abcdef-apply"
    assert details.failed_step_name == "apply"
    assert details.reason is FailureReason.IMAGE_PULL_BACK_OFF
    assert details.was_execution_failure is True  # "check" ran


def test_an_ignored_failure_is_not_the_failure() -> None:
    ignored = _task(
        "backup", 0, StepEvidence(name="backup", started=True, exit_code=1),
        reason="FailureIgnored",
    )  # fmt: skip
    failed = _task(
        "apply", 1, StepEvidence(name="apply", started=True, exit_code=2),
        reason="StepFailed", completion_time=NOW,
    )  # fmt: skip
    details = analyse(_run(ignored, failed), now=NOW)
    assert (details.failed_task_name, details.exit_code) == ("apply", 2)


def test_skipped_and_ignored_steps_are_not_the_failed_step() -> None:
    drain = StepEvidence(
        name="drain", started=True, exit_code=3, terminated_reason="Completed",
        termination_reason="Continued",
    )  # fmt: skip
    apply = StepEvidence(name="apply", started=True, exit_code=2, terminated_reason="Error")
    after = StepEvidence(name="after", started=True, terminated_reason="Error",
                         termination_reason="Skipped")  # fmt: skip
    details = analyse(_run(_task("fix", 0, drain, apply, after, reason="StepFailed")), now=NOW)
    assert (details.failed_step_name, details.exit_code) == ("apply", 2)
    assert details.reason is FailureReason.TASK_FAILED


def test_a_step_past_its_own_timeout_is_deadline_exceeded_and_named() -> None:
    first = StepEvidence(
        name="apply", started=True, terminated_reason="Error", termination_reason="TimeoutExceeded"
    )
    skipped = StepEvidence(
        name="wait", started=True, terminated_reason="Error", termination_reason="Skipped"
    )
    details = analyse(_run(_task("fix", 0, skipped, first, reason="StepFailed")), now=NOW)
    assert details.reason is FailureReason.DEADLINE_EXCEEDED
    assert (details.failed_step_name, details.exit_code) == ("apply", None)


def test_a_failed_sidecar_is_named_as_a_sidecar() -> None:
    step = StepEvidence(name="apply", started=True, exit_code=0, terminated_reason="Completed")
    proxy = StepEvidence(
        name="proxy", started=True, exit_code=137, terminated_reason="OOMKilled", sidecar=True
    )
    details = analyse(_run(_task("fix", 0, step, reason="SidecarOOM", sidecars=(proxy,))), now=NOW)
    assert details.reason is FailureReason.OOM_KILLED
    assert (details.failed_step_name, details.exit_code) == ("proxy", 137)
    assert details.natural_language_summary is not None
    assert "sidecar 'proxy'" in details.natural_language_summary


def test_steps_wait_for_sidecars_and_for_each_other() -> None:
    waiting_sidecar = StepEvidence(name="proxy", waiting_reason="CreateContainerConfigError",
                                   sidecar=True)  # fmt: skip
    running = StepEvidence(name="apply", started=True)
    assert _task("fix", 0, running).ran is True
    assert _task("fix", 0, running, sidecars=(waiting_sidecar,)).ran is False
    # A later step's container runs while its entrypoint waits for the step before it.
    never = StepEvidence(name="first", waiting_reason="CreateContainerConfigError")
    assert _task("fix", 0, never, StepEvidence(name="second", started=True)).ran is False
    done = StepEvidence(name="first", started=True, exit_code=0, terminated_reason="Completed")
    assert _task("fix", 0, done, StepEvidence(name="second", started=True)).ran is True


def test_an_init_container_failure_names_no_step() -> None:
    step = StepEvidence(name="apply", waiting_reason="PodInitializing")
    details = analyse(
        _run(_task("fix", 0, step, reason="InitContainerFailed", message="init container failed")),
        now=NOW,
    )
    assert details.failed_step_name is None
    assert details.reason is FailureReason.UNKNOWN
    assert details.was_execution_failure is False


def test_a_generic_reason_is_decided_by_its_words_then_falls_back() -> None:
    def pod_creation(message: str) -> FailureReason:
        return analyse(_run(_task("fix", 0, reason="PodCreationFailed", message=message)),
                       now=NOW).reason  # fmt: skip

    assert pod_creation('serviceaccounts "runner" not found') is FailureReason.CONFIGURATION_ERROR
    assert pod_creation('pods "p" is forbidden: error looking up service account') is (
        FailureReason.FORBIDDEN
    )
