"""End to end: a real Prometheus (Debian's `prometheus`) scrapes the controller on the local
control plane with the shipped rules loaded, and a lock left behind makes the alert fire.

The controller runs as an identity that may create PipelineRuns but not delete them (a broken
RBAC set-up), so a finished WorkflowExecution keeps its lock past its release time, exactly
what RB-WE-003 is about. Besides the shipped rule file, Prometheus loads a copy generated from
the same source with tiny thresholds (`alerts.rule_file(overrides)`), so the alert fires in
seconds; scrape and evaluation run every second. The alert is read back from
`/api/v1/alerts`; every shipped rule must evaluate without error and every dashboard query must
be accepted by Prometheus.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from mon_harness import MakeMonitored, RestrictedApi

from monitoring import alerts, dashboard
from wfe.dev.eventually import eventually

OVERRIDES = {"lock_overdue_seconds": "1", "lock_overdue_for": "2s"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Prometheus:
    """A Prometheus server process on a loopback port, with its HTTP API."""

    def __init__(self, binary: str, workdir: Path, target_port: int) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        shutil.copy(alerts.RULES_FILE, workdir / "shipped-rules.yaml")
        fast = yaml.safe_load(alerts.rule_file(OVERRIDES))
        fast["groups"][0]["name"] = "workflowexecution-e2e"
        (workdir / "e2e-rules.yaml").write_text(yaml.safe_dump(fast))
        config = {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "rule_files": ["shipped-rules.yaml", "e2e-rules.yaml"],
            "scrape_configs": [
                {
                    "job_name": alerts.JOB,
                    "honor_labels": True,
                    "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}],
                }
            ],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = workdir / "prometheus.log"
        self._argv = [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(self._argv, stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    async def get(self, path: str, **params: str) -> Any:
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.url + path, params=params) as response,
        ):
            body = await response.json()
            assert body["status"] == "success", body
            return body["data"]

    async def ready(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, self.log.read_text()
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(self.url + "/-/ready") as response,
            ):
                return response.status == 200
        except aiohttp.ClientError:
            return False


@pytest.fixture
def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        message = "prometheus not installed (scripts/bootstrap installs Debian's prometheus)"
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


@contextlib.asynccontextmanager
async def _running(server: Prometheus) -> AsyncIterator[Prometheus]:
    server.start()
    try:
        await eventually(server.ready, 30, message="prometheus ready")
        yield server
    finally:
        server.stop()


async def test_lock_left_behind_fires_the_alert_in_a_real_prometheus(
    monitored: MakeMonitored,
    restricted_api: RestrictedApi,
    prometheus_binary: str,
    tmp_path: Path,
) -> None:
    api = await restricted_api(["get", "list", "watch", "create"])
    h = await monitored(controller_api=api, cooldown="2s")
    async with _running(Prometheus(prometheus_binary, tmp_path, h.metrics_port)) as prom:

        async def scraped() -> bool:
            data = await prom.get("/api/v1/query", query=f'up{{job="{alerts.JOB}"}}')
            return [r["value"][1] for r in data["result"]] == ["1"]

        await eventually(scraped, 20, message="prometheus scrapes the controller")
        await h.create("left", h.target("left"))
        await h.wait_phase("left", "Completed")

        async def firing() -> list[dict[str, Any]] | None:
            data = await prom.get("/api/v1/alerts")
            found = [
                a
                for a in data["alerts"]
                if a["labels"]["alertname"] == "WorkflowExecutionLockStuck"
                and a["state"] == "firing"
            ]
            return found or None

        fired = await eventually(firing, 40, message="WorkflowExecutionLockStuck fires")
        assert isinstance(fired, list)
        labels = fired[0]["labels"]
        assert labels["namespace"] == h.namespace  # the WFE's, kept by honor_labels
        assert labels["name"] == "left"
        assert labels["severity"] == "warning"
        assert fired[0]["annotations"]["runbook_url"].endswith("#rb-we-003")
        assert f"{h.namespace}/left still holds its lock" in fired[0]["annotations"]["description"]
        assert await h.pipeline_run(h.target("left")) is not None  # really left behind

        # The shipped rules are loaded and evaluate cleanly; the healthy controller trips
        # no other alert (Tekton is served, the target is up).
        rules = await prom.get("/api/v1/rules")
        groups = {g["name"]: g for g in rules["groups"]}
        shipped = groups[alerts.GROUP]["rules"]
        assert {r["name"] for r in shipped} == {a.name for a in alerts.ALERTS}
        assert all(r["health"] == "ok" for g in groups.values() for r in g["rules"]), rules
        active = {a["labels"]["alertname"] for a in (await prom.get("/api/v1/alerts"))["alerts"]}
        assert "WorkflowExecutionTektonUnavailable" not in active, active
        assert "WorkflowExecutionStuck" not in active, active

        # Every dashboard query is valid PromQL for this Prometheus, and some see data.
        seen = 0
        for expr in dashboard.queries():
            data = await prom.get("/api/v1/query", query=expr)
            seen += bool(data["result"])
        assert seen >= len(dashboard.queries()) // 2
        locks = await prom.get(
            "/api/v1/query",
            query="count(workflowexecution_lock_released == 0)",
        )
        assert [r["value"][1] for r in locks["result"]] == ["1"]
