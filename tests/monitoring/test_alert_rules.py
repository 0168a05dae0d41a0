"""The alert rules: generated files up to date, well-formed, and proven by promtool.

Each alert has promtool scenarios where it must fire and where it must stay silent
(`monitoring/prometheus/tests/`); the seed's own expressions are proven in `monitoring/seed/`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from monitoring import alerts

ROOT = Path(alerts.__file__).resolve().parents[1]
TESTS = ROOT / "monitoring" / "prometheus" / "tests"
RUNBOOKS = ROOT / "docs" / "runbooks" / "README.md"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def test_generated_files_are_up_to_date() -> None:
    assert alerts.RULES_FILE.read_text() == alerts.rule_file()
    assert alerts.PROMETHEUS_RULE.read_text() == alerts.prometheus_rule()
    assert alerts.SEED_RULES_FILE.read_text() == alerts.seed_rule_file()
    assert alerts.main(["--check"]) == 0


def test_prometheus_rule_carries_the_same_groups() -> None:
    manifest = yaml.safe_load(alerts.PROMETHEUS_RULE.read_text())
    plain = yaml.safe_load(alerts.RULES_FILE.read_text())
    assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
    assert manifest["kind"] == "PrometheusRule"
    assert manifest["metadata"]["namespace"] == "kubernaut-system"
    assert manifest["spec"]["groups"] == plain["groups"]


def _rules() -> list[dict[str, object]]:
    return [r for g in alerts.rule_groups() for r in g["rules"]]


def test_every_alert_has_severity_summary_description_and_a_runbook_anchor() -> None:
    doc = RUNBOOKS.read_text()
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', doc))
    names = [r["alert"] for r in _rules()]
    assert len(names) == len(set(names))
    for rule in _rules():
        labels, annotations = rule["labels"], rule["annotations"]
        assert isinstance(labels, dict)
        assert isinstance(annotations, dict)
        assert labels["severity"] in ("info", "warning", "critical"), rule["alert"]
        assert annotations["summary"], rule["alert"]
        assert annotations["description"], rule["alert"]
        url = annotations["runbook_url"]
        base, _, anchor = url.partition("#")
        assert base == alerts.RUNBOOK_BASE, rule["alert"]
        assert anchor in anchors, f"{rule['alert']}: no <a id={anchor!r}> in {RUNBOOKS.name}"
        assert f"`{rule['alert']}`" in doc, f"{rule['alert']} is not described in the runbook"


def test_the_seed_runbooks_alerts_and_backoff_and_lock_age_are_covered() -> None:
    by_runbook: dict[str, set[str]] = {}
    for alert in alerts.ALERTS:
        by_runbook.setdefault(alert.runbook, set()).add(alert.name)
    for n in range(1, 7):
        assert by_runbook.get(f"rb-we-00{n}"), f"no alert for RB-WE-00{n}"
    assert set(alerts.SEED_EXPRESSIONS) <= {a.name for a in alerts.ALERTS}
    lock_age = [a for a in alerts.ALERTS if "lock_release_due_timestamp" in a.expr]
    assert {a.severity for a in lock_age} == {"warning", "critical"}
    held_since = [a for a in alerts.ALERTS if "lock_held_since_timestamp" in a.expr]
    assert [(a.name, a.runbook, a.severity) for a in held_since] == [
        ("WorkflowExecutionLockHeldTooLong", "rb-we-003", "critical")
    ]


def test_overrides_replace_thresholds_and_unknown_ones_are_refused() -> None:
    text = alerts.rule_file({"lock_overdue_seconds": "1", "lock_overdue_for": "0s"})
    rule = next(
        r
        for r in yaml.safe_load(text)["groups"][0]["rules"]
        if r["alert"] == "WorkflowExecutionLockStuck"
    )
    assert "> 1\n" in rule["expr"]
    assert "for" not in rule
    with pytest.raises(KeyError):
        alerts.rule_groups({"no_such_threshold": "1"})


def test_promtool_checks_both_rule_files(promtool: str, tmp_path: Path) -> None:
    spec = yaml.safe_load(alerts.PROMETHEUS_RULE.read_text())["spec"]
    operator = tmp_path / "operator-rules.yaml"
    operator.write_text(yaml.safe_dump(spec))
    result = _run(promtool, "check", "rules", str(alerts.RULES_FILE), str(operator))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in result.stdout


@pytest.mark.parametrize("path", sorted(TESTS.glob("*.yaml")), ids=lambda p: p.name)
def test_promtool_scenarios_pass(promtool: str, path: Path) -> None:
    result = _run(promtool, "test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_silent_scenario() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for path in TESTS.glob("*.yaml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {r["alert"] for r in _rules()}
    assert names - firing == set(), "alerts never proven to fire"
    assert names - silent == set(), "alerts never proven to stay silent"


def test_the_seed_expressions_do_what_the_runbook_says(promtool: str) -> None:
    result = _run(promtool, "test", "rules", str(alerts.SEED_RULES_FILE.parent / "seed.test.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_scenarios_catch_a_wrong_threshold(promtool: str, tmp_path: Path) -> None:
    """The promtool scenarios are not vacuous: looser thresholds make them fail."""
    folder = tmp_path / "prometheus"
    (folder / "tests").mkdir(parents=True)
    (folder / "workflowexecution-rules.yaml").write_text(
        alerts.rule_file({"error_ratio": "0.5", "lock_overdue_seconds": "3600"})
    )
    for name in ("rb-we-001.test.yaml", "rb-we-003.test.yaml"):
        shutil.copy(TESTS / name, folder / "tests" / name)
        result = _run(promtool, "test", "rules", str(folder / "tests" / name))
        assert result.returncode != 0, f"{name} passed with a wrong threshold"


def test_pod_monitor_gives_the_job_label_the_rules_use_and_keeps_object_labels() -> None:
    monitor = yaml.safe_load((alerts.RULES_FILE.parent / "podmonitor.yaml").read_text())
    spec = monitor["spec"]
    assert monitor["metadata"]["namespace"] == alerts.NAMESPACE
    assert spec["jobLabel"] == "app"
    assert spec["selector"]["matchLabels"] == {"app": alerts.JOB}
    assert spec["namespaceSelector"]["matchNames"] == [alerts.NAMESPACE]
    assert all(e["honorLabels"] is True for e in spec["podMetricsEndpoints"])


@pytest.mark.parametrize("seconds", ["10800", "7000"], ids=["looser", "tighter"])
def test_lock_age_scenarios_catch_a_wrong_threshold(
    promtool: str, tmp_path: Path, seconds: str
) -> None:
    """Looser, the lock-age scenario does not fire; tighter, the longest legitimate lock does."""
    folder = tmp_path / "prometheus"
    (folder / "tests").mkdir(parents=True)
    (folder / "workflowexecution-rules.yaml").write_text(
        alerts.rule_file({"lock_held_max_seconds": seconds})
    )
    name = "rb-we-003.test.yaml"
    shutil.copy(TESTS / name, folder / "tests" / name)
    result = _run(promtool, "test", "rules", str(folder / "tests" / name))
    assert result.returncode != 0, f"{name} passed with lock_held_max_seconds={seconds}"
    failed = "lock_age" if seconds == "10800" else "longest legitimate lifecycle"
    assert failed in result.stdout + result.stderr
