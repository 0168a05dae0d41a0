"""`wfe doctor`'s platform verdicts: Tekton, the CRD, the controller and its Lease, as the
runbooks diagnose them by hand (docs/runbooks/README.md#rb-we-004; docs/cli.md).

Each check takes what `controller.doctor_probe` observed (an object, None for "not found", or
`Unanswered` when the cluster would not say: forbidden, an API error) and returns one
`Verdict`: ok, warn, fail, or unknown (never a crash). A verdict that is not ok names its fix.
Nothing here reads the cluster or the clock; `core.doctor_work` has the RBAC, lock and
WorkflowExecution checks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from wfe.core.durations import format_duration
from wfe.core.verdict import (
    Unanswered,
    Verdict,
    names,
    parse_time,
    runbook,
    unknown,
)

__all__ = [
    "BUNDLES_FLAG",
    "bundles_resolver",
    "controller_deployment",
    "crd_digest",
    "crd_matches",
    "lease",
    "tekton_api",
    "tekton_controller",
]

# --- Tekton (RB-WE-004) ----------------------------------------------------------------------


def tekton_api(served: bool | Unanswered) -> Verdict:
    check = "tekton-api"
    if isinstance(served, Unanswered):
        return unknown(check, served)
    if served:
        return Verdict(check=check, status="ok", message="tekton.dev/v1 pipelineruns is served")
    return Verdict(
        check=check,
        status="fail",
        message="tekton.dev/v1 pipelineruns is not served: the controller cannot start runs",
        fix=runbook("RB-WE-004"),
    )


def _available(deployment: Mapping[str, Any]) -> tuple[bool, str]:
    status = deployment.get("status") or {}
    ready = int(status.get("availableReplicas") or 0)
    wanted = (deployment.get("spec") or {}).get("replicas", 1)
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Available":
            ok = condition.get("status") == "True"
            why = condition.get("message") or condition.get("reason") or ""
            return ok, f"{ready}/{wanted} available" + (f" ({why})" if why and not ok else "")
    return ready > 0, f"{ready}/{wanted} available"


def tekton_controller(
    deployment: Mapping[str, Any] | Unanswered | None, *, namespace: str, name: str
) -> Verdict:
    """Tekton's controller Deployment; only a warning when absent (a simulator, another
    install layout)."""
    check = "tekton-controller"
    if isinstance(deployment, Unanswered):
        return unknown(check, deployment)
    if deployment is None:
        return Verdict(
            check=check,
            status="warn",
            message=f"deployment {namespace}/{name} not found (a simulator or another layout?)",
            fix=runbook("RB-WE-004"),
        )
    ok, text = _available(deployment)
    if ok:
        return Verdict(check=check, status="ok", message=f"{namespace}/{name}: {text}")
    return Verdict(
        check=check,
        status="fail",
        message=f"{namespace}/{name}: {text}: PipelineRuns will not progress",
        fix=f"kubectl rollout status -n {namespace} deploy/{name}; {runbook('RB-WE-004')}",
    )


# Tekton's resolver feature flags: ConfigMap `resolvers-feature-flags` in namespace
# `tekton-pipelines-resolvers`, key `enable-bundles-resolver`, true by default (Tekton's
# bundle-resolver documentation). Bundle references need it (docs/api.md).
BUNDLES_FLAG = "enable-bundles-resolver"


def bundles_resolver(
    config_map: Mapping[str, Any] | Unanswered | None, *, namespace: str, name: str
) -> Verdict:
    check = "bundles-resolver"
    where = f"configmap {namespace}/{name}"
    if isinstance(config_map, Unanswered):
        return Verdict(
            check=check,
            status="warn",
            message=f"{where} unreadable: {config_map.reason.splitlines()[0]}",
        )
    if config_map is None:
        return Verdict(
            check=check,
            status="warn",
            message=f"{where} not found: Tekton's resolvers are not installed here",
            fix=runbook("RB-WE-004"),
        )
    value = (config_map.get("data") or {}).get(BUNDLES_FLAG)
    if value is None or str(value).strip().lower() == "true":
        shown = "true" if value is not None else "unset, Tekton's default true"
        return Verdict(check=check, status="ok", message=f"{BUNDLES_FLAG}: {shown}")
    return Verdict(
        check=check,
        status="fail",
        message=f"{where}: {BUNDLES_FLAG}={value!r}: bundle workflows cannot resolve",
        fix=f"kubectl patch configmap -n {namespace} {name} --type=merge "
        f"""-p '{{"data":{{"{BUNDLES_FLAG}":"true"}}}}'""",
    )


# --- the CRD -----------------------------------------------------------------------------------


def crd_digest(crd: Mapping[str, Any]) -> str:
    """A digest of what decides what the API server accepts: each version's name, served,
    storage and schema (canonical JSON)."""
    versions = sorted(
        (
            {
                "name": v.get("name"),
                "served": v.get("served"),
                "storage": v.get("storage"),
                "schema": (v.get("schema") or {}).get("openAPIV3Schema"),
            }
            for v in (crd.get("spec") or {}).get("versions") or []
        ),
        key=lambda v: str(v["name"]),
    )
    text = json.dumps(versions, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _fields(schema: Mapping[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}.{key}" if prefix else key
        out.add(path)
        if isinstance(sub, Mapping):
            out |= _fields(sub, path)
            items = sub.get("items")
            if isinstance(items, Mapping):
                out |= _fields(items, path + "[]")
    return out


def _served(crd: Mapping[str, Any]) -> dict[str, Any]:
    return {
        str(v.get("name")): v
        for v in (crd.get("spec") or {}).get("versions") or []
        if v.get("served")
    }


def _schema(version: Mapping[str, Any]) -> Mapping[str, Any]:
    schema: Mapping[str, Any] = (version.get("schema") or {}).get("openAPIV3Schema") or {}
    return schema


def crd_matches(
    installed: Mapping[str, Any] | Unanswered | None, expected: Mapping[str, Any]
) -> Verdict:
    """The installed WorkflowExecution CRD is the one this build generates (`wfe crd`)."""
    check = "crd"
    fix = "wfe crd | kubectl apply -f -  (or helm upgrade with this release's chart)"
    name = (expected.get("metadata") or {}).get("name", "the CRD")
    if isinstance(installed, Unanswered):
        return unknown(check, installed)
    if installed is None:
        return Verdict(check=check, status="fail", message=f"{name} is not installed", fix=fix)
    have, want = crd_digest(installed), crd_digest(expected)
    if have == want:
        return Verdict(check=check, status="ok", message=f"{name} is this build's ({want})")
    got, wanted = _served(installed), _served(expected)
    problems = [f"version {v} not served" for v in sorted(set(wanted) - set(got))]
    for version in sorted(set(wanted) & set(got)):
        missing = sorted(_fields(_schema(wanted[version])) - _fields(_schema(got[version])))
        if missing:
            problems.append(f"{version} lacks {names(missing)}")
    detail = "; ".join(problems) or "the schemas differ"
    return Verdict(
        check=check,
        status="fail",
        message=f"{name} is not this build's (digest {have}, expected {want}): {detail}",
        fix=fix,
    )


# --- the controller (RB-WE-004) ---------------------------------------------------------------


def controller_deployment(
    deployment: Mapping[str, Any] | Unanswered | None, *, namespace: str, name: str
) -> Verdict:
    check = "controller"
    if isinstance(deployment, Unanswered):
        return unknown(check, deployment)
    if deployment is None:
        return Verdict(
            check=check,
            status="fail",
            message=f"deployment {namespace}/{name} not found: nothing reconciles",
            fix="helm install the chart (docs/deploy.md), or give --controller-namespace/"
            "--controller-deployment",
        )
    ok, text = _available(deployment)
    if ok:
        return Verdict(check=check, status="ok", message=f"{namespace}/{name}: {text}")
    return Verdict(
        check=check,
        status="fail",
        message=f"{namespace}/{name}: {text}",
        fix=f"kubectl get pods -n {namespace} -l app={name}; {runbook('RB-WE-004')}",
    )


def lease(
    obj: Mapping[str, Any] | Unanswered | None,
    *,
    now: datetime,
    leader_election: bool,
    namespace: str,
    name: str,
) -> Verdict:
    """The leader Lease is held and was renewed within its leaseDuration (by this machine's
    clock: a skewed clock can mislead this one check, never the controller)."""
    check = "leader-lease"
    fix = runbook("RB-WE-004")
    if not leader_election:
        return Verdict(check=check, status="ok", message="leader election is off (settings)")
    if isinstance(obj, Unanswered):
        return unknown(check, obj)
    where = f"lease {namespace}/{name}"
    if obj is None:
        return Verdict(
            check=check, status="fail", message=f"{where} not found: no replica ever led", fix=fix
        )
    spec = obj.get("spec") or {}
    holder = spec.get("holderIdentity")
    if not holder:
        return Verdict(check=check, status="fail", message=f"{where} is held by nobody", fix=fix)
    renewed = parse_time(spec.get("renewTime"))
    duration = timedelta(seconds=int(spec.get("leaseDurationSeconds") or 0))
    if renewed is None:
        return Verdict(
            check=check, status="fail", message=f"{where}: {holder} never renewed it", fix=fix
        )
    age = now - renewed
    if age > duration:
        return Verdict(
            check=check,
            status="fail",
            message=f"{where}: {holder} last renewed it {format_duration(age)} ago, "
            f"longer than its {format_duration(duration)} duration",
            fix=fix,
        )
    return Verdict(
        check=check,
        status="ok",
        message=f"held by {holder}, renewed {format_duration(max(age, timedelta(0)))} ago",
    )
