"""The reconciler's writes to WorkflowExecutions: finalizer and status, each guarded by the
object's resourceVersion, each continuing from what the API server returned.

A Conflict means the object changed since it was read: the key is retried (`Retry`), so the
next reconcile re-reads, re-decides and writes again. After a lock was created, a lost status
write would leave a running PipelineRun whose WorkflowExecution still looks undecided, so that
one write re-reads and retries in place while the phase has not moved.
"""

from __future__ import annotations

from typing import Any

from wfe.api.models import WorkflowExecutionStatus
from wfe.controller.errors import Retry, Terminal
from wfe.controller.own_writes import OwnWrites
from wfe.controller.patches import status_patch
from wfe.controller.resources import FINALIZER, WORKFLOW_EXECUTIONS
from wfe.core import history
from wfe.kube import errors
from wfe.kube.client import Client

__all__ = ["Writer"]


class Writer:
    """Writes WorkflowExecutions and remembers what it wrote (read-your-writes)."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._own = OwnWrites()

    def newest(self, key: str, cached: dict[str, Any] | None) -> dict[str, Any] | None:
        """The cached object, or this controller's newer write of it (see OwnWrites)."""
        return self._own.newest(key, cached)

    async def ensure_finalizer(self, obj: dict[str, Any]) -> None:
        """Add our finalizer (guarded by resourceVersion); no write if it is there."""
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if FINALIZER in finalizers:
            return
        patch = {
            "metadata": {
                "finalizers": [*finalizers, FINALIZER],
                "resourceVersion": meta["resourceVersion"],
            }
        }
        try:
            updated = await self._client.patch(
                WORKFLOW_EXECUTIONS, meta["namespace"], meta["name"], patch
            )
        except errors.Conflict as exc:
            raise Retry("WorkflowExecution changed; re-reading") from exc
        self._took(obj, updated)

    async def drop_finalizer(self, obj: dict[str, Any]) -> None:
        """Remove our finalizer (guarded by resourceVersion); no write if it is absent."""
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if FINALIZER not in finalizers:
            return
        patch = {
            "metadata": {
                "finalizers": [f for f in finalizers if f != FINALIZER],
                "resourceVersion": meta["resourceVersion"],
            }
        }
        try:
            updated = await self._client.patch(
                WORKFLOW_EXECUTIONS, meta["namespace"], meta["name"], patch
            )
        except errors.NotFound:
            return
        except errors.Conflict as exc:
            raise Retry("WorkflowExecution changed; re-reading") from exc
        self._took(obj, updated)

    def _took(self, obj: dict[str, Any], updated: dict[str, Any]) -> None:
        """Continue from what a write returned, and remember it for the next reconcile."""
        meta = obj["metadata"]
        # OwnWrites keeps its own copy; the response itself is ours alone to continue from.
        self._own.wrote(f"{meta['namespace']}/{meta['name']}", meta["resourceVersion"], updated)
        obj.clear()
        obj.update(updated)

    async def status(
        self,
        obj: dict[str, Any],
        old: WorkflowExecutionStatus,
        new: WorkflowExecutionStatus,
        *,
        retry_if_unchanged: bool = False,
    ) -> None:
        """Write the status difference (nothing if there is none).

        With `retry_if_unchanged` a Conflict re-reads and writes again while the phase has not
        moved (see the module docstring).

        Raises:
            Retry: the object changed under us.
            Terminal: the API server refuses this status as invalid (never retried).
        """
        meta = obj["metadata"]
        # observedGeneration: the spec this status was decided from (tools compare it with
        # metadata.generation before trusting the conditions).
        generation = meta.get("generation")
        if isinstance(generation, int) and new.observed_generation != generation:
            new = new.model_copy(update={"observed_generation": generation})
        attempts = 3 if retry_if_unchanged else 1
        for attempt in range(attempts):
            patch = status_patch(old.to_wire(), new.to_wire(), meta["resourceVersion"])
            if patch is None:
                return
            try:
                updated = await self._client.patch_status(
                    WORKFLOW_EXECUTIONS, meta["namespace"], meta["name"], patch
                )
            except errors.Invalid as exc:
                # The schema refuses this status: the same write would be refused on every
                # retry. Record it once; the object's next change brings it back.
                raise Terminal(
                    f"the API server refused the status: {exc}", reason="StatusRefused"
                ) from exc
            except errors.Conflict as exc:
                if attempt + 1 == attempts:
                    raise Retry("WorkflowExecution changed; re-reading") from exc
                fresh = await self._client.get(WORKFLOW_EXECUTIONS, meta["namespace"], meta["name"])
                current = history.record_from_object(fresh)
                if current.phase != old.phase:
                    raise Retry("WorkflowExecution moved on concurrently") from exc
                meta["resourceVersion"] = fresh["metadata"]["resourceVersion"]
                old = current.status
                continue
            self._took(obj, updated)
            return
