"""Sample WorkflowExecutions for the demo, the benchmark and the tests.

One builder, so the demo, the benchmark and the tests all create objects of the same shape;
`scenario` tells the Tekton simulator how the run should end and `sim_duration` (a Go
duration) how long it runs first: it reads the `SIM_SCENARIO` and `SIM_DURATION` parameters,
which the controller passes to the PipelineRun like any other (docs/testenv.md).
"""

from __future__ import annotations

from typing import Any

from wfe.api.models import API_VERSION, KIND
from wfe.dev.tekton_scenarios import DURATION_PARAMETER, SCENARIO_PARAMETER

__all__ = ["SAMPLE_IMAGE", "workflow_execution"]

SAMPLE_IMAGE = "registry.example.com/workflows/restart-deployment:1.0.0"


def workflow_execution(
    name: str,
    target: str,
    *,
    scenario: str | None = None,
    sim_duration: str | None = None,
    workflow_id: str = "restart-deployment",
    parameters: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A WorkflowExecution manifest; extra keyword arguments become spec fields."""
    params = dict(parameters or {})
    if scenario is not None:
        params[SCENARIO_PARAMETER] = scenario
    if sim_duration is not None:
        params[DURATION_PARAMETER] = sim_duration
    body: dict[str, Any] = {
        "workflowRef": {
            "workflowId": workflow_id,
            "version": "1.0.0",
            "containerImage": SAMPLE_IMAGE,
        },
        "targetResource": target,
        **spec,
    }
    if params:
        body["parameters"] = params
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name}, "spec": body}
