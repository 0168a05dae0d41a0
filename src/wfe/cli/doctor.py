"""`wfe doctor`: the runbooks' diagnosis, run against the cluster (docs/cli.md).

`controller.doctor_probe` reads, `core.doctor` judges; this module connects and prints one
verdict per check as a table, JSON or YAML. The exit code is `core.verdict.exit_code`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wfe.cli.explain import render
from wfe.cli.runner import api_client
from wfe.config import Settings
from wfe.controller.doctor_probe import Where, diagnose
from wfe.core.verdict import Verdict
from wfe.kube.client import Client

__all__ = ["doctor_command", "render_verdicts"]


async def doctor_command(
    settings: Settings,
    *,
    where: Where,
    kubeconfig: Path | None,
    unphased_after: timedelta,
) -> list[Verdict]:
    """Connect and run every check (see `controller.doctor_probe.diagnose`)."""
    async with await api_client(kubeconfig) as api:
        return await diagnose(
            Client(api),
            settings,
            where=where,
            now=datetime.now(UTC),
            unphased_after=unphased_after,
        )


def render_verdicts(verdicts: Sequence[Verdict], output: str) -> str:
    data = [v.to_dict() for v in verdicts]
    if output != "table":
        return render(data, output, "")
    lines = [("CHECK", "STATUS", "MESSAGE")] + [(v.check, v.status, v.message) for v in verdicts]
    widths = [max(len(line[i]) for line in lines) for i in range(2)]
    out = []
    for line in lines:
        out.append(f"{line[0]:<{widths[0]}}  {line[1]:<{widths[1]}}  {line[2]}".rstrip())
    fixes = [(v.check, v.fix) for v in verdicts if v.status != "ok" and v.fix]
    if fixes:
        out.append("")
        out += [f"fix {check}: {fix}" for check, fix in fixes]
    return "\n".join(out) + "\n"
