"""One object, one lock; no run without a trace; a status that always explains — on the real API
server with real discovery (docs/targets.md, docs/architecture.md)."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from typing import Any

from harness import Harness, MakeHarness
from kubernetes_asyncio.client import (
    ApiClient,
    ApiextensionsV1Api,
    CoreV1Api,
    V1Namespace,
    V1ObjectMeta,
)

from wfe.controller.resources import FINALIZER, PIPELINE_RUNS, WORKFLOW_EXECUTIONS
from wfe.dev.eventually import eventually
from wfe.kube.client import Client, Resource


def _runbook_lock(target: str) -> str:
    """The runbooks' recipe: echo -n "$TARGET" | sha256sum | cut -c1-16 | printf wfe-%s."""
    return "wfe-" + hashlib.sha256(target.encode()).hexdigest()[:16]


# --- one object, one lock ------------------------------------------------------------------


async def test_two_spellings_of_one_deployment_created_together_run_once(
    harness: MakeHarness,
) -> None:
    h = await harness(duration=3)
    canonical = f"{h.namespace}/Deployment/checkout"
    spellings = {
        "a-canonical": canonical,
        "b-lower": f"{h.namespace}/deployment/checkout",
        "c-plural": f"{h.namespace}/deployments/checkout",
        "d-short": f"{h.namespace}/deploy/checkout",
        "e-qualified": f"{h.namespace}/Deployment.apps/checkout",
    }
    await asyncio.gather(*(h.create(n, t) for n, t in spellings.items()))
    done = await h.wait_phase("a-canonical", "Completed")
    assert done["pipelineRunRef"]["name"] == _runbook_lock(canonical)
    for name in list(spellings)[1:]:
        failed = await h.wait_phase(name, "Failed")
        details = failed["failureDetails"]
        assert details["reason"] == "ConfigurationError"
        assert details["wasExecutionFailure"] is False
        assert "spec.targetResource" in details["message"]
        assert repr(canonical) in details["message"], details["message"]
        assert "pipelineRunRef" not in failed
    names = [p["metadata"]["name"] for p in await h.pipeline_runs()]
    assert names == [_runbook_lock(canonical)]


async def test_scope_and_unserved_kinds_fail_naming_the_target(harness: MakeHarness) -> None:
    h = await harness(duration=1)
    cases = {
        "node-with-namespace": (f"{h.namespace}/Node/worker-1", "'Node/worker-1'"),
        "deployment-without-namespace": ("Deployment/checkout", "is namespaced"),
        "typo": (f"{h.namespace}/Deplyment/checkout", "not served by this cluster"),
    }
    for name, (target, _) in cases.items():
        await h.create(name, target)
    for name, (_, expected) in cases.items():
        failed = await h.wait_phase(name, "Failed")
        assert failed["failureDetails"]["reason"] == "ConfigurationError"
        assert expected in failed["failureDetails"]["message"]
    assert await h.pipeline_runs() == []


async def test_a_crd_installed_after_start_is_learnt_from_discovery(
    harness: MakeHarness, api_client: ApiClient
) -> None:
    h = await harness(duration=1)
    suffix = h.namespace.rsplit("-", 1)[-1]
    group = f"g{suffix}.example.com"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "plural": "gadgets",
                "singular": "gadget",
                "kind": "Gadget",
                "shortNames": [f"gd{suffix}"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }
    await ApiextensionsV1Api(api_client).create_custom_resource_definition(crd)
    gadgets = Resource(group=group, version="v1", plural="gadgets", kind="Gadget")

    async def served() -> bool:
        return await Client(api_client).has_api(f"{group}/v1", gadgets.plural)

    await eventually(served, 30, message="the CRD is served")
    await h.create("gadget", f"{h.namespace}/Gadget/g1")
    await h.create("gadget-short", f"{h.namespace}/gd{suffix}/g2")
    await h.wait_phase("gadget", "Completed")
    failed = await h.wait_phase("gadget-short", "Failed")
    assert f"'{h.namespace}/Gadget/g2'" in failed["failureDetails"]["message"]


# --- no run without a trace ----------------------------------------------------------------


async def test_a_lock_that_vanished_before_its_start_was_recorded_fails_as_ran(
    harness: MakeHarness,
) -> None:
    """The crash window: lock created, finalizer added, leader dies before `Running`; the
    PipelineRun is deleted meanwhile. The new leader must record a failure that ran."""
    h = await harness(duration=30)
    await h.stop_controller()
    created = await h.create("crashed")
    manifest = h.lock_manifest(created)
    await h.client.create(PIPELINE_RUNS, h.exec_namespace, manifest)
    await h.client.patch(
        WORKFLOW_EXECUTIONS,
        h.namespace,
        "crashed",
        {"metadata": {"finalizers": [FINALIZER]}},
    )
    # Gone for good: someone also stripped the lock finalizer that would have kept it.
    await h.client.patch(
        PIPELINE_RUNS,
        h.exec_namespace,
        manifest["metadata"]["name"],
        {"metadata": {"finalizers": None}},
    )
    await h.client.delete(PIPELINE_RUNS, h.exec_namespace, manifest["metadata"]["name"])
    await h.start_controller()
    failed = await h.wait_phase("crashed", "Failed")
    details = failed["failureDetails"]
    assert details["wasExecutionFailure"] is True
    assert "vanished before its start was recorded" in details["message"]
    await asyncio.sleep(1.5)
    assert await h.pipeline_runs() == []  # never a second run
    # ... and the target is blocked: the next one is refused until a person clears it.
    await h.create("next")
    skipped = await h.wait_phase("next", "Skipped")
    assert skipped["skipDetails"]["reason"] == "PreviousExecutionFailed"
    await h.has_events("crashed", "WorkflowFailed")


async def test_a_lock_deleted_before_even_the_finalizer_landed_is_still_recorded(
    harness: MakeHarness,
) -> None:
    """The earliest crash window: the lock created, the leader dies before the finalizer (so
    nothing on the WorkflowExecution says a lock was taken), and the PipelineRun is deleted
    meanwhile. Its lock finalizer keeps it until the new leader has recorded the run."""
    h = await harness(duration=30)
    await h.stop_controller()
    created = await h.create("earliest")
    manifest = h.lock_manifest(created)
    await h.client.create(PIPELINE_RUNS, h.exec_namespace, manifest)
    await h.client.delete(PIPELINE_RUNS, h.exec_namespace, manifest["metadata"]["name"])
    marked = await h.pipeline_run()
    assert marked is not None
    assert marked["metadata"]["deletionTimestamp"]  # only marked: the name is still taken
    await h.start_controller()
    failed = await h.wait_phase("earliest", "Failed")
    assert failed["failureDetails"]["wasExecutionFailure"] is True
    assert "deleted before it finished" in failed["failureDetails"]["message"]
    await eventually(
        lambda: _gone(h), 20, message="the controller lets the deleted lock go once recorded"
    )
    await h.create("next")
    skipped = await h.wait_phase("next", "Skipped")
    assert skipped["skipDetails"]["reason"] == "PreviousExecutionFailed"
    assert await h.pipeline_runs() == []  # never a second run


async def _gone(h: Harness) -> bool:
    return await h.pipeline_run() is None


async def test_adopting_a_finished_run_records_its_own_times(harness: MakeHarness) -> None:
    h = await harness(duration=2)
    await h.stop_controller()
    created = await h.create("late")
    await h.client.create(PIPELINE_RUNS, h.exec_namespace, h.lock_manifest(created))

    async def finished() -> dict[str, Any] | None:
        pr = await h.pipeline_run()
        return pr if pr and pr.get("status", {}).get("completionTime") else None

    pr = await eventually(finished, 30, message="the simulator finishes the run")
    await asyncio.sleep(1.5)  # adoption happens visibly later than the run's end
    await h.start_controller()
    done = await h.wait_phase("late", "Completed")
    assert done["startTime"] == pr["status"]["startTime"]
    assert done["completionTime"] == pr["status"]["completionTime"]
    assert done["startTime"] <= done["completionTime"]
    assert done["duration"] != "0s"


async def test_a_finished_status_written_without_completion_time_still_releases(
    harness: MakeHarness,
) -> None:
    h = await harness(duration=1, cooldown="8s")
    await h.create("first")
    await h.wait_phase("first", "Completed")
    # Someone else rewrites the status: Completed, but no completionTime (and no release yet).
    await h.stop_controller()
    await h.client.patch_status(
        WORKFLOW_EXECUTIONS,
        h.namespace,
        "first",
        {"status": {"completionTime": None, "lockReleasedAt": None, "duration": None}},
    )
    assert await h.pipeline_run() is not None  # the lock is still held
    await h.start_controller()

    async def released() -> dict[str, Any] | None:
        st = await h.status("first")
        return st if st.get("lockReleasedAt") and st.get("completionTime") else None

    st = await eventually(released, 30, message="the lock is released after all")
    assert st["completionTime"] <= st["lockReleasedAt"]
    assert await h.pipeline_run() is None


async def test_permanent_refusal_of_the_lock_fails_with_the_servers_message(
    harness: MakeHarness, api_client: ApiClient
) -> None:
    """An admission policy refusing the PipelineRun (422) fails the WorkflowExecution; it is
    never retried forever with no status."""
    h = await harness(duration=1)
    policy_name = f"refuse-{h.exec_namespace}"
    admission = Resource(
        group="admissionregistration.k8s.io",
        version="v1",
        plural="validatingadmissionpolicies",
        kind="ValidatingAdmissionPolicy",
        namespaced=False,
    )
    bindings = Resource(
        group="admissionregistration.k8s.io",
        version="v1",
        plural="validatingadmissionpolicybindings",
        kind="ValidatingAdmissionPolicyBinding",
        namespaced=False,
    )
    await h.client.create(
        admission,
        None,
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": policy_name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": ["tekton.dev"],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["pipelineruns"],
                        }
                    ]
                },
                "validations": [
                    {
                        "expression": "false",
                        "message": "pipelines are frozen in this namespace",
                    }
                ],
            },
        },
    )
    await h.client.create(
        bindings,
        None,
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": policy_name},
            "spec": {
                "policyName": policy_name,
                "validationActions": ["Deny"],
                "matchResources": {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": h.exec_namespace}
                    }
                },
            },
        },
    )
    try:
        # The policy takes a moment to be enforced: retry creating until one is refused.
        async def refused() -> dict[str, Any] | None:
            name = f"frozen-{int(datetime.now(UTC).timestamp() * 1000) % 10**6}"
            await h.create(name, h.target(name))
            st = await eventually(lambda: _terminal(h, name), 20, message=f"{name} is decided")
            return st if st.get("phase") == "Failed" else None

        st = await eventually(refused, 60, message="a WorkflowExecution fails on the refusal")
        assert st["failureDetails"]["reason"] == "ConfigurationError"
        assert "pipelines are frozen in this namespace" in st["failureDetails"]["message"]
    finally:
        await h.client.delete(bindings, None, policy_name)
        await h.client.delete(admission, None, policy_name)


async def _terminal(h: Harness, name: str) -> dict[str, Any] | None:
    st = await h.status(name)
    return st if st.get("phase") in ("Completed", "Failed", "Skipped") else None


# --- the status always explains ------------------------------------------------------------


async def test_a_workflowexecution_that_cannot_start_says_why(
    harness: MakeHarness, api_client: ApiClient
) -> None:
    """The execution namespace is missing: the lock cannot be created. Within seconds the
    WorkflowExecution shows Pending with a condition and an Event; once the namespace exists
    it runs. The wait costs one status write, not one per retry."""
    h = await harness(duration=1)
    missing = f"{h.exec_namespace}-later"
    await h.stop_controller()
    await h.start_controller(execution_namespace=missing)
    await h.create("waits")

    async def explained() -> dict[str, Any] | None:
        st = await h.status("waits")
        conditions = {c["type"]: c for c in st.get("conditions", [])}
        return (
            st if st.get("phase") == "Pending" and "TektonPipelineCreated" in conditions else None
        )

    st = await eventually(explained, 30, message="Pending with a condition saying why")
    (condition,) = [c for c in st["conditions"] if c["type"] == "TektonPipelineCreated"]
    assert condition["status"] == "False"
    assert condition["reason"]
    assert missing in condition["message"]
    await h.has_events("waits", "WaitingToStart")
    first_version = (await h.get("waits"))["metadata"]["resourceVersion"]
    await asyncio.sleep(3)  # several retries later, still the one write
    assert (await h.get("waits"))["metadata"]["resourceVersion"] == first_version
    await CoreV1Api(api_client).create_namespace(V1Namespace(metadata=V1ObjectMeta(name=missing)))
    h.exec_namespace = missing
    await h.start_simulator(duration=1)
    done = await h.wait_phase("waits", "Completed", timeout=90)
    assert "conditions" not in done or all(
        c["type"] != "TektonPipelineCreated" or c["status"] != "False" for c in done["conditions"]
    )
