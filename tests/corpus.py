"""The Tekton status corpus (tests/core/tekton_corpus) and comparing documents with it.

:func:`features` reduces a PipelineRun and its TaskRuns to what Tekton decides — condition
status, reason and message template, step states with their reasons and exit codes, the
structure of childReferences, skippedTasks, labels and owner references, which status fields
exist — so that two runs of the same failure class compare equal whatever their names,
namespaces, images and times. The Tekton simulator's tests use it against the corpus.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

__all__ = [
    "CORPUS",
    "SIMULATOR_BEHIND",
    "Json",
    "features",
    "load",
    "names",
    "request",
    "template",
]

CORPUS = Path(__file__).parent / "core" / "tekton_corpus"

Json = dict[str, Any]

# Corpus documents corrected after the simulator (wfe.dev) was written to match them, with why
# it differs: its comparisons with these are expected to fail (strict), so a simulator that
# catches up shows. Empty while the simulator writes what every document shows.
SIMULATOR_BEHIND: dict[str, str] = {}


def names() -> list[str]:
    """The corpus documents' names (file stems), sorted."""
    return sorted(p.stem for p in CORPUS.glob("*.json"))


def load(name: str) -> Json:
    """One corpus document: ``description``, ``pipelineRun``, ``taskRuns``, ``expected``."""
    doc: Json = json.loads((CORPUS / f"{name}.json").read_text())
    return doc


def request(doc: Json, **spec: Any) -> Json:
    """The PipelineRun as the controller created it: the corpus document without status."""
    pr = copy.deepcopy(doc["pipelineRun"])
    pr.pop("status")
    pr["spec"].update(spec)
    return pr


def template(text: str, names: dict[str, str]) -> str:
    """A message with its variable parts (names, images, details) replaced by placeholders."""
    for value, placeholder in sorted(names.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(value, placeholder)
    rules = [
        (r"bundles-[0-9a-f]{32}", "RR"),
        (r"GET https://\S+: ", "GET URL: "),
        (r"missing parameters: \[[A-Z_ ]+\]", "missing parameters: [P]"),
        (r"param `\w+` value: \S+ is not", "param `P` value: V is not"),
        (r'"[0-9hms]+"', "DURATION"),
        (r'pulling image "[^"]+"', 'pulling image "IMAGE"'),
        (r'image \\?"[^"\\]+\\?"', "image IMAGE"),
        (r'reference \\?"[^"\\]+\\?"', "reference IMAGE"),
        (r"\S+: not found", "IMAGE: not found"),
        (r"exceeded quota: .*$", "exceeded quota: DETAILS"),
        (r'\(containers "[^)]*\)', "(CONTAINERS)"),
        (r'\(pod or containers "[^)]*\)', "(CONTAINERS)"),
    ]
    for pattern, placeholder in rules:
        text = re.sub(pattern, placeholder, text, flags=re.MULTILINE)
    return text


def names_of(pr: Json) -> dict[str, str]:
    name, ns = pr["metadata"]["name"], pr["metadata"]["namespace"]
    return {name: "PR", ns: "NS"}


def step_features(step: Json) -> Json:
    """A step state; one with no container state (no pod, or an unscheduled one: only the
    ``{name, provenance: {}}`` Tekton v1.10+ records when preparing the TaskRun) has state None.
    ``provenance`` itself is left out: it is ``{}`` in every step state of v1.10+."""
    state = next((k for k in ("running", "waiting", "terminated") if k in step), None)
    detail = step[state] if state else {}
    return {
        "state": state,
        "reason": detail.get("reason"),
        "exitCode": detail.get("exitCode"),
        "has_message": bool(detail.get("message")),
        "terminationReason": step.get("terminationReason"),
        "pulled": "imageID" in step,
        "container": step["container"] == f"step-{step['name']}" if "container" in step else None,
    }


def task_run_features(task_run: Json, names: dict[str, str]) -> Json:
    status, spec, meta = task_run["status"], task_run["spec"], task_run["metadata"]
    cond = status["conditions"][0]
    return {
        "task": meta["labels"]["tekton.dev/pipelineTask"],
        "name": meta["name"].replace(meta["labels"]["tekton.dev/pipelineRun"], "PR"),
        "labels": sorted(k for k in meta["labels"] if k.startswith("tekton.dev/")),
        "owner": [(o["kind"], o["controller"]) for o in meta["ownerReferences"]],
        "condition": (cond["type"], cond["status"], cond["reason"]),
        "message": template(cond.get("message", ""), names),
        "spec_status": (spec.get("status"), spec.get("statusMessage")),
        "pod": bool(status["podName"]),
        "status_keys": sorted(k for k in status if k not in ("results",)),
        "results": [r["name"] for r in status.get("results", [])],
        "steps": [step_features(s) for s in status.get("steps", [])],
    }


def features(pr: Json, task_runs: list[Json]) -> Json:
    status = pr["status"]
    names = names_of(pr)
    for tr in task_runs:
        names[tr["metadata"]["name"]] = "TR-" + tr["metadata"]["labels"]["tekton.dev/pipelineTask"]
    cond = status["conditions"][0]
    return {
        "condition": (cond["type"], cond["status"], cond["reason"]),
        "message": template(cond.get("message", ""), names),
        "status_keys": sorted(status),
        "children": [
            (c["apiVersion"], c["kind"], template(c["name"], names), c["pipelineTaskName"])
            for c in status.get("childReferences", [])
        ],
        "skipped": status.get("skippedTasks", []),
        "tasks": [t["name"] for t in status.get("pipelineSpec", {}).get("tasks", [])],
        "task_runs": [task_run_features(tr, names) for tr in task_runs],
    }
