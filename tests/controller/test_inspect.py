"""`wfe explain` and `wfe locks` over the in-memory API server: what they print."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import yaml
from typer.testing import CliRunner
from world import NS, POLICY, World, finished_run, lock_for, running_run, wfe_object

from wfe.api.enums import Phase
from wfe.cli.explain import explain_with, locks_with, render_explanation, render_ledger, select
from wfe.cli.main import app
from wfe.controller.resources import WORKFLOW_EXECUTIONS
from wfe.core.lock import lock_name

from builders import NOW, TARGET, record

LOCK = lock_name(TARGET)


async def test_explain_a_blocked_target_names_the_failure_and_the_clear_command() -> None:
    world = World()
    failed = record("bad", Phase.FAILED, finished=NOW - timedelta(hours=2), failures=1)
    world.add_wfe("bad", status=failed.status, finalized=True)
    world.add_wfe("next")
    ex = await explain_with(
        world.client, name="next", namespace=NS, policy=POLICY, namespaces=[None], now=NOW
    )
    assert (ex.decision, ex.rule) == ("Skip", "PreviousExecutionFailed")
    assert ex.allowed == "never without a clearance"
    assert ex.clear_command == 'wfe clear-block bad -n default --reason "..."'
    assert ex.cause is not None
    assert ex.cause.name == "default/bad"
    table = render_explanation(ex, "table")
    assert "decision           Skip (PreviousExecutionFailed)" in table
    assert "wfe clear-block bad -n default" in table
    assert json.loads(render_explanation(ex, "json"))["lock"]["state"] == "absent"


async def test_explain_a_cooldown_gives_the_absolute_time_it_ends() -> None:
    world = World()
    done = record("prev", Phase.COMPLETED, finished=NOW - timedelta(minutes=2))
    world.add_wfe("prev", status=done.status, finalized=True)
    prev = world.client.stored(WORKFLOW_EXECUTIONS, NS, "prev")
    assert prev is not None
    world.add_run(
        finished_run(
            lock_for(prev),
            succeeded=True,
            started=NOW - timedelta(minutes=3),
            completed=NOW - timedelta(minutes=2),
        )
    )
    ex = await explain_with(
        world.client,
        name=None,
        target=TARGET,
        namespace=NS,
        policy=POLICY,
        namespaces=[None],
        now=NOW,
    )
    assert (ex.decision, ex.rule) == ("Skip", "RecentlyRemediated")
    assert ex.allowed_at == NOW + timedelta(minutes=3)
    assert yaml.safe_load(render_explanation(ex, "yaml"))["allowed_at"] == "2026-11-27T12:03:00Z"
    assert ex.lock is not None
    assert (ex.lock.state, ex.lock.holder) == ("finished", "default/prev")
    assert ex.lock.release_due == NOW + timedelta(minutes=3)


async def test_explain_a_skipped_one_says_what_it_recorded_and_what_a_new_one_gets() -> None:
    world = World()
    world.add_wfe("a")
    await world.reconcile("a")
    world.add_wfe("b")
    await world.reconcile("b")
    assert world.status("b")["phase"] == "Skipped"
    ex = await explain_with(
        world.client, name="b", namespace=NS, policy=POLICY, namespaces=[None], now=NOW
    )
    assert ex.recorded is not None
    assert ex.recorded.startswith("ResourceBusy")
    assert (ex.decision, ex.rule) == ("Skip", "ResourceBusy")
    assert ex.lock is not None
    assert ex.lock.holder == "default/a"


async def test_locks_lists_held_cooling_blocked_and_anomalies() -> None:
    world = World()
    world.add_wfe(
        "runner",
        target="payment/Deployment/a",
        status=record(
            "runner",
            Phase.RUNNING,
            target="payment/Deployment/a",
            started=NOW - timedelta(minutes=1),
        ).status,
        finalized=True,
    )
    runner = world.client.stored(WORKFLOW_EXECUTIONS, NS, "runner")
    assert runner is not None
    world.add_run(running_run(lock_for(runner), started=NOW - timedelta(minutes=1)))
    world.add_wfe(
        "bad",
        target="payment/Deployment/b",
        status=record(
            "bad",
            Phase.FAILED,
            target="payment/Deployment/b",
            finished=NOW - timedelta(hours=1),
            failures=2,
            released=NOW - timedelta(minutes=50),
        ).status,
    )
    ghost = wfe_object("ghost", target="payment/Deployment/c")
    ghost["metadata"]["uid"] = "ghost-uid"
    world.add_run(
        finished_run(
            lock_for(ghost),
            succeeded=True,
            started=NOW - timedelta(hours=2),
            completed=NOW - timedelta(hours=1),
        )
    )
    world.add_wfe(
        "old",
        target="payment/Deployment/d",
        status=record(
            "old", Phase.COMPLETED, target="payment/Deployment/d", finished=NOW - timedelta(hours=3)
        ).status,
    )
    old = world.client.stored(WORKFLOW_EXECUTIONS, NS, "old")
    assert old is not None
    world.add_run(
        finished_run(
            lock_for(old),
            succeeded=True,
            started=NOW - timedelta(hours=4),
            completed=NOW - timedelta(hours=3),
        )
    )
    world.add_wfe(
        "free",
        target="payment/Deployment/e",
        status=record(
            "free",
            Phase.COMPLETED,
            target="payment/Deployment/e",
            finished=NOW - timedelta(hours=3),
            released=NOW - timedelta(hours=2),
        ).status,
    )

    rows = {
        r.target: r
        for r in await locks_with(world.client, policy=POLICY, namespaces=[None], now=NOW)
    }

    assert set(rows) == {f"payment/Deployment/{x}" for x in "abcd"}  # e is free, no lock
    a, b, c, d = (rows[f"payment/Deployment/{x}"] for x in "abcd")
    assert (a.state, a.lock_state, a.holder, a.holder_phase) == (
        "held",
        "running",
        "default/runner",
        "Running",
    )
    assert (b.state, b.blocked_by, b.lock) == ("blocked", "default/bad", None)
    assert b.backoff_count == 2
    assert c.state == "stale-lock"
    assert c.anomalies == ("owner gone: default/ghost no longer exists",)
    assert d.anomalies[0].startswith("past its release time")
    table = render_ledger(
        select(list(rows.values()), namespace="payment", target=None, sort="state"), "table"
    )
    assert table.splitlines()[0].startswith("TARGET")
    assert [line.split()[0] for line in table.splitlines()[1:]] == [
        "payment/Deployment/b",
        "payment/Deployment/a",
        "payment/Deployment/c",
        "payment/Deployment/d",
    ]
    assert select(list(rows.values()), namespace="other", target=None, sort="target") == []


def test_user_errors_are_one_line_and_exit_1(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    for args in (
        ["explain", "x", "--kubeconfig", str(missing)],
        ["locks", "--kubeconfig", str(missing)],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith("error: ")
        assert len(result.stderr.splitlines()) == 1
        assert "Traceback" not in result.output
