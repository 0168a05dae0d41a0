"""The local control plane is a real, usable Kubernetes API (docs/testenv.md).

Proves what every other integration test relies on: the server is up at the pinned version,
Tekton's real CRDs are established and validate and prune PipelineRuns, the three kinds of
identity (admin, user with groups, ServiceAccount token) authenticate as themselves and are
held to RBAC, and kube-controller-manager does what a cluster does: a deleted PipelineRun takes
its TaskRuns with it (background and foreground propagation), a deleted namespace goes away,
every namespace gets its ``default`` ServiceAccount. The processes die with their parent.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio.client import (
    ApiClient,
    ApiextensionsV1Api,
    AuthenticationV1Api,
    AuthorizationV1Api,
    CoreV1Api,
    CustomObjectsApi,
    RbacAuthorizationV1Api,
    V1ConfigMap,
    V1DeleteOptions,
    V1Namespace,
    V1ObjectMeta,
    V1PolicyRule,
    V1ResourceAttributes,
    V1Role,
    V1RoleBinding,
    V1RoleRef,
    V1SelfSubjectAccessReview,
    V1SelfSubjectAccessReviewSpec,
    V1SelfSubjectReview,
    V1SubjectAccessReview,
    V1SubjectAccessReviewSpec,
    VersionApi,
)
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.client.models import RbacV1Subject

from wfe.dev.controlplane import ControlPlane
from wfe.dev.crds import load_wfe_crds
from wfe.dev.eventually import eventually
from wfe.dev.testbin import KUBERNETES_VERSION

TEKTON = ("tekton.dev", "v1")

MakeApiClient = Callable[[Path], Awaitable[ApiClient]]


def _pipeline_run(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "wfe-tests"}},
        "spec": {
            "pipelineSpec": {
                "params": [{"name": "target", "type": "string"}],
                "tasks": [
                    {
                        "name": "restart",
                        "params": [{"name": "target", "value": "$(params.target)"}],
                        "taskSpec": {
                            "params": [{"name": "target", "type": "string"}],
                            "steps": [
                                {
                                    "name": "restart",
                                    "image": "registry.example/tools:1",
                                    "script": "echo restarting $(params.target)",
                                }
                            ],
                        },
                    }
                ],
            },
            "params": [{"name": "target", "value": "deployment/web"}],
            "timeouts": {"pipeline": "10m0s"},
        },
    }


async def _whoami(api: ApiClient) -> tuple[str, list[str]]:
    review = await AuthenticationV1Api(api).create_self_subject_review(V1SelfSubjectReview())
    info = review.status.user_info
    return info.username, list(info.groups or [])


async def _can_i(api: ApiClient, namespace: str, verb: str, group: str, resource: str) -> bool:
    review = V1SelfSubjectAccessReview(
        spec=V1SelfSubjectAccessReviewSpec(
            resource_attributes=V1ResourceAttributes(
                namespace=namespace, verb=verb, group=group, resource=resource
            )
        )
    )
    response = await AuthorizationV1Api(api).create_self_subject_access_review(review)
    allowed: bool = response.status.allowed
    return allowed


async def _grant_pipelinerun_readers(
    api_client: ApiClient, namespace: str, subject: RbacV1Subject
) -> None:
    rbac = RbacAuthorizationV1Api(api_client)
    await rbac.create_namespaced_role(
        namespace,
        V1Role(
            metadata=V1ObjectMeta(name="pipelinerun-reader"),
            rules=[
                V1PolicyRule(
                    api_groups=["tekton.dev"],
                    resources=["pipelineruns"],
                    verbs=["get", "list", "watch"],
                )
            ],
        ),
    )
    await rbac.create_namespaced_role_binding(
        namespace,
        V1RoleBinding(
            metadata=V1ObjectMeta(name="pipelinerun-reader"),
            role_ref=V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="Role", name="pipelinerun-reader"
            ),
            subjects=[subject],
        ),
    )


async def test_api_server_is_up_at_the_pinned_version(api_client: ApiClient) -> None:
    version = await VersionApi(api_client).get_code()
    assert version.git_version == KUBERNETES_VERSION

    username, groups = await _whoami(api_client)
    assert username == "admin"
    assert "system:masters" in groups


async def test_tekton_crds_are_established_without_a_conversion_webhook(
    api_client: ApiClient, control_plane: ControlPlane
) -> None:
    extensions = ApiextensionsV1Api(api_client)
    for plural in ("pipelineruns", "taskruns"):
        crd = await extensions.read_custom_resource_definition(f"{plural}.tekton.dev")
        conditions = {c.type: c.status for c in crd.status.conditions}
        assert conditions["Established"] == "True"
        assert conditions["NamesAccepted"] == "True"
        assert crd.spec.conversion.strategy == "None"
        assert crd.spec.conversion.webhook is None
        assert f"{plural}.tekton.dev" in control_plane.installed_crds

    resources = await CustomObjectsApi(api_client).get_api_resources(*TEKTON)
    assert {"pipelineruns", "taskruns"} <= {r.name for r in resources.resources}


async def test_wfe_crd_is_established_when_the_api_package_ships_it(
    api_client: ApiClient,
) -> None:
    crds = load_wfe_crds()
    if not crds:
        pytest.skip("wfe/api/crd.yaml does not exist yet")
    extensions = ApiextensionsV1Api(api_client)
    for manifest in crds:
        crd = await extensions.read_custom_resource_definition(manifest["metadata"]["name"])
        assert any(c.type == "Established" and c.status == "True" for c in crd.status.conditions)


async def test_pipelinerun_is_stored_and_pruned_by_the_real_tekton_schema(
    api_client: ApiClient, namespace: str
) -> None:
    objects = CustomObjectsApi(api_client)
    body = _pipeline_run("restart-web")
    body["spec"]["notATektonField"] = "dropped by structural pruning"

    await objects.create_namespaced_custom_object(*TEKTON, namespace, "pipelineruns", body)

    stored = await objects.get_namespaced_custom_object(
        *TEKTON, namespace, "pipelineruns", "restart-web"
    )
    assert "notATektonField" not in stored["spec"]
    assert stored["spec"]["params"] == [{"name": "target", "value": "deployment/web"}]
    assert stored["spec"]["timeouts"] == {"pipeline": "10m0s"}
    step = stored["spec"]["pipelineSpec"]["tasks"][0]["taskSpec"]["steps"][0]
    assert step["image"] == "registry.example/tools:1"


async def test_pipelinerun_of_the_wrong_type_is_rejected_by_the_schema(
    api_client: ApiClient, namespace: str
) -> None:
    body = _pipeline_run("bad-params")
    body["spec"]["params"] = "not-a-list"

    with pytest.raises(ApiException) as raised:
        await CustomObjectsApi(api_client).create_namespaced_custom_object(
            *TEKTON, namespace, "pipelineruns", body
        )

    assert raised.value.status == 422
    assert "spec.params" in str(raised.value.body)


async def test_user_certificate_authenticates_with_its_groups_and_rbac_applies(
    control_plane: ControlPlane,
    api_client: ApiClient,
    make_api_client: MakeApiClient,
    namespace: str,
) -> None:
    user = await make_api_client(control_plane.user_kubeconfig("alice", ["wfe-operators", "sre"]))

    username, groups = await _whoami(user)
    assert username == "alice"
    assert {"wfe-operators", "sre", "system:authenticated"} <= set(groups)
    assert not await _can_i(user, namespace, "list", "tekton.dev", "pipelineruns")

    await _grant_pipelinerun_readers(
        api_client,
        namespace,
        RbacV1Subject(kind="Group", name="wfe-operators", api_group="rbac.authorization.k8s.io"),
    )

    await eventually(lambda: _can_i(user, namespace, "list", "tekton.dev", "pipelineruns"), 30)
    assert not await _can_i(user, namespace, "delete", "tekton.dev", "pipelineruns")


async def test_service_account_token_authenticates_and_rbac_applies(
    control_plane: ControlPlane,
    api_client: ApiClient,
    make_api_client: MakeApiClient,
    namespace: str,
) -> None:
    kubeconfig: Path = await control_plane.service_account_kubeconfig(namespace, "wfe-controller")
    account = await make_api_client(kubeconfig)
    objects = CustomObjectsApi(account)

    username, groups = await _whoami(account)
    assert username == f"system:serviceaccount:{namespace}:wfe-controller"
    assert f"system:serviceaccounts:{namespace}" in groups
    with pytest.raises(ApiException) as raised:
        await objects.list_namespaced_custom_object(*TEKTON, namespace, "pipelineruns")
    assert raised.value.status == 403

    await _grant_pipelinerun_readers(
        api_client,
        namespace,
        RbacV1Subject(kind="ServiceAccount", name="wfe-controller", namespace=namespace),
    )

    async def can_list() -> bool:
        try:
            await objects.list_namespaced_custom_object(*TEKTON, namespace, "pipelineruns")
        except ApiException as exc:
            if exc.status == 403:
                return False
            raise
        return True

    await eventually(can_list, 30)
    review = await AuthorizationV1Api(api_client).create_subject_access_review(
        V1SubjectAccessReview(
            spec=V1SubjectAccessReviewSpec(
                user=username,
                groups=groups,
                resource_attributes=V1ResourceAttributes(
                    namespace=namespace, verb="create", group="tekton.dev", resource="pipelineruns"
                ),
            )
        )
    )
    assert review.status.allowed is False


async def test_processes_die_with_a_killed_parent(testbin: object) -> None:
    """A test run killed by a timeout must not leave the control plane's processes behind."""
    import asyncio
    import signal
    import sys

    from wfe.dev.eventually import eventually

    script = (
        "import asyncio, os\n"
        "from wfe.dev.controlplane import ControlPlane\n"
        "async def main():\n"
        "    cp = ControlPlane(install_crds=False)\n"
        "    await cp.start()\n"
        "    print('PIDS', *(f'{n}={p}' for n, p in cp.pids.items()), flush=True)\n"
        "    await asyncio.sleep(600)\n"
        "asyncio.run(main())\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    line = b""
    while not line.startswith(b"PIDS"):
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        assert line, "the child exited before starting the control plane"
    pids = dict(word.split("=") for word in line.decode().split()[1:])
    assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager"}
    proc.send_signal(signal.SIGKILL)
    await proc.wait()

    def all_gone() -> bool:
        for pid in pids.values():
            try:
                with open(f"/proc/{pid}/status") as status:
                    if "State:\tZ" not in status.read():
                        return False
            except FileNotFoundError:
                continue
        return True

    await eventually(all_gone, 20, message="the control plane's processes exit with their parent")


# --- kube-controller-manager ----------------------------------------------------------------

HOLD = "wfe.test/hold"  # a finalizer of the test's own, so a deletion can be watched half-way


async def _get(objects: CustomObjectsApi, namespace: str, plural: str, name: str) -> Any:
    """The object, or None once it is gone."""
    try:
        return await objects.get_namespaced_custom_object(*TEKTON, namespace, plural, name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


async def _owned_task_run(
    objects: CustomObjectsApi, namespace: str, owner: dict[str, Any], finalizers: list[str]
) -> dict[str, Any]:
    """A TaskRun owned by ``owner`` the way Tekton owns them (kmeta.NewControllerRef)."""
    name = owner["metadata"]["name"]
    body = {
        "apiVersion": "tekton.dev/v1",
        "kind": "TaskRun",
        "metadata": {
            "name": f"{name}-restart",
            "labels": {"tekton.dev/pipelineRun": name},
            "finalizers": finalizers,
            "ownerReferences": [
                {
                    "apiVersion": "tekton.dev/v1",
                    "kind": "PipelineRun",
                    "name": name,
                    "uid": owner["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {"taskSpec": {"steps": [{"name": "s", "image": "registry.example/tools:1"}]}},
    }
    created: dict[str, Any] = await objects.create_namespaced_custom_object(
        *TEKTON, namespace, "taskruns", body
    )
    return created


@pytest.mark.parametrize("policy", ["Background", "Foreground"])
async def test_deleting_a_pipelinerun_deletes_its_taskruns(
    api_client: ApiClient, namespace: str, policy: str
) -> None:
    """The garbage collector follows the TaskRun's ownerReference to its PipelineRun.

    The TaskRun holds a finalizer of the test's until the end, so what each policy does in
    between can be seen without racing the collector: Background deletes the owner at once and
    its dependents after; Foreground keeps the owner (``foregroundDeletion``) until every
    dependent with ``blockOwnerDeletion`` is gone.
    """
    objects = CustomObjectsApi(api_client)
    pr = await objects.create_namespaced_custom_object(
        *TEKTON, namespace, "pipelineruns", _pipeline_run("owner")
    )
    task_run = await _owned_task_run(objects, namespace, pr, [HOLD])
    tr_name = task_run["metadata"]["name"]

    await objects.delete_namespaced_custom_object(
        *TEKTON, namespace, "pipelineruns", "owner", body=V1DeleteOptions(propagation_policy=policy)
    )

    owner = await _get(objects, namespace, "pipelineruns", "owner")
    if policy == "Background":
        assert owner is None
    else:
        assert owner is not None
        assert owner["metadata"]["deletionTimestamp"]
        assert "foregroundDeletion" in owner["metadata"]["finalizers"]

    async def dependent_being_deleted() -> bool:
        current = await _get(objects, namespace, "taskruns", tr_name)
        assert current is not None, "the TaskRun went before its finalizer was removed"
        return bool(current["metadata"].get("deletionTimestamp"))

    await eventually(dependent_being_deleted, 60, message="the collector deletes the TaskRun")
    if policy == "Foreground":  # blocked by its dependent
        assert await _get(objects, namespace, "pipelineruns", "owner") is not None

    await objects.patch_namespaced_custom_object(
        *TEKTON, namespace, "taskruns", tr_name, {"metadata": {"finalizers": None}},
        _content_type="application/merge-patch+json",
    )  # fmt: skip

    async def both_gone() -> bool:
        return (
            await _get(objects, namespace, "taskruns", tr_name) is None
            and await _get(objects, namespace, "pipelineruns", "owner") is None
        )

    await eventually(both_gone, 60, message="TaskRun and PipelineRun are gone")


async def test_deleting_a_namespace_finishes(api_client: ApiClient) -> None:
    """The namespace controller empties a deleted namespace (custom resources too) and drops it."""
    core = CoreV1Api(api_client)
    objects = CustomObjectsApi(api_client)
    name = f"t-ns-deletion-{secrets.token_hex(3)}"
    await core.create_namespace(V1Namespace(metadata=V1ObjectMeta(name=name)))
    pr = await objects.create_namespaced_custom_object(
        *TEKTON, name, "pipelineruns", _pipeline_run("in-doomed-namespace")
    )
    await _owned_task_run(objects, name, pr, [])
    await core.create_namespaced_config_map(
        name, V1ConfigMap(metadata=V1ObjectMeta(name="settings"), data={"k": "v"})
    )

    await core.delete_namespace(name)

    async def gone() -> bool:
        try:
            current = await core.read_namespace(name)
        except ApiException as exc:
            if exc.status == 404:
                return True
            raise
        assert current.status.phase == "Terminating"
        return False

    await eventually(gone, 120, message=f"namespace {name} finishes deleting")


async def test_every_namespace_gets_its_default_service_account(
    api_client: ApiClient, namespace: str
) -> None:
    core = CoreV1Api(api_client)

    async def has_default() -> bool:
        accounts = await core.list_namespaced_service_account(namespace)
        return "default" in {a.metadata.name for a in accounts.items}

    await eventually(has_default, 60, message="the serviceaccount controller made `default`")
