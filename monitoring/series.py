"""The series contract: what the exporter really emits, and checks of queries against it.

`monitoring/exporter-series.json` records, for every sample name a real scrape of the
controller showed (taken by `tests/integration/monitoring/test_exporter_scrape.py`, which
fails when the live scrape and the file disagree), its label names and, for labels with a
fixed vocabulary, the values seen. Nothing machine- or run-specific is kept: per-object labels
(`namespace`, `name`), `le` and `version` are recorded without values.

Queries may also name series that other exporters provide (`EXTERNAL`): Prometheus' own `up`
and kube-state-metrics' Deployment series. Every scraped series also carries the target
labels Prometheus adds (`TARGET_LABELS`).

`expression_problems(expr, schema)` lists every metric or label an expression names that the
schema does not have; `input_series_problems(text, schema)` checks one promtool input series
(its label set must be exactly what the exporter emits, plus the target labels).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from monitoring import promql

__all__ = [
    "EXTERNAL",
    "OPEN_LABELS",
    "PROMTOOL_TESTS",
    "SNAPSHOT",
    "TARGET_LABELS",
    "Schema",
    "expression_problems",
    "input_series_problems",
    "load_schema",
    "merge",
    "promtool_inputs",
    "schema_from_exposition",
    "snapshot_text",
]

SNAPSHOT = Path(__file__).resolve().parent / "exporter-series.json"
PROMTOOL_TESTS = Path(__file__).resolve().parent / "prometheus" / "tests"
TARGET_LABELS = frozenset({"job", "instance"})
OPEN_LABELS = frozenset({"namespace", "name", "le", "version"})

# sample name → label name → sorted values (None: any value)
Schema = dict[str, dict[str, list[str] | None]]

# Series of other exporters that the rules and dashboard use, with the labels they carry.
# `up` is Prometheus' own; the rest are kube-state-metrics' (scraped with honor_labels, so
# `namespace` is the Deployment's).
EXTERNAL: Mapping[str, Mapping[str, list[str] | None]] = {
    "up": {},
    "kube_deployment_status_replicas_available": {"namespace": None, "deployment": None},
    "kube_deployment_spec_replicas": {"namespace": None, "deployment": None},
    # Only the seed's RB-WE-004 expression uses this one (monitoring/seed/).
    "kube_deployment_status_replicas_ready": {"namespace": None, "deployment": None},
}


def schema_from_exposition(text: str) -> Schema:
    """The schema of one scrape (Prometheus text exposition format)."""
    schema: Schema = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = schema.setdefault(sample.name, {})
            for label, value in sample.labels.items():
                if label in OPEN_LABELS:
                    labels[label] = None
                    continue
                values = labels.setdefault(label, [])
                assert values is not None
                if value not in values:
                    values.append(value)
                    values.sort()
    return schema


def merge(schemas: Iterable[Schema]) -> Schema:
    """The union of several scrapes' schemas."""
    out: Schema = {}
    for schema in schemas:
        for name, labels in schema.items():
            into = out.setdefault(name, {})
            for label, values in labels.items():
                if values is None or into.get(label, []) is None:
                    into[label] = None
                    continue
                merged = set(into.get(label) or []) | set(values)
                into[label] = sorted(merged)
    return {name: dict(sorted(labels.items())) for name, labels in sorted(out.items())}


def snapshot_text(schema: Schema) -> str:
    """The snapshot file's text for `schema`."""
    document = {
        "about": (
            "Sample names, label names and fixed-vocabulary label values of a real scrape of "
            "the controller (null: any value). Kept in step with the exporter by "
            "tests/integration/monitoring/test_exporter_scrape.py; rewrite it with "
            "WFE_WRITE_SERIES_SNAPSHOT=1 pytest tests/integration/monitoring."
        ),
        "series": merge([schema]),
    }
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def load_schema(path: Path = SNAPSHOT) -> Schema:
    """The recorded exporter schema plus the external series."""
    data: dict[str, Any] = json.loads(path.read_text())
    schema: Schema = {name: dict(labels) for name, labels in data["series"].items()}
    for name, labels in EXTERNAL.items():
        schema[name] = dict(labels)
    return schema


def _matches(matcher: promql.Matcher, values: list[str]) -> bool:
    if matcher.op == "=":
        return matcher.value in values
    if matcher.op == "!=":
        return any(v != matcher.value for v in values)
    pattern = re.compile(matcher.value)
    if matcher.op == "=~":
        return any(pattern.fullmatch(v) for v in values)
    return any(not pattern.fullmatch(v) for v in values)


def expression_problems(
    expr: str, schema: Schema, *, extra_labels: Iterable[str] = ()
) -> list[str]:
    """Every metric, label or label value `expr` names that the schema does not have.

    `extra_labels` are labels the caller knows exist (e.g. Grafana variables' labels).
    """
    refs = promql.references(expr)
    problems: list[str] = []
    known_labels = set(TARGET_LABELS) | set(extra_labels) | refs.produced_labels
    for series in refs.series:
        if series.metric not in schema:
            problems.append(f"series {series.metric!r} is not exported")
            continue
        labels = schema[series.metric]
        known_labels |= set(labels)
        for matcher in series.matchers:
            if matcher.label in TARGET_LABELS:
                continue
            if matcher.label not in labels:
                problems.append(f"{series.metric} has no label {matcher.label!r}")
                continue
            values = labels[matcher.label]
            if values is not None and not _matches(matcher, values):
                problems.append(
                    f"{series.metric}{{{matcher.label}{matcher.op}{matcher.value!r}}} matches "
                    f"no exported value (seen: {values})"
                )
    for label in sorted((refs.grouping_labels | refs.source_labels) - known_labels - {"le"}):
        problems.append(f"label {label!r} is on none of the series the expression uses")
    if "le" in refs.grouping_labels and not any(s.metric.endswith("_bucket") for s in refs.series):
        problems.append("groups by 'le' but uses no histogram bucket series")
    return problems


def input_series_problems(text: str, schema: Schema) -> list[str]:
    """Problems with one promtool input series (`name{labels}`), shaped as a real scrape."""
    name, labels = promql.parse_series(text)
    if name not in schema:
        return [f"{text}: series {name!r} is not exported"]
    problems: list[str] = []
    expected = set(schema[name]) | TARGET_LABELS
    if set(labels) != expected:
        problems.append(f"{text}: labels {sorted(labels)} but a scrape has {sorted(expected)}")
    for label, value in labels.items():
        values = schema[name].get(label)
        if values is not None and value not in values:
            problems.append(f"{text}: {label}={value!r} is not an exported value ({values})")
    return problems


def promtool_inputs(folder: Path = PROMTOOL_TESTS) -> list[tuple[Path, str]]:
    """Every input series of the promtool test files in `folder`: (file, series text)."""
    out = []
    for path in sorted(folder.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        for test in document.get("tests", []):
            for item in test.get("input_series", []):
                out.append((path, str(item["series"])))
    return out
