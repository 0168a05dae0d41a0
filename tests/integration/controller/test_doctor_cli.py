"""`wfe doctor`, the real command, against the real API server and controller: healthy first,
then a stuck lock, a WorkflowExecution without a phase, RBAC missing and the Lease let go."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import Harness, MakeHarness
from kubernetes_asyncio.client import ApiClient, CoreV1Api, RbacAuthorizationV1Api

from wfe.controller.doctor_probe import DEPLOYMENTS
from wfe.controller.resources import WORKFLOW_EXECUTIONS
from wfe.dev.eventually import eventually
from wfe.kube.client import LEASES

_RBAC = "rbac.authorization.k8s.io"


def _wfe(h: Harness, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    s = h.settings
    settings = [
        f"--set=execution_namespace={s.execution_namespace}",
        f"--set=watch_namespace={s.watch_namespace}",
        f"--set=cooldown={s.cooldown.total_seconds()}s",
        "--set=leader_election=true",
        f"--set=lease_name={s.lease_name}",
        f"--set=lease_namespace={s.lease_namespace}",
    ]
    return subprocess.run(
        [sys.executable, "-m", "wfe", "doctor", *args, "--kubeconfig", str(kubeconfig), *settings],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


async def doctor(h: Harness, kubeconfig: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = await asyncio.to_thread(_wfe, h, kubeconfig, *args, "-o", "json")
    assert result.stderr == ""
    return result.returncode, {v["check"]: v for v in json.loads(result.stdout)}


async def _binding(
    rbac: RbacAuthorizationV1Api, kind: str, role: str, sa: tuple[str, str], ns: str | None
) -> None:
    body = {
        "metadata": {"name": f"{role}-{sa[1]}", **({"namespace": ns} if ns else {})},
        "roleRef": {"apiGroup": _RBAC, "kind": kind, "name": role},
        "subjects": [{"kind": "ServiceAccount", "namespace": sa[0], "name": sa[1]}],
    }
    if ns is None:
        await rbac.create_cluster_role_binding(body)
    else:
        await rbac.create_namespaced_role_binding(ns, body)


async def _service_accounts(api: ApiClient, h: Harness) -> tuple[str, str]:
    """An all-powerful ServiceAccount, and one whose rules lack `delete` on pipelineruns."""
    core, rbac = CoreV1Api(api), RbacAuthorizationV1Api(api)
    admin, restricted = f"admin-{secrets.token_hex(3)}", f"nodelete-{secrets.token_hex(3)}"
    for name in (admin, restricted):
        await core.create_namespaced_service_account(h.namespace, {"metadata": {"name": name}})
    await _binding(rbac, "ClusterRole", "cluster-admin", (h.namespace, admin), None)
    wfe_rules = [
        {
            "apiGroups": ["kubernaut.ai"],
            "resources": ["workflowexecutions"],
            "verbs": ["get", "list", "watch", "patch"],
        },
        {
            "apiGroups": ["kubernaut.ai"],
            "resources": ["workflowexecutions/status"],
            "verbs": ["patch"],
        },
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    ]
    await rbac.create_cluster_role({"metadata": {"name": restricted}, "rules": wfe_rules})
    await _binding(rbac, "ClusterRole", restricted, (h.namespace, restricted), None)
    exec_rules = [
        {
            "apiGroups": ["tekton.dev"],
            "resources": ["pipelineruns"],
            "verbs": ["get", "list", "watch", "create", "patch"],
        },  # no delete
        {"apiGroups": ["tekton.dev"], "resources": ["taskruns"], "verbs": ["get", "list", "watch"]},
    ]
    ns = h.exec_namespace
    await rbac.create_namespaced_role(ns, {"metadata": {"name": restricted}, "rules": exec_rules})
    await _binding(rbac, "Role", restricted, (h.namespace, restricted), ns)
    lease_rules = [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["create", "get", "update"],
        }
    ]
    lease_ns = h.settings.lease_namespace
    await rbac.create_namespaced_role(
        lease_ns, {"metadata": {"name": restricted}, "rules": lease_rules}
    )
    await _binding(rbac, "Role", restricted, (h.namespace, restricted), lease_ns)
    return admin, restricted


async def _controller_deployment(h: Harness, service_account: str) -> None:
    """The controller's Deployment, reported available (no kubelet here: its status is set)."""
    labels = {"app": "workflow-execution"}
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "workflow-execution", "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": service_account,
                    "containers": [{"name": "controller", "image": "wfe.invalid/wfe:0"}],
                },
            },
        },
    }
    await h.client.create(DEPLOYMENTS, h.namespace, body)
    available = {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}
    await h.client.patch_status(
        DEPLOYMENTS,
        h.namespace,
        "workflow-execution",
        {
            "status": {
                "replicas": 1,
                "readyReplicas": 1,
                "availableReplicas": 1,
                "conditions": [available],
            }
        },
    )


async def test_doctor_healthy_then_each_induced_problem_fails_with_its_fix(
    harness: MakeHarness, admin_kubeconfig: Path, api_client: ApiClient
) -> None:
    h = await harness(
        duration=60.0,
        leader_election=True,
        lease_name=f"doctor-{secrets.token_hex(3)}",
        lease_namespace="default",
    )
    admin, restricted = await _service_accounts(api_client, h)
    await _controller_deployment(h, admin)
    controller = h.controller
    assert controller is not None
    await eventually(lambda: controller.working, 60, message="the controller leads")
    await h.create("busy")
    await h.wait_phase("busy", "Running")
    flags = ("--controller-namespace", h.namespace)

    code, checks = await doctor(h, admin_kubeconfig, *flags)
    statuses = {name: v["status"] for name, v in checks.items()}
    assert statuses == {
        "tekton-api": "ok",
        "tekton-controller": "warn",  # only the simulator here
        "bundles-resolver": "warn",  # no Tekton resolvers installed
        "crd": "ok",
        "controller": "ok",
        "leader-lease": "ok",
        "rbac": "ok",
        "locks": "ok",
        "no-phase": "ok",
        "running-too-long": "ok",
    }, checks
    assert code == 0
    assert "not found" in checks["tekton-controller"]["message"]
    assert checks["rbac"]["message"].startswith(f"{h.namespace}/{admin} has all")
    assert checks["running-too-long"]["message"].startswith("1 Running")
    strict = await asyncio.to_thread(_wfe, h, admin_kubeconfig, *flags, "--strict")
    assert strict.returncode == 1  # the warnings count with --strict

    # The controller goes away; the Running one's finalizer is stripped and it is deleted, so
    # its lock PipelineRun's owner is gone; a new one gets no phase.
    await h.stop_controller()
    await h.client.patch(
        WORKFLOW_EXECUTIONS, h.namespace, "busy", {"metadata": {"finalizers": None}}
    )
    await h.client.delete(WORKFLOW_EXECUTIONS, h.namespace, "busy")
    await h.create("waiting")

    code, checks = await doctor(
        h,
        admin_kubeconfig,
        *flags,
        "--service-account",
        f"{h.namespace}/{restricted}",
        "--unphased-after",
        "0s",
    )
    assert code == 1
    failed = {name for name, v in checks.items() if v["status"] == "fail"}
    assert failed == {"locks", "no-phase", "rbac", "leader-lease"}, checks
    assert "owner gone" in checks["locks"]["message"]
    assert checks["locks"]["fix"] == "wfe locks; docs/runbooks/README.md#rb-we-003"
    assert f"{h.namespace}/waiting" in checks["no-phase"]["message"]
    assert checks["no-phase"]["fix"] == "docs/runbooks/README.md#rb-we-004"
    assert checks["rbac"]["message"] == (
        f"{h.namespace}/{restricted} may not delete pipelineruns.tekton.dev"
    )
    assert "held by nobody" in checks["leader-lease"]["message"]

    table = await asyncio.to_thread(
        _wfe, h, admin_kubeconfig, *flags, "--service-account", f"{h.namespace}/{restricted}"
    )
    assert table.returncode == 1
    assert "fix rbac: grant what the chart's rbac.yaml grants" in table.stdout
    assert "fix locks: wfe locks; docs/runbooks/README.md#rb-we-003" in table.stdout
    lease = await h.client.get(LEASES, "default", h.settings.lease_name)
    assert not lease["spec"].get("holderIdentity")
