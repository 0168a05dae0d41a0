"""The series contract against a real scrape: the controller runs on the local control plane,
drives WorkflowExecutions through success, failure, skips, a held and a released lock and a
stuck Pending, and every series and label the alert rules, the dashboard and the promtool
inputs name must be in what `/metrics` really served.

`monitoring/exporter-series.json` (what the fast tests in tests/monitoring check against) must
equal the schema of these scrapes; rewrite it with `WFE_WRITE_SERIES_SNAPSHOT=1`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from pathlib import Path

from mon_harness import AuditReceiver, MakeMonitored, RestrictedApi, Scrape

from monitoring import alerts, dashboard, series
from wfe.dev.eventually import eventually
from wfe.observability.audit import LogAuditSink
from wfe.observability.audit_http import HttpAuditSink, TeeAuditSink
from wfe.observability.metrics import Metrics


async def _collect(scrape: Scrape, port: int, into: list[series.Schema]) -> None:
    while True:
        with contextlib.suppress(Exception):
            into.append(series.schema_from_exposition(await scrape(port)))
        await asyncio.sleep(0.2)


async def test_every_referenced_series_and_label_is_in_a_real_scrape(
    monitored: MakeMonitored,
    restricted_api: RestrictedApi,
    audit_receiver: AuditReceiver,
    scrape: Scrape,
) -> None:
    schemas: list[series.Schema] = []
    namespaces: list[str] = []

    # Phase A: a healthy controller (with the HTTP audit sink, as production runs it).
    metrics = Metrics()
    sink = TeeAuditSink(
        LogAuditSink(),
        HttpAuditSink(audit_receiver.url, metrics=metrics, buffer_size=100, batch_size=10),
    )
    h = await monitored(audit=sink, metrics=metrics, duration=3.0, cooldown="3s")
    namespaces += [h.namespace, h.exec_namespace]
    collector = asyncio.create_task(_collect(scrape, h.metrics_port, schemas))
    try:
        await h.create("ok", h.target("ok"))
        await h.wait_phase("ok", "Running")
        await h.create("busy", h.target("ok"))
        assert (await h.wait_phase("busy", "Skipped"))["skipDetails"]["reason"] == "ResourceBusy"
        await h.wait_phase("ok", "Completed")
        await h.create("bad", h.target("bad"), scenario="second_task_failed")
        await h.wait_phase("bad", "Failed")
        await h.create("after-bad", h.target("bad"))
        skipped = await h.wait_phase("after-bad", "Skipped")
        assert skipped["skipDetails"]["reason"] == "PreviousExecutionFailed"
        await eventually(lambda: h.released("ok"), 20, message="ok releases its lock")
        await asyncio.sleep(0.5)  # one more scrape after the release
    finally:
        collector.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collector
    await h.stop_controller()  # flushes the audit sink

    # Phase B: a controller that may not create PipelineRuns leaves a WorkflowExecution Pending.
    api = await restricted_api(["get", "list", "watch"])
    p = await monitored(controller_api=api)
    namespaces += [p.namespace, p.exec_namespace]
    await p.create("waiting", p.target("waiting"))

    async def pending_seen() -> bool:
        text = await scrape(p.metrics_port)
        schemas.append(series.schema_from_exposition(text))
        return f'name="waiting",namespace="{p.namespace}",phase="Pending"' in text

    await eventually(pending_seen, 20, message="a Pending WorkflowExecution is exported")

    live = series.merge(schemas)
    live_with_external = {**live, **{k: dict(v) for k, v in series.EXTERNAL.items()}}

    # (a) every rule, dashboard query and promtool input names only what was really served.
    problems = []
    for group in alerts.rule_groups():
        for rule in group["rules"]:
            for p_ in series.expression_problems(rule["expr"], live_with_external):
                problems.append(f"rule {rule['alert']}: {p_}")
    for expr in dashboard.queries():
        for p_ in series.expression_problems(expr, live_with_external):
            problems.append(f"dashboard {expr!r}: {p_}")
    for path, text in series.promtool_inputs():
        for p_ in series.input_series_problems(text, live_with_external):
            problems.append(f"{path.name}: {p_}")
    assert not problems, "\n".join(problems)

    # (b) the committed snapshot is this scrape's schema, and holds nothing machine-specific.
    wanted = series.snapshot_text(live)
    if os.environ.get("WFE_WRITE_SERIES_SNAPSHOT") == "1":
        series.SNAPSHOT.write_text(wanted)
    recorded = json.loads(series.SNAPSHOT.read_text())["series"]
    assert sorted(recorded) == sorted(live), "sample names differ from a real scrape"
    for name, labels in recorded.items():
        assert sorted(labels) == sorted(live[name]), f"{name}: label names differ"
        for label, values in labels.items():
            if values is not None:
                assert set(values) <= set(live[name][label] or []), f"{name}{{{label}}}"
    text = Path(series.SNAPSHOT).read_text()
    for specific in [*namespaces, "127.0.0.1", socket.gethostname(), "waiting", "after-bad"]:
        assert f'"{specific}"' not in text, f"snapshot holds run-specific {specific!r}"

    # The audit sink delivered every record of phase A to the Data Storage stand-in.
    kinds = {(e["resource_id"].split("/")[1], e["event_type"]) for e in audit_receiver.events}
    assert ("ok", "workflowexecution.workflow.started") in kinds
    assert ("ok", "workflowexecution.workflow.completed") in kinds
    assert ("bad", "workflowexecution.workflow.failed") in kinds
    assert ("busy", "workflowexecution.workflow.skipped") in kinds
    assert ("after-bad", "workflowexecution.workflow.skipped") in kinds
    sent = metrics.registry.get_sample_value("workflowexecution_audit_events_sent_total")
    assert sent == len(audit_receiver.events)
