"""Kubernetes API errors, converted once from the client library (STYLE §6).

The controller reacts to *what happened* — the object is gone, someone else created it first,
our write lost an optimistic-concurrency race, the API server is unreachable — never to HTTP
codes or to ``kubernetes_asyncio``'s exception classes, which may change with the library.
Every call in :mod:`wfe.kube.client` converts failures here, so nothing above ``wfe.kube`` reads
``ApiException.status``::

    ApiError                 any failed API call: status, reason, message, kind/namespace/name
     ├── BadRequest          400
     ├── Unauthorized        401
     ├── Forbidden           403
     ├── NotFound            404
     ├── AlreadyExists       409 with Status reason "AlreadyExists" (create lost the race)
     ├── Conflict            409 otherwise: stale resourceVersion or failed delete precondition
     ├── Gone                410: the resourceVersion is too old (watch/list must re-list)
     ├── Invalid             422: the object failed validation
     ├── TooManyRequests     429 (``retry_after`` from the Retry-After header)
     ├── ServerError         5xx
     └── Unavailable         no HTTP answer: connection refused/reset, TLS error, timeout

Non-Status bodies (a proxy's HTML page, say) are cut to :data:`MAX_BODY_CHARS` so a log line
stays readable and cannot carry a whole page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException

__all__ = [
    "MAX_BODY_CHARS",
    "AlreadyExists",
    "ApiError",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "Gone",
    "Invalid",
    "NotFound",
    "ServerError",
    "TooManyRequests",
    "Unauthorized",
    "Unavailable",
    "api_error",
    "error_from_response",
    "error_from_status",
]

MAX_BODY_CHARS = 256
"""Longest slice of a non-Status response body kept in a message (kopf uses the same cap)."""

# Kubernetes' StatusReason for a code, used when the body is not a Status object.
_DEFAULT_REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """A Kubernetes API call failed.

    Attributes:
        status: the HTTP status code; 0 when no HTTP answer came back (:class:`Unavailable`).
        reason: the Status object's ``reason`` (``"NotFound"``, ``"AlreadyExists"``,
            ``"Conflict"``, ``"Expired"``…), or Kubernetes' default reason for the code.
        message: the Status ``message`` (or a truncated body / the connection error's text).
        kind, namespace, name: the object the call was about, as far as known.
        details: the Status ``details`` (``causes`` of a 422, ``retryAfterSeconds``…), or ``{}``.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        reason: str = "",
        kind: str = "",
        namespace: str | None = None,
        name: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.details: Mapping[str, Any] = details or {}

    @property
    def object_ref(self) -> str:
        """``kind namespace/name`` as far as known (for log lines), or ``""``."""
        where = "/".join(p for p in (self.namespace, self.name) if p)
        return " ".join(p for p in (self.kind, where) if p)

    def __str__(self) -> str:
        ref = self.object_ref
        head = f"{self.status} {self.reason}" if self.status else self.reason or "error"
        return f"{head}: {self.message}" + (f" ({ref})" if ref else "")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class BadRequest(ApiError):
    """400: the request itself was malformed (a bug on our side)."""


class Unauthorized(ApiError):
    """401: the credentials were not accepted."""


class Forbidden(ApiError):
    """403: RBAC denies this verb on this resource."""


class NotFound(ApiError):
    """404: the object (or the resource type) does not exist."""


class AlreadyExists(ApiError):
    """409 with reason AlreadyExists: a create found an object with that name."""


class Conflict(ApiError):
    """409: a write carried a stale resourceVersion, or a delete precondition (uid or
    resourceVersion) did not match — re-read and decide again."""


class Gone(ApiError):
    """410: the resourceVersion (or continue token) is too old; list again."""


class Invalid(ApiError):
    """422: the object failed validation; ``details['causes']`` names the fields."""


class TooManyRequests(ApiError):
    """429: throttled (API priority and fairness); retry after ``retry_after`` seconds."""

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked us to wait, if it said."""
        value = self.details.get("retryAfterSeconds")
        return float(value) if isinstance(value, int | float) else None


class ServerError(ApiError):
    """5xx: the API server (or etcd, or a webhook behind it) failed; usually transient."""


class Unavailable(ApiError):
    """No HTTP answer: connection refused or reset, TLS failure, or a timeout."""


def _class_for(status: int, reason: str) -> type[ApiError]:
    if status == 409:
        return AlreadyExists if reason == "AlreadyExists" else Conflict
    if 500 <= status <= 599:
        return ServerError
    return {
        400: BadRequest,
        401: Unauthorized,
        403: Forbidden,
        404: NotFound,
        410: Gone,
        422: Invalid,
        429: TooManyRequests,
    }.get(status, ApiError)


def _parse_status(body: bytes | str | None) -> dict[str, Any] | None:
    if not body:
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(parsed, dict) and parsed.get("kind") == "Status":
        return parsed
    return None


def _truncate(body: bytes | str | None) -> str:
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    return text if len(text) <= MAX_BODY_CHARS else text[:MAX_BODY_CHARS] + "…"


def error_from_status(
    status_obj: Mapping[str, Any],
    *,
    kind: str = "",
    namespace: str | None = None,
    name: str | None = None,
    http_status: int | None = None,
) -> ApiError:
    """The error for a ``Status`` object (an error response body, or a watch ERROR event).

    Identity not given by the caller is taken from the Status ``details`` when present.
    """
    code = status_obj.get("code")
    status = http_status if http_status is not None else code if isinstance(code, int) else 0
    raw_details = status_obj.get("details")
    details: dict[str, Any] = dict(raw_details) if isinstance(raw_details, Mapping) else {}
    reason = str(status_obj.get("reason") or _DEFAULT_REASONS.get(status, ""))
    message = str(status_obj.get("message") or reason or f"HTTP {status}")
    cls = _class_for(status, reason)
    return cls(
        message,
        status=status,
        reason=reason,
        kind=kind or str(details.get("kind") or ""),
        namespace=namespace,
        name=name if name is not None else (str(details["name"]) if "name" in details else None),
        details=details,
    )


def error_from_response(
    status: int,
    body: bytes | str | None,
    *,
    kind: str = "",
    namespace: str | None = None,
    name: str | None = None,
    retry_after: str | None = None,
) -> ApiError:
    """The error for an HTTP error response: its code and body (Status JSON or anything else).

    ``retry_after`` is the Retry-After header, used when the Status gives no retryAfterSeconds.
    """
    parsed = _parse_status(body)
    if parsed is None:
        reason = _DEFAULT_REASONS.get(status, "")
        parsed = {"code": status, "reason": reason, "message": _truncate(body) or reason}
    if retry_after and retry_after.strip().isdigit():
        details = dict(parsed.get("details") or {})
        details.setdefault("retryAfterSeconds", int(retry_after.strip()))
        parsed = {**parsed, "details": details}
    return error_from_status(parsed, kind=kind, namespace=namespace, name=name, http_status=status)


def api_error(
    exc: BaseException,
    *,
    kind: str = "",
    namespace: str | None = None,
    name: str | None = None,
) -> ApiError:
    """Map a client failure to its :class:`ApiError`, with ``exc`` as ``__cause__``.

    ``ApiException`` maps by status code (and, for 409, by the Status reason);
    ``aiohttp.ClientError``, ``asyncio.TimeoutError`` and ``OSError`` map to
    :class:`Unavailable`; an :class:`ApiError` is returned as it is. Anything else becomes a
    plain :class:`ApiError` with status 0 — callers should only pass errors of an API call.
    """
    if isinstance(exc, ApiError):
        return exc
    error: ApiError
    if isinstance(exc, ApiException):
        headers = getattr(exc, "headers", None)
        retry_after = headers.get("Retry-After") if headers is not None else None
        error = error_from_response(
            int(exc.status or 0),
            exc.body,
            kind=kind,
            namespace=namespace,
            name=name,
            retry_after=retry_after,
        )
    elif isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
        text = str(exc) or type(exc).__name__
        error = Unavailable(
            _truncate(text), reason="Unavailable", kind=kind, namespace=namespace, name=name
        )
    else:
        error = ApiError(
            _truncate(f"{type(exc).__name__}: {exc}"),
            reason=type(exc).__name__,
            kind=kind,
            namespace=namespace,
            name=name,
        )
    error.__cause__ = exc
    return error
