"""Helpers of the chart tests: find helm, render the chart, read values.yaml's documentation.

helm is built from its Go module by ``tools/k8s-testbin/build.sh`` into the same cache directory
as kube-apiserver (``wfe.dev.testbin.testbin_dir()``). Without it the chart tests are skipped,
unless ``CI`` is set, where they fail (as the integration tests do without kube-apiserver).

``python tests/deploy/helmchart.py --write`` rewrites the chart-values tables of
docs/configuration.md and docs/deploy.md from values.yaml's comments; a test fails while they
differ.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from wfe.dev.testbin import testbin_dir

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "workflow-execution"
VALUES = CHART / "values.yaml"
CONFIG_DOC = ROOT / "docs" / "configuration.md"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
VALUE_DOCS = (CONFIG_DOC, DEPLOY_DOC)
DOC_BEGIN = "<!-- chart-values:begin -->\n"
DOC_END = "<!-- chart-values:end -->"

# Settings the chart derives from its own values (a `config.<key>` for them is refused).
DERIVED_SETTINGS = {
    "execution_namespace": "namespaces.execution",
    "lease_namespace": "the release namespace",
    "runner_service_account": "runner.serviceAccount.name",
    "metrics_address": "ports.metrics",
    "health_address": "ports.health",
}

Manifest = dict[str, Any]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def helm_path() -> Path | None:
    """The helm build.sh made, or None."""
    path = testbin_dir() / "helm"
    return path if path.is_file() and os.access(path, os.X_OK) else None


class HelmError(RuntimeError):
    """helm exited non-zero; the message is its stderr."""


@dataclass(frozen=True)
class Rendered:
    """The documents of one `helm template`."""

    docs: list[Manifest]

    def kinds(self) -> list[tuple[str, str, str]]:
        return sorted(
            (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])
            for d in self.docs
        )

    def all(self, kind: str) -> list[Manifest]:
        return [d for d in self.docs if d["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> Manifest:
        found = [d for d in self.all(kind) if name is None or d["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
        return found[0]

    def maybe(self, kind: str, name: str | None = None) -> Manifest | None:
        found = [d for d in self.all(kind) if name is None or d["metadata"]["name"] == name]
        return found[0] if found else None


def template(
    helm: Path,
    *,
    namespace: str = "kubernaut-system",
    release: str = "workflow-execution",
    values: Mapping[str, Any] | None = None,
    sets: Sequence[str] = (),
    include_crds: bool = False,
) -> str:
    """The text `helm template` renders (``values`` as a values file, ``sets`` as --set)."""
    argv = [str(helm), "template", release, str(CHART), "--namespace", namespace]
    if include_crds:
        argv.append("--include-crds")
    for item in sets:
        argv += ["--set", item]
    if values:
        argv += ["--values", "-"]
    result = subprocess.run(
        argv,
        input=json.dumps(dict(values)) if values else None,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise HelmError(result.stderr.strip())
    return result.stdout


def render(helm: Path, **kwargs: Any) -> Rendered:
    """`helm template` parsed into documents (empty documents dropped)."""
    text = template(helm, **kwargs)
    return Rendered([d for d in yaml.safe_load_all(text) if d])


# --- values.yaml documentation -------------------------------------------------------------------


@dataclass(frozen=True)
class ValueDoc:
    """One documented value: its dotted key, default (from values.yaml) and description."""

    key: str
    default: Any
    description: str


_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_]+):(?: |$)")
_COMMENT = re.compile(r"^(?P<indent> *)# ?(?P<text>.*)$")


def value_docs(text: str | None = None) -> list[ValueDoc]:
    """Every documented value of values.yaml, in file order.

    The rule: a key with a comment block right above it is documented, its whole value (a
    mapping included) being the default. A key without one must be a non-empty mapping whose
    keys are all documented the same way. Anything else raises AssertionError naming the key.
    """
    text = VALUES.read_text(encoding="utf-8") if text is None else text
    data = yaml.safe_load(text)
    lines = text.splitlines()
    comments: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    block: list[str] = []
    block_indent = -1
    for line in lines:
        comment = _COMMENT.match(line)
        if comment:
            if not block or len(comment["indent"]) != block_indent:
                block, block_indent = [], len(comment["indent"])
            block.append(comment["text"].strip())
            continue
        key = _KEY.match(line)
        if not key:
            block = []
            continue
        indent = len(key["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([*(k for _, k in stack), key["key"]])
        stack.append((indent, key["key"]))
        if block and block_indent == indent:
            comments[path] = " ".join(block)
        block = []

    docs: list[ValueDoc] = []

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for name, value in node.items():
            key = f"{prefix}{name}"
            if key in comments:
                docs.append(ValueDoc(key, value, comments[key]))
                continue
            if not isinstance(value, dict) or not value:
                raise AssertionError(
                    f"values.yaml: {key} has no comment above it (document it, or its keys)"
                )
            walk(value, f"{key}.")

    walk(data, "")
    return docs


def _default(value: Any) -> str:
    if isinstance(value, str):
        return f'`"{value}"`' if value == "" else f"`{value}`"
    return f"`{json.dumps(value, separators=(', ', ': '))}`"


def values_table(docs: Iterable[ValueDoc] | None = None) -> str:
    """The Markdown table of docs/configuration.md's "Chart values" section."""
    rows = ["| value | default | meaning |", "|---|---|---|"]
    for doc in value_docs() if docs is None else docs:
        description = doc.description.replace("|", "\\|")
        rows.append(f"| `{doc.key}` | {_default(doc.default)} | {description} |")
    return "\n".join(rows) + "\n"


def documented_table(doc: Path = CONFIG_DOC) -> str:
    """The chart-values table as ``doc`` has it (between the chart-values markers)."""
    text = doc.read_text(encoding="utf-8")
    if DOC_BEGIN not in text or DOC_END not in text:
        raise AssertionError(f"{doc.name} lacks the chart-values markers")
    return text.split(DOC_BEGIN, 1)[1].split(DOC_END, 1)[0]


def write_docs() -> None:
    for doc in VALUE_DOCS:
        text = doc.read_text(encoding="utf-8")
        before, rest = text.split(DOC_BEGIN, 1)
        _, after = rest.split(DOC_END, 1)
        doc.write_text(before + DOC_BEGIN + values_table() + DOC_END + after, encoding="utf-8")


def leaves(node: Any, prefix: str = "") -> Iterator[str]:
    """Dotted paths of the leaves of a parsed YAML mapping."""
    if isinstance(node, dict) and node:
        for name, value in node.items():
            yield from leaves(value, f"{prefix}{name}.")
    else:
        yield prefix.rstrip(".")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_docs()
    else:
        sys.stdout.write(values_table())
