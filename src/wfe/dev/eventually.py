"""``eventually``: poll until the world looks right, for tests against a real API server.

Controllers act asynchronously, so a test asserts the state it expects *eventually*
(STYLE.md section 10): it polls a predicate until it holds, and on timeout fails with the last
assertion message instead of a bare "timed out".
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast, overload

__all__ = ["eventually"]

T = TypeVar("T")


@overload
async def eventually(
    predicate: Callable[[], Awaitable[T]],
    timeout: float = ...,
    *,
    interval: float = ...,
    message: str = ...,
) -> T: ...


@overload
async def eventually(
    predicate: Callable[[], T],
    timeout: float = ...,
    *,
    interval: float = ...,
    message: str = ...,
) -> T: ...


async def eventually(
    predicate: Callable[[], Awaitable[T] | T],
    timeout: float = 30.0,
    *,
    interval: float = 0.2,
    message: str = "",
) -> T:
    """Call ``predicate`` (sync or async) until it returns a truthy value; return that value.

    ``predicate`` may also signal "not yet" by raising ``AssertionError``, so plain ``assert``
    statements work inside it (``ApiException``s and other errors are not swallowed: a 403 is a
    bug, not a delay). It is called at least once, even with ``timeout=0``.

    Raises:
        AssertionError: still false (or still failing its assertion) after ``timeout`` seconds;
            the message includes ``message``, the last falsy value or assertion text.
    """
    deadline = time.monotonic() + timeout
    attempts = 0
    while True:
        attempts += 1
        last: str
        try:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            value = cast("T", result)
            if value:
                return value
            last = f"last value: {value!r}"
        except AssertionError as exc:
            last = f"last assertion: {exc}" if str(exc) else "last assertion failed"
            failure: AssertionError | None = exc
        else:
            failure = None
        if time.monotonic() >= deadline:
            prefix = f"{message}: " if message else ""
            raise AssertionError(
                f"{prefix}not true after {timeout:g} s ({attempts} attempts); {last}"
            ) from failure
        await asyncio.sleep(interval)
