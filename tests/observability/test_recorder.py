"""The Recorder turns one outcome into its Event and audit record together."""

from __future__ import annotations

from typing import Any, cast

from wfe.api.enums import Phase
from wfe.observability.audit import AuditEvent, AuditType
from wfe.observability.events import EventPublisher
from wfe.observability.metrics import Metrics
from wfe.observability.recorder import Recorder

from builders import NOW, record


class Events:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, namespace: str, body: dict[str, Any]) -> None:
        self.published.append(body)


class Audit:
    def __init__(self) -> None:
        self.emitted: list[AuditEvent] = []

    def emit(self, event: AuditEvent) -> None:
        self.emitted.append(event)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass


def recorder() -> tuple[Recorder, Events, Audit]:
    events, audit = Events(), Audit()
    made = Recorder(metrics=Metrics(), events=cast(EventPublisher, events), audit=audit)
    return made, events, audit


def test_run_caveats_warn_and_audit_dropped_parameters() -> None:
    rec, events, audit = recorder()
    wfe = record("a", Phase.RUNNING)
    rec.run_caveats(
        wfe,
        warnings=("spec.workflowRef.containerImage: neither tag nor digest",),
        dropped_parameters=("EXTRA", "OTHER"),
        now=NOW,
    )
    reasons = [(e["reason"], e["type"]) for e in events.published]
    assert reasons == [("RunWarning", "Warning"), ("ParametersDropped", "Warning")]
    assert "EXTRA, OTHER" in events.published[1]["message"]
    (entry,) = audit.emitted
    assert entry.event_type is AuditType.PARAMETERS_DROPPED
    assert entry.data["dropped_parameters"] == ["EXTRA", "OTHER"]


def test_a_run_without_caveats_says_nothing_more() -> None:
    rec, events, audit = recorder()
    rec.run_caveats(record("a", Phase.RUNNING), warnings=(), dropped_parameters=(), now=NOW)
    assert events.published == []
    assert audit.emitted == []
