"""The bad-input corpus (tests/bad_inputs.py) on the real API server and the real controller.

Every case is created once, in one namespace, with one controller and one Tekton simulator for
all of them (each case has its own target, so none skips another): the API server must reject
it naming the field, or the controller must fail it as ConfigurationError naming the field, or
it must complete; and nothing may crash a reconcile or retry one forever (issue 9). A case whose
expected outcome depends on work outside this corpus says so in its failure message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog
from harness import Harness, new_namespace
from kubernetes_asyncio.client import ApiClient

from wfe.controller.resources import WORKFLOW_EXECUTIONS
from wfe.dev.eventually import eventually
from wfe.kube.errors import ApiError

from bad_inputs import CASES, Case, manifest

_TERMINAL = {"Completed", "Failed", "Skipped"}
_SETTLE_SECONDS = 90


@dataclass
class Seen:
    """What happened to one case: the API server's refusal, or the last status observed."""

    rejected: str | None = None
    status: dict[str, Any] = field(default_factory=dict)


@dataclass
class Corpus:
    seen: dict[str, Seen]
    logs: list[dict[str, Any]]
    records: list[logging.LogRecord]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def _create(h: Harness, case: Case) -> Seen:
    try:
        await h.client.create(WORKFLOW_EXECUTIONS, h.namespace, manifest(case))
    except ApiError as exc:
        return Seen(rejected=str(exc))
    return Seen()


async def _settle(h: Harness, case: Case, seen: Seen) -> None:
    async def terminal() -> bool:
        seen.status = await h.status(case.object_name)
        return seen.status.get("phase") in _TERMINAL

    # On time-out the case's test reports the last status it had.
    with contextlib.suppress(TimeoutError, AssertionError):
        await eventually(terminal, _SETTLE_SECONDS, message=f"{case.name} settles")


@pytest.fixture(scope="module")
async def corpus(api_client: ApiClient) -> Corpus:
    namespace = await new_namespace(api_client, "bad")
    exec_namespace = await new_namespace(api_client, "exec")
    settings = Harness.settings_for(
        namespace, exec_namespace, allowed_service_accounts="db-fixer,other-fixer"
    )
    h = Harness(api_client, namespace, exec_namespace, settings)
    handler = _Records()
    logging.getLogger().addHandler(handler)
    seen: dict[str, Seen] = {}
    try:
        with structlog.testing.capture_logs() as logs:
            await h.start_simulator(duration=0.5)
            await h.start_controller()
            try:
                for case in CASES:
                    seen[case.name] = await _create(h, case)
                await asyncio.gather(
                    *(_settle(h, c, seen[c.name]) for c in CASES if seen[c.name].rejected is None)
                )
            finally:
                await h.close()
    finally:
        logging.getLogger().removeHandler(handler)
    return Corpus(seen, logs, handler.records)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_outcome(corpus: Corpus, case: Case) -> None:
    seen = corpus.seen[case.name]
    needs = f" (this outcome needs {case.needs})" if case.needs else ""
    if case.outcome == "rejected":
        assert seen.rejected is not None, f"admitted, status {seen.status}"
        assert case.field is not None
        assert case.field in seen.rejected, seen.rejected
        for text in case.also:
            assert text in seen.rejected, seen.rejected
        return
    assert seen.rejected is None, seen.rejected
    phase = seen.status.get("phase")
    if case.outcome == "runs":
        assert phase == "Completed", f"{seen.status}{needs}"
        return
    assert phase == "Failed", f"{seen.status}{needs}"
    details = seen.status["failureDetails"]
    assert details["reason"] == "ConfigurationError", details
    assert case.field is not None
    assert case.field in details["message"], details["message"]
    for text in case.also:
        assert text in details["message"], details["message"]
    assert details["wasExecutionFailure"] is False


async def test_no_traceback_and_no_retry_loop(corpus: Corpus) -> None:
    crashed = [
        e
        for e in corpus.logs
        if e.get("exc_info") or e.get("event") == "reconcile crashed; retrying"
    ]
    assert not crashed, crashed
    # A refused write retried forever (the 422 of a too-long label value) shows up here; a
    # Conflict is the ordinary optimistic-concurrency retry.
    retried = [
        e
        for e in corpus.logs
        if e.get("event") == "reconcile failed; retrying" and e.get("error_type") != "Conflict"
    ]
    assert not retried, retried
    tracebacks = [r.getMessage() for r in corpus.records if r.exc_info]
    assert not tracebacks, tracebacks
