"""The Tekton simulator writes what Tekton v1.15.1 writes (tests/core/tekton_corpus), on time.

For every scenario the simulator's PipelineRun status and TaskRuns are compared with the corpus
document of the same failure class: condition status, reason and message template, the step
states (running/waiting/terminated, their reasons, exit codes), the structure of
childReferences, skippedTasks, labels and owner references, and which status fields exist.
Then time: running before the scenario's duration, finished after it, stop requests and
``spec.timeouts.pipeline`` honoured, scenario and duration chosen per PipelineRun.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from corpus import SIMULATOR_BEHIND, Json, features, load, names, request
from wfe.dev import tekton_shapes as shapes
from wfe.dev.tekton_scenarios import (
    DURATION_ANNOTATION,
    DURATION_PARAMETER,
    SCENARIO_ANNOTATION,
    SCENARIO_PARAMETER,
    Scenario,
    SimulatedRun,
    duration_for,
    running_for,
    scenario_for,
    simulate,
)

START = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
D = 100.0


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


# scenario -> (corpus file, elapsed seconds, stop seen at)
CASES: dict[Scenario, tuple[str, float, float | None]] = {
    Scenario.SUCCESS: ("succeeded", 2 * D, None),
    Scenario.SECOND_TASK_FAILED: ("second_task_failed", 2 * D, None),
    Scenario.STEP_OOMKILLED: ("step_oomkilled", 2 * D, None),
    Scenario.TASK_FAILED_EXIT_CODE: ("task_failed_exit_code", 2 * D, None),
    Scenario.TRICKY_WORDS: ("tricky_words", 2 * D, None),
    Scenario.TASKRUN_TIMEOUT: ("taskrun_timeout", 2 * D, None),
    Scenario.FORBIDDEN: ("forbidden", 2 * D, None),
    Scenario.IMAGE_PULL_BACKOFF: ("image_pull_backoff", 2 * D, None),
    Scenario.ERR_IMAGE_PULL: ("err_image_pull", 400.0, None),  # timeout 5m0s
    Scenario.EXCEEDED_QUOTA: ("exceeded_quota", 1000.0, None),  # timeout 15m0s
    Scenario.INVALID_PARAM: ("invalid_param", 2 * D, None),
    Scenario.INVALID_PARAM_VALUE: ("invalid_param_value", 2 * D, None),
    Scenario.RESOLUTION_FAILED: ("resolution_failed", 2 * D, None),
    Scenario.PIPELINERUN_TIMEOUT: ("pipelinerun_timeout", 700.0, None),  # timeout 10m0s
    Scenario.CANCELLED: ("cancelled", 0.5 * D, 0.3 * D),  # during the first task
    Scenario.STEP_TIMEOUT: ("step_timeout", 2 * D, None),
    Scenario.EXCEEDED_NODE_RESOURCES: ("exceeded_node_resources", 2 * D, None),
    Scenario.UNSCHEDULABLE: ("unschedulable", 1300.0, None),  # timeout 20m0s
    Scenario.MISSING_SERVICE_ACCOUNT: ("missing_service_account", 2 * D, None),
    Scenario.PIPELINERUN_TIMEOUT_PULL_PENDING: ("pipelinerun_timeout_pull_pending", 700.0, None),
    Scenario.CREATE_CONTAINER_CONFIG_ERROR: ("create_container_config_error", 2 * D, None),
}


# Corpus documents of failure shapes the simulator has no scenario for (yet): the comparisons
# below iterate the scenarios, so these are only read by the failure-analysis tests.
NO_SCENARIO = frozenset(
    {
        "completed_with_skipped_task",
        "couldnt_get_task",
        "create_container_error",
        "create_run_failed",
        "dry_run_validation_failed",
        "failure_ignored",
        "init_container_failed",
        "init_container_oomkilled",
        "invalid_pipeline_result_reference",
        "invalid_task_result_reference",
        "matrix_parameter_type",
        "missing_task_result",
        "optional_workspace_required",
        "param_array_index_out_of_bounds",
        "parameter_type_mismatch",
        "pipeline_result_missing",
        "pipeline_verification_failed",
        "pod_evicted",
        "pod_rejected_by_kubelet",
        "requests_exceed_limits",
        "sidecar_config_error",
        "sidecar_failed",
        "sidecar_oomkilled",
        "step_action_invalid",
        "step_action_not_found",
        "step_on_error_continue",
        "step_start_error",
        "stop_sidecar_failed",
        "workspace_not_bound",
    }
)


def _compared(scenario: Scenario) -> object:
    """The scenario as a test parameter, expected to differ where the corpus moved ahead."""
    behind = SIMULATOR_BEHIND.get(CASES[scenario][0])
    if behind is None:
        return scenario
    return pytest.param(scenario, marks=pytest.mark.xfail(strict=True, reason=behind))


def run(scenario: Scenario, pr: Json, elapsed: float, stop: float | None = None) -> SimulatedRun:
    return simulate(
        pr, scenario=scenario, start=START, elapsed=elapsed, duration=D, stop_seen_at=stop
    )


@pytest.mark.parametrize("scenario", [_compared(s) for s in CASES], ids=lambda s: s.value)
def test_simulator_matches_corpus(scenario: Scenario) -> None:
    name, elapsed, stop = CASES[scenario]
    doc = load(name)
    pr = request(doc)
    state = run(scenario, pr, elapsed, stop)
    simulated = {**pr, "status": state.status}
    assert state.done is (doc["expected"]["phase"] != "Running")
    assert features(simulated, list(state.task_runs)) == features(
        doc["pipelineRun"], doc["taskRuns"]
    )


def test_running_matches_corpus() -> None:
    doc = load("running")
    pr = request(doc)
    state = run(Scenario.SUCCESS, pr, 0.8 * D)  # apply done, verify running
    assert not state.done
    simulated = {**pr, "status": state.status}
    assert features(simulated, list(state.task_runs)) == features(
        doc["pipelineRun"], doc["taskRuns"]
    )


def test_every_scenario_has_a_corpus_document() -> None:
    assert set(CASES) == set(Scenario)
    covered = {CASES[s][0] for s in Scenario} | {"running"}
    assert covered | NO_SCENARIO == set(names())
    assert not covered & NO_SCENARIO
    assert set(SIMULATOR_BEHIND) <= covered


@pytest.mark.parametrize("scenario", list(Scenario), ids=lambda s: s.value)
def test_output_is_what_tekton_stores(scenario: Scenario) -> None:
    pr = request(load("succeeded"))
    for elapsed in (0.0, 0.05 * D, 0.5 * D, 0.99 * D, 2 * D, 5000.0):
        state = run(scenario, pr, elapsed)
        json.dumps([state.status, *state.task_runs])  # plain JSON
        name = pr["metadata"]["name"]
        children = state.status.get("childReferences", [])
        assert [c["name"] for c in children] == [t["metadata"]["name"] for t in state.task_runs]
        for task_run in state.task_runs:
            meta = task_run["metadata"]
            task = meta["labels"]["tekton.dev/pipelineTask"]
            assert meta["name"] == f"{name}-{task}"
            assert meta["labels"]["tekton.dev/pipelineRun"] == name
            assert meta["labels"]["tekton.dev/pipeline"] == "workflow"
            assert meta["labels"]["tekton.dev/pipelineRunUID"] == pr["metadata"]["uid"]
            assert meta["ownerReferences"][0]["uid"] == pr["metadata"]["uid"]
            assert "podName" in task_run["status"]
            for step in task_run["status"].get("steps", []):
                if "terminated" in step:
                    assert step["terminated"]["startedAt"] <= step["terminated"]["finishedAt"]
        assert state.labels == {"tekton.dev/pipeline": "workflow"}


# -- time ----------------------------------------------------------------------------------------

FINITE = [s for s in Scenario if CASES[s][1] == 2 * D]


@pytest.mark.parametrize("scenario", FINITE, ids=lambda s: s.value)
def test_runs_until_its_duration_then_finishes(scenario: Scenario) -> None:
    pr = request(load("succeeded"))
    early = run(scenario, pr, 0.02 * D)
    assert early.status["conditions"][0]["reason"] == "ResolvingPipelineRef"
    assert early.status["conditions"][0]["status"] == "Unknown"
    assert "completionTime" not in early.status
    before = run(scenario, pr, 0.99 * D)
    assert not before.done
    assert before.status["conditions"][0]["status"] == "Unknown"
    assert before.next_change is not None
    assert 0.99 * D < before.next_change <= D
    after = run(scenario, pr, D)
    assert after.done
    assert after.next_change is None
    assert after.status["conditions"][0]["status"] in ("True", "False")
    assert after.status["completionTime"] == shapes.timestamp(START + _s(D))
    assert run(scenario, pr, 10 * D).status == after.status


def test_success_progresses_task_by_task() -> None:
    pr = request(load("succeeded"))
    reasons = []
    for elapsed in (0.0, 0.2 * D, 0.6 * D, D):
        state = run(Scenario.SUCCESS, pr, elapsed)
        reasons.append(
            (
                state.status["conditions"][0]["reason"],
                [t["status"]["conditions"][0]["reason"] for t in state.task_runs],
            )
        )
    assert reasons == [
        ("ResolvingPipelineRef", []),
        ("Running", ["Running"]),
        ("Running", ["Succeeded", "Running"]),
        ("Succeeded", ["Succeeded", "Succeeded"]),
    ]


def test_image_pull_waits_then_fails() -> None:
    pr = request(load("succeeded"))
    waiting = []
    for elapsed in (0.2 * D, 0.6 * D):
        state = run(Scenario.IMAGE_PULL_BACKOFF, pr, elapsed)
        (task_run,) = state.task_runs
        assert task_run["status"]["conditions"][0]["reason"] == "PullImageFailed"
        waiting.append(task_run["status"]["steps"][0]["waiting"]["reason"])
    assert waiting == ["ErrImagePull", "ImagePullBackOff"]
    (failed,) = run(Scenario.IMAGE_PULL_BACKOFF, pr, D).task_runs
    assert failed["status"]["conditions"][0]["reason"] == "TaskRunImagePullFailed"
    assert failed["status"]["steps"][0]["terminated"]["reason"] == "TaskRunImagePullFailed"


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario.PIPELINERUN_TIMEOUT,
        Scenario.CANCELLED,
        Scenario.EXCEEDED_QUOTA,
        Scenario.UNSCHEDULABLE,
    ],
    ids=lambda s: s.value,
)
def test_never_ending_runs_wait_for_the_pipeline_timeout(scenario: Scenario) -> None:
    pr = request(load("succeeded"), timeouts={"pipeline": "2m30s"})
    assert not run(scenario, pr, 149.0).done
    state = run(scenario, pr, 151.0)
    assert state.done
    cond = state.status["conditions"][0]
    assert (cond["reason"], cond["message"]) == (
        "PipelineRunTimeout",
        f'PipelineRun "{pr["metadata"]["name"]}" failed to finish within "2m30s"',
    )
    assert state.status["completionTime"] == shapes.timestamp(START + _s(150))
    last = state.task_runs[-1]
    assert last["spec"]["status"] == "TaskRunCancelled"
    assert last["spec"]["statusMessage"] == shapes.TASKRUN_CANCELLED_BY_TIMEOUT
    assert last["status"]["conditions"][0]["reason"] == "TaskRunCancelled"


def test_a_pull_pending_at_the_pipeline_timeout_stays_pending() -> None:
    """timeout.go patches spec.status; the simulated TaskRun reconciler never catches up."""
    pr = request(load("succeeded"), timeouts={"pipeline": "2m30s"})
    scenario = Scenario.PIPELINERUN_TIMEOUT_PULL_PENDING
    pending = run(scenario, pr, 149.0)
    assert not pending.done
    state = run(scenario, pr, 151.0)
    assert state.done
    assert state.next_change is None
    assert state.status["conditions"][0]["reason"] == "PipelineRunTimeout"
    (task_run,) = state.task_runs
    assert task_run["spec"]["status"] == "TaskRunCancelled"
    assert task_run["spec"]["statusMessage"] == shapes.TASKRUN_CANCELLED_BY_TIMEOUT
    assert task_run["status"] == pending.task_runs[0]["status"]
    assert task_run["status"]["conditions"][0]["status"] == "Unknown"
    assert run(scenario, pr, 5000.0).task_runs == state.task_runs


def test_a_step_timeout_skips_the_next_step_and_the_next_task() -> None:
    pr = request(load("succeeded"))
    running = run(Scenario.STEP_TIMEOUT, pr, 0.5 * D)
    (apply,) = running.task_runs
    assert [s["name"] for s in apply["status"]["steps"]] == ["apply", "wait-ready"]
    assert all("running" in s for s in apply["status"]["steps"])
    assert apply["spec"]["taskSpec"]["steps"][0]["timeout"] == "1m30s"  # (D - D/10) = 90 s
    (done,) = run(Scenario.STEP_TIMEOUT, pr, D).task_runs
    steps = done["status"]["steps"]
    assert [s.get("terminationReason") for s in steps] == ["TimeoutExceeded", "Skipped"]
    assert done["spec"]["timeout"] == "1h0m0s"  # the step's timeout, not the TaskRun's


def test_timeout_is_printed_the_way_go_prints_it() -> None:
    pr = request(load("succeeded"), timeouts={"pipeline": "60m"})
    state = run(Scenario.PIPELINERUN_TIMEOUT, pr, 3601.0)
    assert state.status["conditions"][0]["message"].endswith('failed to finish within "1h0m0s"')


def test_no_timeout_and_no_stop_means_no_end() -> None:
    pr = request(load("succeeded"), timeouts={"pipeline": "0s"})
    state = run(Scenario.PIPELINERUN_TIMEOUT, pr, 10 * 3600.0)
    assert not state.done
    assert state.next_change is None


def test_default_timeout_is_one_hour() -> None:
    pr = request(load("succeeded"))
    del pr["spec"]["timeouts"]
    assert not run(Scenario.CANCELLED, pr, 3599.0).done
    assert run(Scenario.CANCELLED, pr, 3601.0).done


@pytest.mark.parametrize("mode", ["Cancelled", "CancelledRunFinally"])
def test_cancel_is_honoured_while_running(mode: str) -> None:
    pr = request(load("succeeded"), status=mode)
    state = run(Scenario.SUCCESS, pr, 0.4 * D, stop=0.3 * D)
    assert state.done
    cond = state.status["conditions"][0]
    assert (cond["status"], cond["reason"]) == ("False", "Cancelled")
    assert cond["message"] == f'PipelineRun "{pr["metadata"]["name"]}" was cancelled'
    assert state.status["completionTime"] == shapes.timestamp(START + _s(0.3 * D))
    (apply,) = state.task_runs
    assert apply["spec"]["statusMessage"] == shapes.TASKRUN_CANCELLED_BY_PIPELINE
    assert apply["status"]["steps"][0]["terminated"]["reason"] == "TaskRunCancelled"
    skipped = state.status.get("skippedTasks", [])
    if mode == "CancelledRunFinally":
        assert skipped == [{"name": "verify", "reason": "PipelineRun was gracefully cancelled"}]
    else:
        assert skipped == []


def test_cancel_before_the_pipeline_resolved() -> None:
    pr = request(load("succeeded"), status="Cancelled")
    state = run(Scenario.SUCCESS, pr, 0.05 * D, stop=0.05 * D)
    assert state.done
    assert state.task_runs == ()
    assert state.status["conditions"][0]["reason"] == "Cancelled"


def test_cancel_after_the_end_changes_nothing() -> None:
    pr = request(load("succeeded"))
    finished = run(Scenario.SUCCESS, pr, D)
    pr["spec"]["status"] = "Cancelled"
    assert run(Scenario.SUCCESS, pr, 2 * D, stop=1.5 * D).status == finished.status


def test_stop_run_finally_lets_the_running_task_finish() -> None:
    pr = request(load("succeeded"), status="StoppedRunFinally")
    stopping = run(Scenario.SUCCESS, pr, 0.4 * D, stop=0.3 * D)
    assert not stopping.done
    assert stopping.status["conditions"][0]["reason"] == "StoppedRunningFinally"
    assert stopping.task_runs[0]["status"]["conditions"][0]["reason"] == "Running"
    state = run(Scenario.SUCCESS, pr, D, stop=0.3 * D)
    assert state.done
    assert [t["status"]["conditions"][0]["reason"] for t in state.task_runs] == ["Succeeded"]
    assert state.status["conditions"][0]["reason"] == "Cancelled"
    assert state.status["skippedTasks"] == [
        {"name": "verify", "reason": "PipelineRun was gracefully stopped"}
    ]
    assert state.status["completionTime"] == shapes.timestamp(START + _s(0.55 * D))


def test_stop_run_finally_keeps_a_failure() -> None:
    pr = request(load("succeeded"), status="StoppedRunFinally")
    state = run(Scenario.STEP_OOMKILLED, pr, D, stop=0.3 * D)
    assert state.status["conditions"][0]["reason"] == "Failed"


def test_a_pending_run_waits() -> None:
    pr = request(load("succeeded"), status="PipelineRunPending")
    state = run(Scenario.SUCCESS, pr, 5 * D)
    assert not state.done
    assert state.next_change is None
    assert state.task_runs == ()
    assert state.status == {
        "conditions": shapes.condition(
            "Unknown", "PipelineRunPending", f'PipelineRun "{pr["metadata"]["name"]}" is pending',
            START,
        )
    }  # fmt: skip


# -- choosing ------------------------------------------------------------------------------------


def test_scenario_annotation_beats_parameter_beats_target_beats_default() -> None:
    pr = request(load("succeeded"))
    target = pr["metadata"]["annotations"]["kubernaut.ai/target-resource"]
    by_target = {target: Scenario.FORBIDDEN}
    assert scenario_for(pr, default=Scenario.SUCCESS) is Scenario.SUCCESS
    assert scenario_for(pr, default=Scenario.SUCCESS, by_target=by_target) is Scenario.FORBIDDEN
    pr["spec"]["params"].append({"name": SCENARIO_PARAMETER, "value": "step_oomkilled"})
    assert scenario_for(pr, default=Scenario.SUCCESS, by_target=by_target) is (
        Scenario.STEP_OOMKILLED
    )
    pr["metadata"]["annotations"][SCENARIO_ANNOTATION] = "cancelled"
    assert scenario_for(pr, default=Scenario.SUCCESS) is Scenario.CANCELLED


def test_unknown_scenario_is_an_error_naming_the_known_ones() -> None:
    pr = request(load("succeeded"))
    pr["metadata"]["annotations"][SCENARIO_ANNOTATION] = "explode"
    with pytest.raises(ValueError, match=r"'explode'.*success"):
        scenario_for(pr, default=Scenario.SUCCESS)


def test_duration_annotation() -> None:
    pr = request(load("succeeded"))
    assert duration_for(pr, default=7.0) == 7.0
    pr["metadata"]["annotations"][DURATION_ANNOTATION] = "2.5"
    assert duration_for(pr, default=7.0) == 2.5
    for bad in ("0", "-1", "soon"):
        pr["metadata"]["annotations"][DURATION_ANNOTATION] = bad
        with pytest.raises(ValueError, match=DURATION_ANNOTATION):
            duration_for(pr, default=7.0)


def test_sim_duration_is_a_go_duration() -> None:
    pr = request(load("succeeded"))
    assert running_for(pr) is None
    pr["spec"]["params"].append({"name": DURATION_PARAMETER, "value": "1m30s"})
    assert running_for(pr) == 90.0
    for bad in ("0s", "30", "soon", ""):
        pr["spec"]["params"][-1]["value"] = bad
        with pytest.raises(ValueError, match=DURATION_PARAMETER):
            running_for(pr)


@pytest.mark.parametrize(
    "scenario",
    [Scenario.SUCCESS, Scenario.SECOND_TASK_FAILED, Scenario.STEP_OOMKILLED, Scenario.FORBIDDEN],
    ids=lambda s: s.value,
)
def test_sim_duration_sets_the_running_phase_of_any_scenario(scenario: Scenario) -> None:
    """Resolution as usual (a tenth of D = 1 s), then the tasks take the whole 1 h."""
    pr = request(load("succeeded"))
    pr["spec"]["timeouts"] = {"pipeline": "0s"}  # no pipeline timeout in the way
    hour = 3600.0

    def at(elapsed: float) -> SimulatedRun:
        return simulate(
            pr, scenario=scenario, start=START, elapsed=elapsed, duration=10.0, running=hour
        )

    assert at(0.5).status["conditions"][0]["reason"] == "ResolvingPipelineRef"
    early = at(2.0)
    assert early.status["conditions"][0]["reason"] == "Running"
    if scenario is not Scenario.FORBIDDEN:  # a refused pod fails its TaskRun at its end
        assert early.task_runs
    assert at(hour).status["conditions"][0]["status"] == "Unknown"
    assert not at(hour).done
    assert at(hour + 1).done
    assert at(hour + 1).status["completionTime"] == shapes.timestamp(START + _s(hour + 1))


def test_sim_duration_is_cancelled_like_any_running_run() -> None:
    pr = request(load("succeeded"))
    pr["spec"]["status"] = "Cancelled"
    state = simulate(
        pr,
        scenario=Scenario.SUCCESS,
        start=START,
        elapsed=60.0,
        duration=1.0,
        stop_seen_at=30.0,
        running=3600.0,
    )
    assert state.done
    assert state.status["conditions"][0]["reason"] == "Cancelled"
    assert state.task_runs[0]["status"]["conditions"][0]["reason"] == "TaskRunCancelled"


def test_the_simulators_parameters_are_not_the_invalid_one() -> None:
    pr = request(load("succeeded"))
    pr["spec"]["params"].append({"name": DURATION_PARAMETER, "value": "3s"})
    state = simulate(
        pr, scenario=Scenario.INVALID_PARAM_VALUE, start=START, elapsed=10.0, duration=3.0
    )
    message = state.status["conditions"][0]["message"]
    assert DURATION_PARAMETER not in message
    assert SCENARIO_PARAMETER not in message


# -- shapes --------------------------------------------------------------------------------------


def test_resolution_request_name_is_tektons_fnv128a() -> None:
    # FNV-1a 128 test vectors: "" and "a".
    assert shapes._fnv128a(b"") == 0x6C62272E07BB014262B821756295C58D
    assert shapes._fnv128a(b"a") == 0xD228CB696F1A8CAF78912B704E4A8964
    doc = load("resolution_failed")
    pr = doc["pipelineRun"]
    name = shapes.resolution_request_name(
        "bundles", pr["metadata"]["namespace"], pr["metadata"]["name"],
        pr["spec"]["pipelineRef"]["params"],
    )  # fmt: skip
    assert name in pr["status"]["conditions"][0]["message"]


def test_cancelled_message_keeps_a_remarkable_previous_status() -> None:
    quiet = {"reason": "Running", "message": "Not all Steps in the Task have finished executing"}
    loud = {"reason": "ExceededResourceQuota", "message": "TaskRun Pod exceeded ..."}
    assert shapes.cancelled_message("tr", "why.", quiet) == 'TaskRun "tr" was cancelled. why.'
    assert shapes.cancelled_message("tr", "why.", loud) == (
        'TaskRun "tr" was cancelled. why.\n'
        "Previous status: [ExceededResourceQuota] TaskRun Pod exceeded ..."
    )


def test_long_names_are_hashed_like_kmeta_child_name() -> None:
    parent = "p" * 60
    name = shapes.task_run_name(parent, "verify")
    assert len(name) == 63
    assert name != shapes.task_run_name("q" * 60, "verify")
    assert shapes.task_run_name("wfe-cf0cc089293b1165", "apply") == "wfe-cf0cc089293b1165-apply"
