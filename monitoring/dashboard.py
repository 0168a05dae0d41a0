"""The Grafana dashboard of the WorkflowExecution controller, generated from one list of panels.

Run `python monitoring/dashboard.py` to write
`monitoring/grafana/workflowexecution-dashboard.json` (`--check` fails when it is stale). Every
query is checked against the series the exporter really emits
(`tests/monitoring/test_series_contract.py`, and against a live scrape in
`tests/integration/monitoring/test_exporter_scrape.py`) and evaluated by a real Prometheus in
`tests/integration/monitoring/test_prometheus_e2e.py`. Queries use fixed `[5m]` windows, like
the alert rules, so that what the dashboard shows is what the alerts see.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DASHBOARD_FILE", "PANELS", "Panel", "Query", "dashboard", "main", "queries", "render"]

DASHBOARD_FILE = Path(__file__).resolve().parent / "grafana" / "workflowexecution-dashboard.json"
_DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
_RB = "https://github.com/kubernaut/workflow-execution/blob/main/docs/runbooks/README.md"


@dataclass(frozen=True, slots=True)
class Query:
    """One PromQL query of a panel."""

    expr: str
    legend: str = ""
    instant: bool = False


@dataclass(frozen=True, slots=True)
class Panel:
    """One panel; `kind` is a Grafana panel type, or "row" for a section header."""

    title: str
    kind: str = "timeseries"
    queries: tuple[Query, ...] = ()
    unit: str = "short"
    description: str = ""
    width: int = 12
    height: int = 8
    extra: dict[str, Any] = field(default_factory=dict)


_RUNNING = 'workflowexecution_phase_start_timestamp{phase="Running"}'
_HELD_AFTER_FINISH = "workflowexecution_lock_released == 0"

PANELS: tuple[Panel, ...] = (
    Panel("Outcomes (RB-WE-001, RB-WE-005)", kind="row"),
    Panel(
        "Error rate by category and reason",
        queries=(
            Query(
                "sum by (category, reason) (rate(workflowexecution_errors_total[5m]))",
                "{{category}}/{{reason}}",
            ),
        ),
        unit="ops",
        description=f"Failures recorded or met per second. Runbook: {_RB}#rb-we-001",
    ),
    Panel(
        "Errors per decided WorkflowExecution (alert: > 10 %)",
        queries=(
            Query(
                "sum(rate(workflowexecution_errors_total[5m]))\n/\n"
                'sum(rate(workflowexecution_phase_transitions_total{phase="Pending"}[5m]))',
                "errors per WFE",
            ),
        ),
        unit="percentunit",
        description="The WorkflowExecutionHighErrorRate ratio.",
    ),
    Panel(
        "Skip rate by reason",
        queries=(
            Query(
                "sum by (reason) (rate(workflowexecution_skip_total[5m]))",
                "{{reason}}",
            ),
        ),
        unit="ops",
        description=f"Skipped WorkflowExecutions per second. Runbook: {_RB}#rb-we-005",
    ),
    Panel(
        "Finished WorkflowExecutions by outcome",
        queries=(
            Query("sum by (outcome) (rate(workflowexecution_total[5m]))", "{{outcome}}"),
            Query(
                "sum(rate(workflowexecution_pipelinerun_creation_total[5m]))",
                "PipelineRuns created",
            ),
        ),
        unit="ops",
    ),
    Panel(
        "Phase duration p95",
        queries=(
            Query(
                "histogram_quantile(0.95, sum by (le, phase) "
                "(rate(workflowexecution_phase_duration_seconds_bucket[5m])))",
                "{{phase}}",
            ),
        ),
        unit="s",
        description=f"Time spent in a phase, observed when leaving it. Runbook: {_RB}#rb-we-002",
    ),
    Panel(
        "Run duration p95 by outcome",
        queries=(
            Query(
                "histogram_quantile(0.95, sum by (le, outcome) "
                "(rate(workflowexecution_duration_seconds_bucket[5m])))",
                "{{outcome}}",
            ),
        ),
        unit="s",
    ),
    Panel("Running WorkflowExecutions and locks (RB-WE-002, RB-WE-003)", kind="row"),
    Panel(
        "Running WorkflowExecutions",
        kind="stat",
        queries=(Query(f"count({_RUNNING}) or vector(0)", "running"),),
        width=6,
    ),
    Panel(
        "Locks held",
        kind="stat",
        queries=(
            Query(
                f"(count({_RUNNING}) or vector(0))\n+\n(count({_HELD_AFTER_FINISH}) or vector(0))",
                "locks",
            ),
        ),
        description="Running WorkflowExecutions plus finished ones still in their cooldown or "
        "backoff: each holds its target's PipelineRun.",
        width=6,
    ),
    Panel(
        "Longest running",
        kind="stat",
        queries=(Query(f"max(time() - {_RUNNING}) or vector(0)", "longest"),),
        unit="s",
        width=6,
    ),
    Panel(
        "Oldest lock past its release time",
        kind="stat",
        queries=(
            Query(
                "max(time() - workflowexecution_lock_release_due_timestamp) or vector(0)",
                "overdue",
            ),
        ),
        unit="s",
        description="Seconds the most overdue held lock is past its release time (negative: "
        f"not due yet). Runbook: {_RB}#rb-we-003",
        width=6,
    ),
    Panel(
        "Running WorkflowExecutions (age)",
        kind="table",
        queries=(Query(f"time() - {_RUNNING}", instant=True),),
        unit="s",
        description=f"Runbook: {_RB}#rb-we-002",
    ),
    Panel(
        "Locks held after finishing (seconds past release time)",
        kind="table",
        queries=(
            Query(
                "(time() - workflowexecution_lock_release_due_timestamp)\n"
                f"and on (namespace, name) {_HELD_AFTER_FINISH}",
                instant=True,
            ),
        ),
        unit="s",
        description=f"Positive values are overdue. Runbook: {_RB}#rb-we-003",
    ),
    Panel(
        "Oldest held locks (age)",
        kind="table",
        queries=(
            Query("topk(10, time() - workflowexecution_lock_held_since_timestamp)", instant=True),
        ),
        unit="s",
        description="Seconds since each held lock (PipelineRun) was taken, whatever the phase; "
        "the ten oldest. WorkflowExecutionLockHeldTooLong (signal lock_age) fires past "
        "`lock_held_max_seconds` of monitoring/alerts.py. "
        f"Runbook: {_RB}#rb-we-003",
        width=24,
    ),
    Panel("Backoff and blocks (RB-WE-006)", kind="row"),
    Panel(
        "Skips caused by failure history",
        queries=(
            Query(
                "sum by (reason) (increase(workflowexecution_backoff_skip_total[1h]))",
                "{{reason}}",
            ),
        ),
        description="ExhaustedRetries and PreviousExecutionFailed skips in the last hour: "
        f"blocked targets need a person. Runbook: {_RB}#rb-we-006",
    ),
    Panel(
        "Failed WorkflowExecutions (last hour)",
        queries=(
            Query(
                'sum(increase(workflowexecution_total{outcome="Failed"}[1h]))',
                "failed",
            ),
        ),
    ),
    Panel("Controller health (RB-WE-004)", kind="row"),
    Panel(
        "Reconciles by result",
        queries=(
            Query(
                "sum by (result) (rate(workflowexecution_reconcile_total[5m]))",
                "{{result}}",
            ),
        ),
        unit="ops",
    ),
    Panel(
        "Reconcile duration p95",
        queries=(
            Query(
                "histogram_quantile(0.95, sum by (le) "
                "(rate(workflowexecution_reconcile_duration_seconds_bucket[5m])))",
                "p95",
            ),
        ),
        unit="s",
    ),
    Panel(
        "Work queue depth and retries",
        queries=(
            Query("sum by (instance) (workflowexecution_workqueue_depth)", "depth {{instance}}"),
            Query(
                "sum(rate(workflowexecution_workqueue_retries_total[5m]))",
                "retries/s",
            ),
        ),
    ),
    Panel(
        "Work queue wait p95",
        queries=(
            Query(
                "histogram_quantile(0.95, sum by (le) "
                "(rate(workflowexecution_workqueue_queue_duration_seconds_bucket[5m])))",
                "p95",
            ),
        ),
        unit="s",
    ),
    Panel(
        "Leader and scrape targets",
        queries=(
            Query("max by (instance) (workflowexecution_leader)", "leader {{instance}}"),
            Query('up{job="workflow-execution"}', "up {{instance}}"),
        ),
        description=f"Exactly one replica should lead. No target up: see {_RB}#rb-we-004",
    ),
    Panel(
        "Audit events and Kubernetes Events",
        queries=(
            Query("sum(rate(workflowexecution_audit_events_sent_total[5m]))", "audit sent"),
            Query(
                "sum by (reason) (rate(workflowexecution_audit_events_dropped_total[5m]))",
                "audit dropped {{reason}}",
            ),
            Query(
                "sum(rate(workflowexecution_kubernetes_events_failed_total[5m]))",
                "Events failed",
            ),
        ),
        unit="ops",
        description=f"Runbook: {_RB}#audit-events-dropped",
    ),
    Panel(
        "Version",
        kind="table",
        queries=(Query("max by (instance, version) (workflowexecution_build_info)", instant=True),),
        width=24,
        height=5,
    ),
)


def queries() -> list[str]:
    """Every PromQL query of the dashboard."""
    return [q.expr for p in PANELS for q in p.queries]


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    grid = {"h": 1 if panel.kind == "row" else panel.height, "w": panel.width, "x": x, "y": y}
    if panel.kind == "row":
        return {
            "type": "row",
            "id": panel_id,
            "title": panel.title,
            "collapsed": False,
            "gridPos": {**grid, "w": 24, "x": 0},
            "panels": [],
        }
    targets = []
    for n, query in enumerate(panel.queries):
        target: dict[str, Any] = {
            "datasource": _DATASOURCE,
            "expr": query.expr,
            "legendFormat": query.legend or "__auto",
            "refId": chr(ord("A") + n),
        }
        if query.instant:
            target.update({"instant": True, "range": False, "format": "table"})
        targets.append(target)
    out: dict[str, Any] = {
        "type": panel.kind,
        "id": panel_id,
        "title": panel.title,
        "datasource": _DATASOURCE,
        "gridPos": grid,
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "targets": targets,
    }
    if panel.description:
        out["description"] = panel.description
    out.update(panel.extra)
    return out


def dashboard() -> dict[str, Any]:
    """The dashboard model (Grafana schema 39)."""
    panels, x, y, row_height = [], 0, 0, 0
    for panel_id, panel in enumerate(PANELS, start=1):
        if panel.kind == "row":
            if x:
                y, x = y + row_height, 0
            panels.append(_panel(panel, panel_id, 0, y))
            y, row_height = y + 1, 0
            continue
        if x + panel.width > 24:
            y, x, row_height = y + row_height, 0, 0
        panels.append(_panel(panel, panel_id, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return {
        "title": "WorkflowExecution controller",
        "uid": "workflowexecution",
        "description": "Kubernaut WorkflowExecution controller: outcomes, locks, backoff, "
        "controller health. Alerts and runbooks: docs/runbooks/README.md.",
        "tags": ["kubernaut", "workflowexecution"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "links": [
            {"title": "Runbooks", "type": "link", "url": _RB, "targetBlank": True},
        ],
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


def render() -> str:
    """The dashboard file's text."""
    return json.dumps(dashboard(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the dashboard, or with `--check` compare it."""
    parser = argparse.ArgumentParser(description="Generate the Grafana dashboard.")
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    current = DASHBOARD_FILE.read_text() if DASHBOARD_FILE.exists() else None
    if args.check:
        if current != text:
            print(f"stale: {DASHBOARD_FILE.name}", file=sys.stderr)
            return 1
        return 0
    if current != text:
        DASHBOARD_FILE.parent.mkdir(parents=True, exist_ok=True)
        DASHBOARD_FILE.write_text(text)
        print(f"wrote {DASHBOARD_FILE.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
