"""One object, one spelling: checking a target's Kind against what the API server serves.

The lock is `sha256(spec.targetResource)` (docs/architecture.md, "The lock"), so two spellings
of one object would be two locks. `payment/deployment/checkout` and `payment/Deployment/checkout`
name the same Deployment; only one of them may ever run. The rule (docs/targets.md):

- the Kind is written as discovery names it (`Deployment`, `Node`, a CRD's `kind`), never in
  another case, as the plural, the singular or a short name (`deploy`);
- a namespaced kind is written `namespace/Kind/name`, a cluster-scoped one `Kind/name`;
- a kind served by more than one API group: the built-in group (core, `apps`, `*.k8s.io`, any
  group without a dot) keeps the bare Kind, and every other group is written `Kind.group`
  (`Service.serving.knative.dev`). Among custom groups only, no bare spelling is accepted: each
  is written `Kind.group`. A qualified spelling where the bare one is canonical is refused;
- a kind the cluster does not serve fails closed.

A catalog built from a discovery that partly failed (an aggregated API down) cannot prove a kind
unserved: `check_kind` then answers `Undecidable` and the shell retries later.

Pure: the shell builds the `KindCatalog` from discovery and hands it in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from wfe.core.errors import Problem
from wfe.core.target import FIELD, Target

__all__ = [
    "BUILTIN_KINDS",
    "Canonical",
    "KindCatalog",
    "KindCheck",
    "Misspelled",
    "ServedKind",
    "Undecidable",
    "builtin_catalog",
    "check_kind",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServedKind:
    """One kind as discovery lists it (one entry per API group; versions do not matter)."""

    kind: str
    group: str  # "" for the core group
    namespaced: bool
    plural: str
    singular: str = ""
    short_names: tuple[str, ...] = ()

    @property
    def builtin(self) -> bool:
        """Kubernetes' own groups: core, `apps`, `batch`, `*.k8s.io`, any group without a dot."""
        return "." not in self.group or self.group.endswith(".k8s.io")

    def spellings(self) -> frozenset[str]:
        """Every lowercase name kubectl would accept for this kind."""
        names = {self.kind.lower(), self.plural.lower(), *(s.lower() for s in self.short_names)}
        if self.singular:
            names.add(self.singular.lower())
        return frozenset(n for n in names if n)


@dataclass(frozen=True, slots=True)
class KindCatalog:
    """The kinds a cluster serves. `complete` is False when part of discovery failed."""

    kinds: tuple[ServedKind, ...]
    complete: bool = True

    @classmethod
    def of(cls, kinds: Iterable[ServedKind], *, complete: bool = True) -> KindCatalog:
        unique = {(k.group, k.kind): k for k in kinds}
        return cls(tuple(unique[key] for key in sorted(unique)), complete)

    def serving(self, kind: str) -> list[ServedKind]:
        """The entries whose Kind is exactly `kind`, built-in groups first."""
        return sorted(
            (k for k in self.kinds if k.kind == kind), key=lambda k: (not k.builtin, k.group)
        )

    def knows(self, kind_part: str) -> bool:
        """Whether `Kind` or `Kind.group` (as written in a target) is served exactly so."""
        kind, _, group = kind_part.partition(".")
        return any(k.kind == kind and (not group or _group_word(k) == group) for k in self.kinds)


@dataclass(frozen=True, slots=True)
class Canonical:
    """The target is spelled the one way its object may be spelled."""

    served: ServedKind


@dataclass(frozen=True, slots=True)
class Misspelled:
    """The target must be written otherwise; `canonical` is the spelling to use, if known."""

    problem: Problem
    canonical: str | None = None


@dataclass(frozen=True, slots=True)
class Undecidable:
    """Discovery was incomplete and the kind was not found: look again later."""

    reason: str


KindCheck = Canonical | Misspelled | Undecidable


def _group_word(served: ServedKind) -> str:
    return served.group or "core"


def _spelling(served: ServedKind, catalog: KindCatalog) -> str:
    """How this kind is written in a target in this cluster (`Kind` or `Kind.group`)."""
    peers = catalog.serving(served.kind)
    if len(peers) == 1 or (served.builtin and peers[0] is served):
        return served.kind
    return f"{served.kind}.{_group_word(served)}"


def _target_text(served: ServedKind, catalog: KindCatalog, target: Target) -> str:
    kind = _spelling(served, catalog)
    if not served.namespaced:
        return f"{kind}/{target.name}"
    return f"{target.namespace or 'NAMESPACE'}/{kind}/{target.name}"


def check_kind(target: Target, catalog: KindCatalog) -> KindCheck:
    """Is `target` written the one way its object may be? (See the module docstring.)"""
    kind, group = target.kind, target.group or ""
    exact = [k for k in catalog.serving(kind) if not group or _group_word(k) == group]
    if exact and (group or len(exact) == 1 or exact[0].builtin):
        served = exact[0]
        written = target.qualified_kind
        if _spelling(served, catalog) != written:
            return _misspelled(target, served, catalog, "is not how this cluster names the kind")
        return _scope(target, served, catalog)
    if exact:  # a bare kind served only by several custom groups
        choices = ", ".join(_target_text(k, catalog, target) for k in exact)
        return Misspelled(
            Problem(
                FIELD,
                f"kind {kind!r} is served by several API groups; write one of: {choices}",
            )
        )
    candidates = _by_other_spelling(kind, group, catalog)
    if len(candidates) == 1:
        return _misspelled(target, candidates[0], catalog, "is not the kind's canonical name")
    written = target.qualified_kind
    if candidates:
        choices = ", ".join(_target_text(k, catalog, target) for k in candidates)
        return Misspelled(
            Problem(FIELD, f"{written!r} is ambiguous in this cluster; write one of: {choices}")
        )
    if not catalog.complete:
        return Undecidable(
            f"kind {written!r} was not found and part of API discovery failed; retrying"
        )
    return Misspelled(
        Problem(
            FIELD,
            f"kind {written!r} is not served by this cluster (write the Kind as "
            "`kubectl api-resources` lists it, e.g. Deployment, StatefulSet, Node)",
        )
    )


def _by_other_spelling(kind: str, group: str, catalog: KindCatalog) -> list[ServedKind]:
    word = kind.lower()
    found = [
        k
        for k in catalog.kinds
        if word in k.spellings() and (not group or _group_word(k).lower() == group.lower())
    ]
    return sorted(found, key=lambda k: (not k.builtin, k.group))


def _misspelled(target: Target, served: ServedKind, catalog: KindCatalog, why: str) -> Misspelled:
    canonical = _target_text(served, catalog, target)
    # Without a namespace in what was written, the namespaced spelling is only a template.
    known = not (served.namespaced and target.namespace is None)
    return Misspelled(
        Problem(FIELD, f"{target.qualified_kind!r} {why}: write {canonical!r}"),
        canonical if known else None,
    )


def _scope(target: Target, served: ServedKind, catalog: KindCatalog) -> KindCheck:
    canonical = _target_text(served, catalog, target)
    if served.namespaced and target.namespace is None:
        return Misspelled(
            Problem(FIELD, f"{target.kind} is namespaced: write {canonical!r}"),
        )
    if not served.namespaced and target.namespace is not None:
        return Misspelled(
            Problem(FIELD, f"{target.kind} is cluster-scoped: write {canonical!r} (no namespace)"),
            canonical,
        )
    return Canonical(served)


def _builtin(
    kind: str, group: str, plural: str, *short: str, namespaced: bool = True
) -> ServedKind:
    return ServedKind(
        kind=kind,
        group=group,
        namespaced=namespaced,
        plural=plural,
        singular=kind.lower(),
        short_names=short,
    )


# The kinds every cluster serves that remediations commonly target: `wfe lock-name` warns
# about other spellings of them without a cluster to ask (the controller asks discovery).
BUILTIN_KINDS: tuple[ServedKind, ...] = (
    _builtin("Pod", "", "pods", "po"),
    _builtin("Service", "", "services", "svc"),
    _builtin("ConfigMap", "", "configmaps", "cm"),
    _builtin("Secret", "", "secrets"),
    _builtin("ServiceAccount", "", "serviceaccounts", "sa"),
    _builtin("PersistentVolumeClaim", "", "persistentvolumeclaims", "pvc"),
    _builtin("PersistentVolume", "", "persistentvolumes", "pv", namespaced=False),
    _builtin("Node", "", "nodes", "no", namespaced=False),
    _builtin("Namespace", "", "namespaces", "ns", namespaced=False),
    _builtin("Deployment", "apps", "deployments", "deploy"),
    _builtin("StatefulSet", "apps", "statefulsets", "sts"),
    _builtin("DaemonSet", "apps", "daemonsets", "ds"),
    _builtin("ReplicaSet", "apps", "replicasets", "rs"),
    _builtin("Job", "batch", "jobs"),
    _builtin("CronJob", "batch", "cronjobs", "cj"),
    _builtin("HorizontalPodAutoscaler", "autoscaling", "horizontalpodautoscalers", "hpa"),
    _builtin("Ingress", "networking.k8s.io", "ingresses", "ing"),
    _builtin("PodDisruptionBudget", "policy", "poddisruptionbudgets", "pdb"),
)


def builtin_catalog() -> KindCatalog:
    """The built-in kinds alone; incomplete, since any cluster serves more."""
    return KindCatalog.of(BUILTIN_KINDS, complete=False)
