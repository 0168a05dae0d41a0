"""What `wfe doctor` reads from the cluster, for `core.doctor`'s and `core.doctor_work`'s
verdicts (docs/cli.md).

Each read becomes the object, None (not found) or `Unanswered` (forbidden, any other API
error), so one unanswerable question never stops the others. The locks come from
`controller.inspect.ledger`, the same ledger as `wfe locks`; RBAC is one SubjectAccessReview
per `core.doctor_work.CONTROLLER_PERMISSIONS` entry for the controller's ServiceAccount.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from wfe.api import crd
from wfe.config import Settings
from wfe.controller import inspect
from wfe.controller.manager import tekton_available
from wfe.core import doctor, doctor_work
from wfe.core.ledger import LedgerRow
from wfe.core.verdict import Unanswered, Verdict
from wfe.kube import errors
from wfe.kube.client import LEASES, Client, KubeObject, Resource

__all__ = [
    "BUNDLES_FLAGS",
    "CONFIG_MAPS",
    "CRDS",
    "DEPLOYMENTS",
    "SUBJECT_ACCESS_REVIEWS",
    "TEKTON_CONTROLLER",
    "Where",
    "diagnose",
]

DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
CONFIG_MAPS = Resource("", "v1", "configmaps", "ConfigMap")
CRDS = Resource(
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False
)
SUBJECT_ACCESS_REVIEWS = Resource(
    "authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", False
)
# Tekton's own layout (its release manifests; docs/runbooks/README.md#rb-we-004).
TEKTON_CONTROLLER = ("tekton-pipelines", "tekton-pipelines-controller")
BUNDLES_FLAGS = ("tekton-pipelines-resolvers", "resolvers-feature-flags")

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Where:
    """Where the controller runs: its Deployment, and (default: the Deployment's) ServiceAccount
    as `namespace/name`."""

    namespace: str = "kubernaut-system"
    deployment: str = "workflow-execution"
    service_account: str | None = None


async def _ask(awaitable: Awaitable[T]) -> T | Unanswered | None:
    try:
        return await awaitable
    except errors.NotFound:
        return None
    except errors.Forbidden as exc:
        return Unanswered(f"forbidden: {exc}")
    except errors.ApiError as exc:
        return Unanswered(str(exc))


async def _served(client: Client) -> bool | Unanswered:
    try:
        return await tekton_available(client)
    except errors.ApiError as exc:
        return Unanswered(str(exc))


def _subject(where: Where, deployment: object) -> str | Unanswered:
    if where.service_account:
        namespace, sep, name = where.service_account.partition("/")
        return f"{namespace}/{name}" if sep else f"{where.namespace}/{namespace}"
    if isinstance(deployment, Mapping):
        pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
        return f"{where.namespace}/{pod.get('serviceAccountName') or 'default'}"
    return Unanswered(
        f"no ServiceAccount: deployment {where.namespace}/{where.deployment} unreadable; "
        "give --service-account NAMESPACE/NAME"
    )


def _review(subject: str, p: doctor_work.Permission, settings: Settings) -> KubeObject:
    namespace, name = subject.split("/", 1)
    attributes: dict[str, Any] = {"verb": p.verb, "group": p.group, "resource": p.resource}
    if p.subresource:
        attributes["subresource"] = p.subresource
    target = {
        "watch": settings.watch_namespace or "",
        "execution": settings.execution_namespace,
        "lease": settings.lease_namespace,
    }[p.scope]
    if target:
        attributes["namespace"] = target
    if p.named:
        attributes["name"] = settings.lease_name
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": f"system:serviceaccount:{namespace}:{name}",
            "groups": [
                "system:serviceaccounts",
                f"system:serviceaccounts:{namespace}",
                "system:authenticated",
            ],
            "resourceAttributes": attributes,
        },
    }


async def _rbac(
    client: Client, subject: str | Unanswered, settings: Settings
) -> list[tuple[doctor_work.Permission, bool | Unanswered]] | Unanswered:
    if isinstance(subject, Unanswered):
        return subject
    out: list[tuple[doctor_work.Permission, bool | Unanswered]] = []
    for p in doctor_work.CONTROLLER_PERMISSIONS:
        if p.scope == "lease" and not settings.leader_election:
            continue
        answer = await _ask(
            client.create(SUBJECT_ACCESS_REVIEWS, None, _review(subject, p, settings))
        )
        if answer is None or isinstance(answer, Unanswered):
            out.append((p, answer or Unanswered("SubjectAccessReview is not served")))
        else:
            out.append((p, bool((answer.get("status") or {}).get("allowed"))))
    return out


async def _wfes(client: Client, settings: Settings) -> list[KubeObject] | Unanswered:
    try:
        return await inspect.list_wfes(client, [settings.watch_namespace])
    except inspect.InspectError as exc:
        return Unanswered(str(exc))


async def _running(
    client: Client, objects: list[KubeObject] | Unanswered, settings: Settings
) -> list[tuple[KubeObject, KubeObject | None]] | Unanswered:
    if isinstance(objects, Unanswered):
        return objects
    out = []
    for obj in objects:
        status = obj.get("status") or {}
        if status.get("phase") != "Running":
            continue
        name = (status.get("pipelineRunRef") or {}).get("name")
        try:
            run = await inspect.read_lock(client, settings.policy(), name) if name else None
        except inspect.InspectError as exc:
            return Unanswered(str(exc))
        out.append((obj, run))
    return out


async def _ledger(
    client: Client, settings: Settings, now: datetime
) -> list[LedgerRow] | Unanswered:
    try:
        return await inspect.ledger(
            client, policy=settings.policy(), namespaces=[settings.watch_namespace], now=now
        )
    except inspect.InspectError as exc:
        return Unanswered(str(exc))
    except errors.ApiError as exc:
        return Unanswered(str(exc))


async def diagnose(
    client: Client,
    settings: Settings,
    *,
    where: Where,
    now: datetime,
    unphased_after: timedelta = timedelta(minutes=1),
) -> list[Verdict]:
    """Every check, in the runbooks' order: Tekton, the CRD, the controller, RBAC, locks,
    WorkflowExecutions."""
    tekton_ns, tekton_name = TEKTON_CONTROLLER
    flags_ns, flags_name = BUNDLES_FLAGS
    expected = crd.crd_manifest()
    deployment = await _ask(client.get(DEPLOYMENTS, where.namespace, where.deployment))
    lease = await _ask(client.get(LEASES, settings.lease_namespace, settings.lease_name))
    subject = _subject(where, deployment)
    objects = await _wfes(client, settings)
    return [
        doctor.tekton_api(await _served(client)),
        doctor.tekton_controller(
            await _ask(client.get(DEPLOYMENTS, tekton_ns, tekton_name)),
            namespace=tekton_ns,
            name=tekton_name,
        ),
        doctor.bundles_resolver(
            await _ask(client.get(CONFIG_MAPS, flags_ns, flags_name)),
            namespace=flags_ns,
            name=flags_name,
        ),
        doctor.crd_matches(
            await _ask(client.get(CRDS, None, expected["metadata"]["name"])), expected
        ),
        doctor.controller_deployment(deployment, namespace=where.namespace, name=where.deployment),
        doctor.lease(
            lease,
            now=now,
            leader_election=settings.leader_election,
            namespace=settings.lease_namespace,
            name=settings.lease_name,
        ),
        doctor_work.rbac(
            await _rbac(client, subject, settings),
            subject=subject if isinstance(subject, str) else "the controller",
        ),
        doctor_work.stuck_locks(await _ledger(client, settings, now), now=now),
        doctor_work.unphased(objects, now=now, grace=unphased_after),
        doctor_work.overdue(
            await _running(client, objects, settings),
            now=now,
            default_timeout=settings.default_timeout,
        ),
    ]
