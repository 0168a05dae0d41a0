"""The Grafana dashboard: generated file up to date and shaped as Grafana expects."""

from __future__ import annotations

import json

from monitoring import dashboard


def test_generated_file_is_up_to_date() -> None:
    assert dashboard.DASHBOARD_FILE.read_text() == dashboard.render()
    assert dashboard.main(["--check"]) == 0


def test_panels_are_well_formed_and_do_not_overlap() -> None:
    model = json.loads(dashboard.DASHBOARD_FILE.read_text())
    ids = [p["id"] for p in model["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in model["panels"]:
        g = panel["gridPos"]
        assert g["x"] >= 0
        assert g["x"] + g["w"] <= 24
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, panel["title"]
                cells.add((x, y))
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [t["refId"] for t in panel["targets"]]
        assert refs, panel["title"]
        assert len(refs) == len(set(refs)), panel["title"]
    assert model["templating"]["list"][0]["type"] == "datasource"


def test_the_issue_asks_for_these_panels() -> None:
    exprs = "\n".join(dashboard.queries())
    for needle in (
        "sum by (category, reason) (rate(workflowexecution_errors_total[5m]))",
        "histogram_quantile(0.95, sum by (le, phase)",
        "sum by (reason) (rate(workflowexecution_skip_total[5m]))",
        "workflowexecution_lock_released == 0",
        "workflowexecution_lock_release_due_timestamp",
        "topk(10, time() - workflowexecution_lock_held_since_timestamp)",
        'workflowexecution_phase_start_timestamp{phase="Running"}',
        "workflowexecution_backoff_skip_total",
        "workflowexecution_reconcile_total",
        "workflowexecution_workqueue_depth",
        "workflowexecution_leader",
    ):
        assert needle in exprs, needle
