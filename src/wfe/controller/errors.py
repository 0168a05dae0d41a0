"""How the reconciler says "not now": a transient condition, retried with rate-limited backoff.

A business outcome (skip, fail) is never an exception; `Retry` is for what may be different on
the next attempt: a Conflict, a cache not yet synced, an API server that did not answer.
"""

from __future__ import annotations

__all__ = ["Retry"]


class Retry(Exception):
    """A transient condition: retry the key with rate-limited backoff."""
