"""How the reconciler says "not now": a transient condition, retried with rate-limited backoff.

A business outcome (skip, fail) is never an exception; `Retry` is for what may be different on
the next attempt: a Conflict, a cache not yet synced, an API server that did not answer. Its
`reason` is a CamelCase word for what stands in the way (`TektonUnavailable`); a
WorkflowExecution kept waiting by it shows that reason in its status (docs/architecture.md,
"The status always explains").
"""

from __future__ import annotations

__all__ = ["Retry", "RetryAfter", "Terminal"]


class Retry(Exception):
    """A transient condition: retry the key with rate-limited backoff."""

    def __init__(self, message: str, *, reason: str = "Retrying") -> None:
        super().__init__(message)
        self.reason = reason


class RetryAfter(Retry):
    """Not possible yet for a reason that will pass (e.g. the cache is still syncing): look
    again after `seconds`, without growing the key's error backoff — a fail-closed check must
    not leave a WorkflowExecution waiting minutes after the cause is gone."""

    def __init__(self, message: str, *, seconds: float, reason: str = "Retrying") -> None:
        super().__init__(message, reason=reason)
        self.seconds = seconds


class Terminal(Exception):
    """Retrying cannot help (an object the controller cannot read, a write the API server
    refuses as invalid): recorded — logged and counted — and not retried. The object's next
    change brings it back to the queue."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
