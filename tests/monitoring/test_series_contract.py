"""Every series and label the rules, the dashboard and the promtool inputs name is one the
exporter emits (as recorded from a real scrape in monitoring/exporter-series.json, which
tests/integration/monitoring/test_exporter_scrape.py keeps honest)."""

from __future__ import annotations

import re

import pytest

from monitoring import alerts, dashboard, promql, series

SCHEMA = series.load_schema()


def _rule_exprs() -> list[tuple[str, str]]:
    return [(r["alert"], r["expr"]) for g in alerts.rule_groups() for r in g["rules"]]


@pytest.mark.parametrize(("name", "expr"), _rule_exprs(), ids=[n for n, _ in _rule_exprs()])
def test_rule_names_only_exported_series_and_labels(name: str, expr: str) -> None:
    assert series.expression_problems(expr, SCHEMA) == []


@pytest.mark.parametrize("expr", dashboard.queries())
def test_dashboard_query_names_only_exported_series_and_labels(expr: str) -> None:
    assert series.expression_problems(expr, SCHEMA) == []


def test_seed_expressions_name_exported_series() -> None:
    for expr in alerts.SEED_EXPRESSIONS.values():
        assert series.expression_problems(expr, SCHEMA) == []


def test_promtool_inputs_are_shaped_like_a_scrape() -> None:
    inputs = series.promtool_inputs() + series.promtool_inputs(alerts.SEED_RULES_FILE.parent)
    assert len(inputs) > 30
    problems = [
        f"{p.name}: {x}" for p, t in inputs for x in series.input_series_problems(t, SCHEMA)
    ]
    assert problems == []


def test_annotation_templates_use_labels_the_expression_has() -> None:
    for group in alerts.rule_groups():
        for rule in group["rules"]:
            text = " ".join(rule["annotations"].values())
            used = set(re.findall(r"\$labels\.(\w+)", text))
            refs = promql.references(rule["expr"])
            have = {label for s in refs.series for label in SCHEMA[s.metric]}
            have |= refs.produced_labels | series.TARGET_LABELS
            assert used <= have, rule["alert"]


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("rate(workflowexecution_error_total[5m])", "'workflowexecution_error_total' is not"),
        ('workflowexecution_skip_total{phase="x"}', "has no label 'phase'"),
        ('workflowexecution_skip_total{reason="Busy"}', "matches no exported value"),
        ('workflowexecution_skip_total{reason=~"Res.*"} or nope', "'nope' is not exported"),
        ("sum by (target) (workflowexecution_skip_total)", "label 'target' is on none"),
        ("sum by (le) (workflowexecution_skip_total)", "uses no histogram bucket"),
        (
            "workflowexecution_lock_released and on (namespace, lock) workflowexecution_leader",
            "label 'lock'",
        ),
    ],
)
def test_the_check_catches_what_the_exporter_does_not_emit(expr: str, problem: str) -> None:
    problems = series.expression_problems(expr, SCHEMA)
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('workflowexecution_skip_total{reason="ResourceBusy"}', "labels"),  # no target labels
        (
            'workflowexecution_lock_released{name="a",job="j",instance="i"}',
            "labels ['instance', 'job', 'name']",
        ),
        ('workflowexecution_skip_total{reason="Busy",job="j",instance="i"}', "not an exported"),
        ('workflowexecution_lock_held{name="a",namespace="b",job="j",instance="i"}', "not exp"),
    ],
)
def test_the_check_catches_misshapen_promtool_inputs(text: str, problem: str) -> None:
    assert any(problem in p for p in series.input_series_problems(text, SCHEMA))
