"""Where the locally built Kubernetes binaries, etcd and Tekton CRDs live (docs/testenv.md).

``tools/k8s-testbin/build.sh`` builds them into ``${XDG_CACHE_HOME:-~/.cache}/wfe-testbin/<k8s
version>/`` (or ``$WFE_TESTBIN_DIR``); this module applies the same rule, so the launcher finds
what the build script made. :data:`KUBERNETES_VERSION` must equal the ``k8s.io/kubernetes``
version in ``tools/k8s-testbin/go.mod`` (a unit test checks it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BINARIES",
    "KUBERNETES_VERSION",
    "TEKTON_CRD_FILES",
    "Testbin",
    "TestbinMissingError",
    "find_testbin",
    "testbin_dir",
]

KUBERNETES_VERSION = "v1.37.2"
"""The kube-apiserver version the cache directory is keyed by (tools/k8s-testbin/go.mod)."""

BINARIES = ("kube-apiserver", "etcd", "kube-controller-manager")
"""The programs build.sh builds that the control plane runs."""

TEKTON_CRD_FILES = ("300-pipelinerun.yaml", "300-taskrun.yaml")
"""Tekton's CRD files (from ``config/300-crds/``) that build.sh copies to ``tekton-crds/``."""

_BUILD_HINT = "run tools/k8s-testbin/build.sh (or scripts/bootstrap) to build them"


class TestbinMissingError(FileNotFoundError):
    """The binaries or CRDs build.sh makes are not where they should be."""

    __test__ = False  # not a pytest test class, despite the name


@dataclass(frozen=True)
class Testbin:
    """The files one control plane needs, as build.sh lays them out."""

    __test__ = False  # not a pytest test class, despite the name

    directory: Path
    kube_apiserver: Path
    etcd: Path
    tekton_crds: tuple[Path, ...]
    kube_controller_manager: Path


def testbin_dir() -> Path:
    """The directory build.sh writes to: ``$WFE_TESTBIN_DIR``, else the XDG cache rule."""
    override = os.environ.get("WFE_TESTBIN_DIR")
    if override:
        return Path(override).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "wfe-testbin" / KUBERNETES_VERSION


def find_testbin(directory: Path | None = None) -> Testbin:
    """Locate the binaries and Tekton's CRDs in ``directory`` (default :func:`testbin_dir`).

    Raises:
        TestbinMissingError: a file is missing or a binary is not executable; the message names
            it and says how to build it.
    """
    root = directory if directory is not None else testbin_dir()
    missing: list[str] = []
    binaries: list[Path] = []
    for name in BINARIES:
        path = root / name
        binaries.append(path)
        if not (path.is_file() and os.access(path, os.X_OK)):
            missing.append(name)
    crds = tuple(root / "tekton-crds" / f for f in TEKTON_CRD_FILES)
    missing += [f"tekton-crds/{p.name}" for p in crds if not p.is_file()]
    if missing:
        raise TestbinMissingError(f"{', '.join(missing)} not found in {root}: {_BUILD_HINT}")
    return Testbin(
        directory=root,
        kube_apiserver=binaries[0],
        etcd=binaries[1],
        tekton_crds=crds,
        kube_controller_manager=binaries[2],
    )
