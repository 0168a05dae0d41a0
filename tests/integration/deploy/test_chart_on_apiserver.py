"""The chart on the real API server: applied server-side, enough, and minimal.

1. Every rendered object (the CRD, Namespaces, RBAC, Deployment, Service, ServiceMonitor,
   PrometheusRule, NetworkPolicy, PodDisruptionBudget, ConfigMap) is accepted by the API server
   and stored (validated against the real schemas, the monitoring ones included).
2. **Enough**: the controller runs in-process as the chart's ServiceAccount (a TokenRequest
   token), with the settings of the chart's ConfigMap and leader election on, through a whole
   lifecycle (WorkflowExecution created, Tekton simulator completes it, lock released after the
   cooldown, Lease released on shutdown). Every request it makes is recorded: any 403 fails.
3. **Minimal**: SubjectAccessReviews over a table of must-be-allowed and must-be-denied checks,
   and the ServiceAccount's effective rules (SelfSubjectRulesReview, as the ServiceAccount) in
   each namespace are exactly the chart's rules plus what every ServiceAccount has anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import secrets
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_install import Installed, expand, stored_objects
from harness import wfe_body
from kubernetes_asyncio.client import (
    ApiClient,
    ApiextensionsV1Api,
    AuthorizationV1Api,
    CoordinationV1Api,
    CoreV1Api,
    V1Namespace,
    V1ObjectMeta,
)
from kubernetes_asyncio.client.exceptions import ApiException

from wfe.config import load_settings
from wfe.controller.manager import Controller
from wfe.controller.resources import PIPELINE_RUNS, WORKFLOW_EXECUTIONS
from wfe.core.lock import lock_name
from wfe.dev.controlplane import ControlPlane
from wfe.dev.eventually import eventually
from wfe.dev.tekton_sim import SimSettings, TektonSimulator
from wfe.kube.client import Client
from wfe.kube.errors import NotFound

MakeApiClient = Callable[[Path], Awaitable[ApiClient]]
LEASE = "workflowexecution.kubernaut.ai"


def test_every_rendered_object_is_stored(installed: Installed) -> None:
    stored = stored_objects(installed)
    want = {(d["kind"], d["metadata"]["name"]) for d in installed.rendered.docs}
    assert {(o["kind"], o["metadata"]["name"]) for o in stored} == want
    assert len(stored) == len(installed.rendered.docs)
    kinds = {kind for kind, _ in want}
    assert {"CustomResourceDefinition", "ServiceMonitor", "PrometheusRule"} <= kinds
    assert {"NetworkPolicy", "PodDisruptionBudget", "Deployment", "Service"} <= kinds
    # The server kept what was sent (server-side apply, nothing pruned by a schema).
    rule = next(o for o in stored if o["kind"] == "PrometheusRule")
    sent = installed.rendered.one("PrometheusRule")
    assert rule["spec"] == sent["spec"]
    monitor = next(o for o in stored if o["kind"] == "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True
    deployment = next(o for o in stored if o["kind"] == "Deployment")
    sent_pod = installed.rendered.one("Deployment")["spec"]["template"]["spec"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"] == sent_pod["containers"][0]["securityContext"]
    # Applying again would change nothing (the manifests are stable under the server's defaults).
    diff = installed.kubectl(
        "diff",
        "--server-side",
        "--field-manager=wfe-chart-test",
        "-f",
        str(installed.manifest),
        check=False,
    )
    assert diff.returncode == 0, diff.stdout + diff.stderr


async def test_pods_meet_the_restricted_pod_security_standard(
    installed: Installed, api_client: ApiClient
) -> None:
    """The API server's PodSecurity admission accepts the chart's pod at level `restricted`."""
    name = f"restricted-{secrets.token_hex(3)}"
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }
    core = CoreV1Api(api_client)
    await core.create_namespace(V1Namespace(metadata=V1ObjectMeta(name=name, labels=labels)))
    template = installed.rendered.one("Deployment")["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "wfe"}, "spec": template["spec"]}
    await core.create_namespaced_pod(name, pod, dry_run="All")
    # The check has teeth: the same pod without one of the settings is refused.
    weaker = copy.deepcopy(pod)
    del weaker["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"]
    with pytest.raises(ApiException) as refused:
        await core.create_namespaced_pod(name, weaker, dry_run="All")
    assert refused.value.status == 403
    assert "allowPrivilegeEscalation" in str(refused.value.body)


# --- enough: a whole lifecycle as the chart's ServiceAccount ------------------------------------


class ForbiddenRecorder:
    """Wraps an ApiClient's call_api and records every 403 the identity gets."""

    def __init__(self, api: ApiClient) -> None:
        self.forbidden: list[str] = []
        self.calls = 0
        self._call_api = api.call_api
        api.call_api = self._wrapped  # type: ignore[method-assign]

    async def _wrapped(self, path: str, method: str, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        try:
            result = await self._call_api(path, method, *args, **kwargs)
        except ApiException as exc:
            if exc.status == 403:
                self.forbidden.append(f"{method} {path}: {exc.reason}")
            raise
        if getattr(result, "status", None) == 403:  # a watch (response not preloaded)
            self.forbidden.append(f"{method} {path} (watch)")
        return result

    def check(self) -> None:
        """Fail at once (not as "not yet") when anything was refused."""
        if self.forbidden:
            raise PermissionError(
                "the chart's RBAC refused the controller:\n" + "\n".join(self.forbidden)
            )


async def _controller_settings(installed: Installed, tmp_path: Path) -> Any:
    config = installed.rendered.one("ConfigMap", "workflow-execution-config")["data"]
    file = tmp_path / "config.yaml"
    file.write_text(config["config.yaml"])
    # As `wfe run --config` with the chart's file; only the listen addresses differ (the
    # process runs in the test, not in a pod of its own).
    return load_settings(
        config_file=file,
        env={},
        flags={
            "metrics_address": "127.0.0.1:0",
            "health_address": "127.0.0.1:0",
            "log_format": "console",
        },
    )


async def test_controller_lifecycle_as_the_chart_service_account(
    installed: Installed,
    control_plane: ControlPlane,
    api_client: ApiClient,
    make_api_client: MakeApiClient,
    namespace: str,
    tmp_path: Path,
) -> None:
    settings = await _controller_settings(installed, tmp_path)
    assert settings.leader_election is True
    assert settings.execution_namespace == installed.exec_namespace
    assert settings.lease_namespace == installed.release_namespace
    assert settings.watch_namespace is None  # the default: every namespace

    # The chart's ServiceAccount, with a TokenRequest token; create=False: the chart made it.
    kubeconfig = await control_plane.service_account_kubeconfig(
        installed.release_namespace, installed.service_account, create=False
    )
    sa_api = await make_api_client(kubeconfig)
    recorder = ForbiddenRecorder(sa_api)
    controller = Controller(settings, Client(sa_api), identity="workflow-execution-test-0")
    admin = Client(api_client)
    simulator = TektonSimulator(
        api_client, installed.exec_namespace, SimSettings(default_duration=1.0, max_wait=0.2)
    )
    stop = asyncio.Event()
    sim_task = asyncio.create_task(simulator.run())
    run_task = asyncio.create_task(controller.run(stop))
    try:

        def leading() -> bool:
            recorder.check()
            return controller.working

        await eventually(leading, 60, message="the controller leads and its caches are synced")
        target = f"{namespace}/Deployment/payment-api"
        await admin.create(WORKFLOW_EXECUTIONS, namespace, wfe_body("restart-1", target))

        async def status() -> dict[str, Any]:
            recorder.check()
            obj = await admin.get(WORKFLOW_EXECUTIONS, namespace, "restart-1")
            return dict(obj.get("status") or {})

        async def completed() -> dict[str, Any] | None:
            current = await status()
            return current if current.get("phase") == "Completed" else None

        done = await eventually(completed, 60, message="restart-1 Completed")
        assert done["pipelineRunRef"]["name"] == lock_name(target)

        async def released() -> dict[str, Any] | None:
            current = await status()
            return current if current.get("lockReleasedAt") else None

        await eventually(released, 60, message="the lock is released after the cooldown")
        with pytest.raises(NotFound):
            await admin.get(PIPELINE_RUNS, installed.exec_namespace, lock_name(target))
        events = await CoreV1Api(api_client).list_namespaced_event(
            namespace, field_selector="involvedObject.name=restart-1"
        )
        reasons = {e.reason for e in events.items}
        assert {"PipelineRunCreated", "WorkflowCompleted", "LockReleased"} <= reasons
        wfe = await admin.get(WORKFLOW_EXECUTIONS, namespace, "restart-1")
        assert "kubernaut.ai/workflowexecution-cleanup" in wfe["metadata"]["finalizers"]
        lease = await CoordinationV1Api(api_client).read_namespaced_lease(
            LEASE, installed.release_namespace
        )
        assert lease.spec.holder_identity == "workflow-execution-test-0"
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(run_task, 30)
        sim_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sim_task
    # Graceful shutdown released the Lease (an update the chart allows).
    lease = await CoordinationV1Api(api_client).read_namespaced_lease(
        LEASE, installed.release_namespace
    )
    assert not lease.spec.holder_identity
    assert recorder.calls > 10
    assert recorder.forbidden == [], "the chart's RBAC refused the controller"
    permission_errors = controller.metrics.registry.get_sample_value(
        "workflowexecution_errors_total", {"category": "permission", "reason": "Forbidden"}
    )
    assert not permission_errors


# --- minimal: SubjectAccessReviews ---------------------------------------------------------------

SYS, EXEC, WFE, OTHER, ALL = "release", "exec", "wfe", "unrelated", "all"

# (verb, group, resource, subresource, namespace, name, allowed). Namespaces are symbolic:
# SYS the release namespace, EXEC the execution namespace, WFE a namespace with
# WorkflowExecutions, OTHER an unrelated namespace, ALL cluster-wide (namespace "").
CONTROLLER_CHECKS: list[tuple[str, str, str, str, str, str, bool]] = [
    # --- must be allowed: what the controller does
    ("list", "kubernaut.ai", "workflowexecutions", "", ALL, "", True),
    ("watch", "kubernaut.ai", "workflowexecutions", "", ALL, "", True),
    ("get", "kubernaut.ai", "workflowexecutions", "", WFE, "w", True),
    ("patch", "kubernaut.ai", "workflowexecutions", "", WFE, "w", True),
    ("patch", "kubernaut.ai", "workflowexecutions", "status", WFE, "w", True),
    ("create", "", "events", "", WFE, "", True),
    ("create", "", "events", "", OTHER, "", True),
    ("get", "tekton.dev", "pipelineruns", "", EXEC, "wfe-0123456789abcdef", True),
    ("list", "tekton.dev", "pipelineruns", "", EXEC, "", True),
    ("watch", "tekton.dev", "pipelineruns", "", EXEC, "", True),
    ("create", "tekton.dev", "pipelineruns", "", EXEC, "", True),
    ("patch", "tekton.dev", "pipelineruns", "", EXEC, "wfe-0123456789abcdef", True),
    ("delete", "tekton.dev", "pipelineruns", "", EXEC, "wfe-0123456789abcdef", True),
    ("get", "tekton.dev", "taskruns", "", EXEC, "t", True),
    ("list", "tekton.dev", "taskruns", "", EXEC, "", True),
    ("watch", "tekton.dev", "taskruns", "", EXEC, "", True),
    ("create", "coordination.k8s.io", "leases", "", SYS, "", True),
    ("get", "coordination.k8s.io", "leases", "", SYS, LEASE, True),
    ("update", "coordination.k8s.io", "leases", "", SYS, LEASE, True),
    # --- must be denied: WorkflowExecutions beyond watch, finalizers and status
    ("create", "kubernaut.ai", "workflowexecutions", "", WFE, "", False),
    ("update", "kubernaut.ai", "workflowexecutions", "", WFE, "w", False),
    ("delete", "kubernaut.ai", "workflowexecutions", "", WFE, "w", False),
    ("deletecollection", "kubernaut.ai", "workflowexecutions", "", WFE, "", False),
    ("update", "kubernaut.ai", "workflowexecutions", "status", WFE, "w", False),
    ("*", "kubernaut.ai", "workflowexecutions", "", WFE, "", False),
    ("get", "kubernaut.ai", "*", "", WFE, "", False),
    ("get", "*", "*", "", WFE, "", False),
    # Events: write-only, no edits of others' events
    ("update", "", "events", "", WFE, "e", False),
    ("patch", "", "events", "", WFE, "e", False),
    ("delete", "", "events", "", WFE, "e", False),
    ("list", "", "events", "", WFE, "", False),
    ("create", "events.k8s.io", "events", "", WFE, "", False),
    # Secrets, anywhere
    ("get", "", "secrets", "", SYS, "s", False),
    ("list", "", "secrets", "", SYS, "", False),
    ("get", "", "secrets", "", EXEC, "s", False),
    ("list", "", "secrets", "", ALL, "", False),
    ("watch", "", "secrets", "", WFE, "", False),
    # Pods: no exec, attach, port-forward, create or even read
    ("create", "", "pods", "exec", SYS, "p", False),
    ("create", "", "pods", "exec", EXEC, "p", False),
    ("get", "", "pods", "exec", EXEC, "p", False),
    ("create", "", "pods", "attach", EXEC, "p", False),
    ("create", "", "pods", "portforward", SYS, "p", False),
    ("create", "", "pods", "", EXEC, "", False),
    ("delete", "", "pods", "", EXEC, "p", False),
    ("get", "", "pods", "", SYS, "p", False),
    ("get", "", "pods", "log", EXEC, "p", False),
    # ConfigMaps (its own settings come from a mounted volume): no reads, no writes
    ("get", "", "configmaps", "", SYS, "workflow-execution-config", False),
    ("update", "", "configmaps", "", SYS, "workflow-execution-config", False),
    ("patch", "", "configmaps", "", SYS, "workflow-execution-config", False),
    ("create", "", "configmaps", "", SYS, "", False),
    ("delete", "", "configmaps", "", EXEC, "c", False),
    # PipelineRuns and TaskRuns outside the execution namespace, and writes it does not make
    ("create", "tekton.dev", "pipelineruns", "", WFE, "", False),
    ("create", "tekton.dev", "pipelineruns", "", OTHER, "", False),
    ("delete", "tekton.dev", "pipelineruns", "", OTHER, "p", False),
    ("get", "tekton.dev", "pipelineruns", "", SYS, "p", False),
    ("list", "tekton.dev", "pipelineruns", "", ALL, "", False),
    ("update", "tekton.dev", "pipelineruns", "", EXEC, "p", False),
    ("patch", "tekton.dev", "pipelineruns", "status", EXEC, "p", False),
    ("deletecollection", "tekton.dev", "pipelineruns", "", EXEC, "", False),
    ("create", "tekton.dev", "taskruns", "", EXEC, "", False),
    ("delete", "tekton.dev", "taskruns", "", EXEC, "t", False),
    ("create", "tekton.dev", "tasks", "", EXEC, "", False),
    ("create", "tekton.dev", "pipelines", "", EXEC, "", False),
    # Leases: only its own, only in the release namespace
    ("get", "coordination.k8s.io", "leases", "", SYS, "kube-controller-manager", False),
    ("update", "coordination.k8s.io", "leases", "", SYS, "another-lease", False),
    ("delete", "coordination.k8s.io", "leases", "", SYS, LEASE, False),
    ("patch", "coordination.k8s.io", "leases", "", SYS, LEASE, False),
    ("list", "coordination.k8s.io", "leases", "", SYS, "", False),
    ("create", "coordination.k8s.io", "leases", "", OTHER, "", False),
    ("update", "coordination.k8s.io", "leases", "", "kube-system", LEASE, False),
    # Its own Deployment, ServiceAccount tokens, the objects of unrelated namespaces
    ("patch", "apps", "deployments", "", SYS, "workflow-execution", False),
    ("create", "", "serviceaccounts", "token", SYS, "workflow-execution", False),
    ("create", "", "serviceaccounts", "token", EXEC, "kubernaut-workflow-runner", False),
    ("get", "apps", "deployments", "", OTHER, "d", False),
    ("patch", "apps", "deployments", "", WFE, "payment-api", False),
    ("get", "", "services", "", OTHER, "s", False),
    # Cluster-wide writes it does not need
    ("create", "", "namespaces", "", ALL, "", False),
    ("delete", "", "namespaces", "", ALL, "n", False),
    ("update", "apiextensions.k8s.io", "customresourcedefinitions", "", ALL, "x", False),
    ("create", "apiextensions.k8s.io", "customresourcedefinitions", "", ALL, "", False),
    ("patch", "", "nodes", "", ALL, "n", False),
    (
        "create",
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
        "",
        ALL,
        "",
        False,
    ),
    ("create", "rbac.authorization.k8s.io", "clusterroles", "", ALL, "", False),
    ("create", "rbac.authorization.k8s.io", "clusterrolebindings", "", ALL, "", False),
    ("create", "rbac.authorization.k8s.io", "rolebindings", "", EXEC, "", False),
    ("update", "rbac.authorization.k8s.io", "roles", "", SYS, "workflow-execution", False),
    ("create", "certificates.k8s.io", "certificatesigningrequests", "", ALL, "", False),
    (
        "approve",
        "certificates.k8s.io",
        "signers",
        "",
        ALL,
        "kubernetes.io/kube-apiserver-client",
        False,
    ),
    ("create", "", "persistentvolumes", "", ALL, "", False),
    # Privilege escalation
    ("escalate", "rbac.authorization.k8s.io", "clusterroles", "", ALL, "", False),
    ("bind", "rbac.authorization.k8s.io", "clusterroles", "", ALL, "cluster-admin", False),
    ("escalate", "rbac.authorization.k8s.io", "roles", "", EXEC, "", False),
    ("bind", "rbac.authorization.k8s.io", "roles", "", SYS, "", False),
    ("impersonate", "", "users", "", ALL, "admin", False),
    ("impersonate", "", "groups", "", ALL, "system:masters", False),
    ("impersonate", "", "serviceaccounts", "", EXEC, "kubernaut-workflow-runner", False),
    ("impersonate", "authentication.k8s.io", "userextras", "scopes", ALL, "", False),
]

# The runner runs the workflows: by default it may do nothing at all.
RUNNER_CHECKS: list[tuple[str, str, str, str, str, str, bool]] = [
    ("get", "", "secrets", "", EXEC, "s", False),
    ("list", "", "secrets", "", ALL, "", False),
    ("create", "", "pods", "", EXEC, "", False),
    ("create", "", "pods", "exec", EXEC, "p", False),
    ("get", "", "pods", "", EXEC, "p", False),
    ("create", "tekton.dev", "pipelineruns", "", EXEC, "", False),
    ("get", "tekton.dev", "pipelineruns", "", EXEC, "p", False),
    ("patch", "kubernaut.ai", "workflowexecutions", "status", WFE, "w", False),
    ("patch", "apps", "deployments", "", WFE, "payment-api", False),
    ("update", "coordination.k8s.io", "leases", "", SYS, LEASE, False),
    ("create", "", "serviceaccounts", "token", EXEC, "kubernaut-workflow-runner", False),
    ("impersonate", "", "serviceaccounts", "", SYS, "workflow-execution", False),
    ("bind", "rbac.authorization.k8s.io", "clusterroles", "", ALL, "cluster-admin", False),
]


async def _fresh_namespace(api: ApiClient, prefix: str) -> str:
    name = f"{prefix}-{secrets.token_hex(3)}"
    await CoreV1Api(api).create_namespace(V1Namespace(metadata=V1ObjectMeta(name=name)))
    return name


async def _review(
    api: ApiClient,
    user: str,
    namespace: str,
    checks: list[tuple[str, str, str, str, str, str, bool]],
    places: dict[str, str],
) -> list[str]:
    groups = [
        "system:serviceaccounts",
        f"system:serviceaccounts:{namespace}",
        "system:authenticated",
    ]
    authz = AuthorizationV1Api(api)
    wrong = []
    for verb, group, resource, subresource, where, name, allowed in checks:
        attributes = {
            "verb": verb,
            "group": group,
            "resource": resource,
            "subresource": subresource,
            "namespace": places.get(where, where),
            "name": name,
        }
        review = await authz.create_subject_access_review(
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {"user": user, "groups": groups, "resourceAttributes": attributes},
            }
        )
        if bool(review.status.allowed) != allowed:
            wrong.append(
                f"{'allowed' if review.status.allowed else 'denied'} but must be "
                f"{'allowed' if allowed else 'denied'}: {verb} {group}/{resource}"
                f"{'/' + subresource if subresource else ''} in {where!r} name={name!r} "
                f"({review.status.reason or review.status.evaluation_error or ''})"
            )
    return wrong


@pytest.fixture
async def places(installed: Installed, api_client: ApiClient, namespace: str) -> dict[str, str]:
    return {
        SYS: installed.release_namespace,
        EXEC: installed.exec_namespace,
        WFE: namespace,
        OTHER: await _fresh_namespace(api_client, "unrelated"),
        ALL: "",
    }


async def test_controller_permissions_are_minimal(
    installed: Installed, api_client: ApiClient, places: dict[str, str]
) -> None:
    user = f"system:serviceaccount:{installed.release_namespace}:{installed.service_account}"
    wrong = await _review(api_client, user, installed.release_namespace, CONTROLLER_CHECKS, places)
    assert wrong == [], "\n".join(wrong)


async def test_runner_permissions_are_none_by_default(
    installed: Installed, api_client: ApiClient, places: dict[str, str]
) -> None:
    user = f"system:serviceaccount:{installed.exec_namespace}:kubernaut-workflow-runner"
    wrong = await _review(api_client, user, installed.exec_namespace, RUNNER_CHECKS, places)
    assert wrong == [], "\n".join(wrong)


async def test_reviews_see_the_bindings(
    installed: Installed, api_client: ApiClient, places: dict[str, str]
) -> None:
    # The table is meaningful only if a review distinguishes identities: the same allowed
    # checks for another ServiceAccount of the release namespace are all denied.
    user = f"system:serviceaccount:{installed.release_namespace}:someone-else"
    allowed = [c for c in CONTROLLER_CHECKS if c[-1]]
    denied = [(*c[:-1], False) for c in allowed]
    wrong = await _review(api_client, user, installed.release_namespace, denied, places)
    assert wrong == [], "\n".join(wrong)


# --- minimal: the effective rules, as the ServiceAccount sees them ------------------------------


async def _rules(api: ApiClient, namespace: str) -> tuple[set[tuple[str, str, str, str]], bool]:
    review = await AuthorizationV1Api(api).create_self_subject_rules_review(
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": namespace},
        }
    )
    return expand(review.status.resource_rules or []), bool(review.status.incomplete)


async def test_effective_rules_are_exactly_the_charts(
    installed: Installed,
    control_plane: ControlPlane,
    make_api_client: MakeApiClient,
    places: dict[str, str],
) -> None:
    sa_api = await make_api_client(
        await control_plane.service_account_kubeconfig(
            installed.release_namespace, installed.service_account, create=False
        )
    )
    # What any ServiceAccount may do without a binding of its own (self reviews, ...).
    nobody_api = await make_api_client(
        await control_plane.service_account_kubeconfig(places[OTHER], "nobody")
    )
    rendered = installed.rendered
    cluster = expand(rendered.one("ClusterRole")["rules"])
    by_namespace = {
        SYS: cluster | expand(rendered.one("Role", "workflow-execution-leader-election")["rules"]),
        EXEC: cluster | expand(rendered.one("Role", "workflow-execution")["rules"]),
        WFE: cluster,
        OTHER: cluster,
    }
    for where, expected in by_namespace.items():
        namespace = places[where]
        effective, incomplete = await _rules(sa_api, namespace)
        baseline, _ = await _rules(nobody_api, namespace)
        assert not incomplete
        assert baseline, "the baseline review returned nothing"
        assert effective - baseline == expected, where
        # No wildcard in anything the chart grants.
        assert not any("*" in part for rule in effective - baseline for part in rule)


def test_rendered_rbac_objects_are_stored_as_rendered(installed: Installed) -> None:
    stored = {
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
        for o in stored_objects(installed)
    }
    for doc in installed.rendered.docs:
        if doc["kind"] in ("ClusterRole", "Role"):
            key = (doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"])
            assert (stored[key].get("rules") or []) == doc["rules"], key


def test_deploy_doc_counts_the_checks() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "deploy.md").read_text()
    text = " ".join(doc.split())
    allowed = sum(1 for c in CONTROLLER_CHECKS if c[-1])
    denied = len(CONTROLLER_CHECKS) - allowed
    assert f"{allowed} must-be-allowed and {denied} must-be-denied" in text
    assert f"{len(RUNNER_CHECKS)} must-be-denied ones for the runner" in text


# --- the documented install path: helm install / upgrade / uninstall -----------------------------


def _helm(helm: Path, kubeconfig: Path, home: Path, *args: str) -> str:
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        **{f"HELM_{kind}_HOME": str(home / kind.lower()) for kind in ("CACHE", "CONFIG", "DATA")},
    }
    result = subprocess.run(
        [str(helm), *args], capture_output=True, text=True, env=env, check=False, timeout=180
    )
    assert result.returncode == 0, f"helm {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


async def test_helm_install_upgrade_uninstall(
    helm: Path, installed: Installed, api_client: ApiClient, tmp_path: Path
) -> None:
    # `installed` first: the monitoring CRDs are there. Fresh namespaces, so nothing is shared
    # with the other tests (the chart's own defaults would be kubernaut-system/-workflows).
    suffix = secrets.token_hex(3)
    release_ns, exec_ns = f"wfe-helm-{suffix}", f"wfe-helm-exec-{suffix}"
    chart = str(Path(__file__).resolve().parents[3] / "deploy" / "helm" / "workflow-execution")
    kubeconfig = installed.admin_kubeconfig
    common = ["--namespace", release_ns, "--set", f"namespaces.execution={exec_ns}"]
    _helm(
        helm,
        kubeconfig,
        tmp_path,
        "install",
        "workflow-execution",
        chart,
        "--create-namespace",
        *common,
    )
    core = CoreV1Api(api_client)
    config = await core.read_namespaced_config_map("workflow-execution-config", release_ns)
    assert yaml.safe_load(config.data["config.yaml"])["execution_namespace"] == exec_ns
    notes = _helm(helm, kubeconfig, tmp_path, "status", "workflow-execution", "-n", release_ns)
    assert "STATUS: deployed" in notes
    assert "Tekton Pipelines (tekton.dev/v1) must be installed" in notes

    _helm(
        helm,
        kubeconfig,
        tmp_path,
        "upgrade",
        "workflow-execution",
        chart,
        *common,
        "--set",
        "config.cooldown=10m",
    )
    config = await core.read_namespaced_config_map("workflow-execution-config", release_ns)
    assert yaml.safe_load(config.data["config.yaml"])["cooldown"] == "10m"
    history = _helm(helm, kubeconfig, tmp_path, "history", "workflow-execution", "-n", release_ns)
    assert len(history.strip().splitlines()) == 3  # header + 2 revisions

    _helm(helm, kubeconfig, tmp_path, "uninstall", "workflow-execution", "-n", release_ns)
    # Kept: the execution namespace (its locks) and the CRD (every WorkflowExecution).
    namespace = await core.read_namespace(exec_ns)
    assert namespace.metadata.annotations["helm.sh/resource-policy"] == "keep"
    assert namespace.status.phase == "Active"
    await ApiextensionsV1Api(api_client).read_custom_resource_definition(
        "workflowexecutions.kubernaut.ai"
    )
    with pytest.raises(ApiException) as gone:
        await core.read_namespaced_config_map("workflow-execution-config", release_ns)
    assert gone.value.status == 404
