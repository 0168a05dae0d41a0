"""API failures map to typed errors once (wfe.kube.errors); bodies recorded from kube-apiserver."""

from __future__ import annotations

import json
from typing import Any, cast

import aiohttp
import pytest
from kubernetes_asyncio.client.exceptions import ApiException

from wfe.kube import errors
from wfe.kube.errors import api_error, error_from_response, error_from_status

# Status bodies exactly as kube-apiserver v1.37 sent them for ConfigMaps and our CRD.
ALREADY_EXISTS = (
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps '
    '\\"c1\\" already exists","reason":"AlreadyExists","details":{"name":"c1","kind":"configmaps"},'
    '"code":409}\n'
)
STALE_WRITE = (
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Operation '
    'cannot be fulfilled on configmaps \\"c1\\": the object has been modified; please apply your '
    'changes to the latest version and try again","reason":"Conflict","details":{"name":"c1",'
    '"kind":"configmaps"},"code":409}\n'
)
UID_PRECONDITION = (
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Operation '
    'cannot be fulfilled on ConfigMap \\"c1\\": the UID in the precondition '
    "(00000000-0000-0000-0000-000000000000) does not match the UID in record "
    "(4c2a9fc8-53ed-4e35-9ca6-87f7536599bb). The object might have been deleted and then "
    'recreated","reason":"Conflict","details":{"name":"c1","kind":"ConfigMap"},"code":409}\n'
)
NOT_FOUND = (
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
    '"workflowexecutions.kubernaut.ai \\"x\\" not found","reason":"NotFound","details":{"name":'
    '"x","group":"kubernaut.ai","kind":"workflowexecutions"},"code":404}\n'
)
INVALID = (
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"ConfigMap '
    '\\"Bad_Name\\" is invalid: metadata.name: Invalid value: \\"Bad_Name\\"","reason":"Invalid",'
    '"details":{"name":"Bad_Name","kind":"ConfigMap","causes":[{"reason":"FieldValueInvalid",'
    '"message":"Invalid value: \\"Bad_Name\\"","field":"metadata.name"}]},"code":422}\n'
)
EXPIRED = (
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old '
    'resource version: 1 (1520)","reason":"Expired","code":410}\n'
)
FORBIDDEN = (
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pipelineruns'
    '.tekton.dev is forbidden: User \\"system:serviceaccount:ns:wfe\\" cannot list resource '
    '\\"pipelineruns\\" in API group \\"tekton.dev\\" in the namespace \\"ns\\"","reason":'
    '"Forbidden","details":{"group":"tekton.dev","kind":"pipelineruns"},"code":403}\n'
)
THROTTLED = (
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Too many '
    'requests, please try again later.","reason":"TooManyRequests","details":'
    '{"retryAfterSeconds":1},"code":429}\n'
)


class _Response:
    """What kubernetes_asyncio's RESTResponse offers ApiException."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.reason = "HTTP reason phrase"
        self.data = body
        self._headers = headers or {}

    def getheaders(self) -> dict[str, str]:
        return self._headers


def _api_exception(
    status: int, body: str, headers: dict[str, str] | None = None, *, decoded: bool = True
) -> ApiException:
    exc = ApiException(http_resp=cast(Any, _Response(status, body.encode(), headers)))
    if decoded:
        exc.body = cast(Any, body)  # ApiClient decodes the body before re-raising; rest.py doesn't
    return exc


@pytest.mark.parametrize(
    ("status", "body", "expected", "reason"),
    [
        pytest.param(409, ALREADY_EXISTS, errors.AlreadyExists, "AlreadyExists", id="exists"),
        pytest.param(409, STALE_WRITE, errors.Conflict, "Conflict", id="stale-write"),
        pytest.param(409, UID_PRECONDITION, errors.Conflict, "Conflict", id="uid-precondition"),
        pytest.param(404, NOT_FOUND, errors.NotFound, "NotFound", id="not-found"),
        pytest.param(422, INVALID, errors.Invalid, "Invalid", id="invalid"),
        pytest.param(410, EXPIRED, errors.Gone, "Expired", id="gone"),
        pytest.param(403, FORBIDDEN, errors.Forbidden, "Forbidden", id="forbidden"),
        pytest.param(429, THROTTLED, errors.TooManyRequests, "TooManyRequests", id="throttled"),
    ],
)
@pytest.mark.parametrize("decoded", [True, False], ids=["str-body", "bytes-body"])
def test_status_bodies_map_to_their_error(
    status: int, body: str, expected: type[errors.ApiError], reason: str, decoded: bool
) -> None:
    exc = _api_exception(status, body, decoded=decoded)

    error = api_error(exc, kind="ConfigMap", namespace="ns", name="c1")

    assert type(error) is expected
    assert error.status == status
    assert error.reason == reason
    assert error.message == json.loads(body)["message"]
    assert (error.kind, error.namespace, error.name) == ("ConfigMap", "ns", "c1")
    assert error.__cause__ is exc


def test_already_exists_and_conflict_are_siblings_not_one_class() -> None:
    exists = api_error(_api_exception(409, ALREADY_EXISTS))
    conflict = api_error(_api_exception(409, STALE_WRITE))
    assert not isinstance(exists, errors.Conflict)
    assert not isinstance(conflict, errors.AlreadyExists)
    assert isinstance(exists, errors.ApiError)
    assert isinstance(conflict, errors.ApiError)


def test_identity_comes_from_the_status_details_when_not_given() -> None:
    error = api_error(_api_exception(404, NOT_FOUND))
    assert error.name == "x"
    assert error.kind == "workflowexecutions"
    assert error.namespace is None


def test_invalid_keeps_the_causes() -> None:
    error = api_error(_api_exception(422, INVALID))
    assert error.details["causes"][0]["field"] == "metadata.name"


def test_too_many_requests_carries_retry_after() -> None:
    from_status = api_error(_api_exception(429, THROTTLED))
    from_header = api_error(_api_exception(429, "busy", {"Retry-After": "7"}))
    assert isinstance(from_status, errors.TooManyRequests)
    assert isinstance(from_header, errors.TooManyRequests)
    assert from_status.retry_after == 1.0
    assert from_header.retry_after == 7.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_a_server_error(status: int) -> None:
    error = api_error(_api_exception(status, "<html>bad gateway</html>"))
    assert isinstance(error, errors.ServerError)
    assert error.status == status


@pytest.mark.parametrize(
    ("status", "expected"),
    [(400, errors.BadRequest), (401, errors.Unauthorized), (405, errors.ApiError)],
)
def test_other_codes(status: int, expected: type[errors.ApiError]) -> None:
    assert type(api_error(_api_exception(status, ""))) is expected


def test_a_non_status_body_is_truncated_into_the_message() -> None:
    page = "<html>" + "proxy error " * 500 + "</html>"

    error = api_error(_api_exception(502, page))

    assert error.reason == ""
    assert len(error.message) <= errors.MAX_BODY_CHARS + 1
    assert error.message.startswith("<html>proxy error")
    assert len(str(error)) < 400


def test_a_json_body_that_is_not_a_status_is_treated_as_text() -> None:
    error = api_error(_api_exception(404, '{"kind":"ConfigMap"}'))
    assert isinstance(error, errors.NotFound)
    assert error.reason == "NotFound"
    assert error.message == '{"kind":"ConfigMap"}'


@pytest.mark.parametrize(
    "exc",
    [
        aiohttp.ClientConnectionError("Cannot connect to host 127.0.0.1:1"),
        aiohttp.ServerDisconnectedError(),
        TimeoutError(),
        ConnectionRefusedError(111, "Connection refused"),
    ],
    ids=["client-connection", "disconnected", "timeout", "refused"],
)
def test_connection_failures_are_unavailable(exc: BaseException) -> None:
    error = api_error(exc, kind="Lease", namespace="ns", name="lock")
    assert isinstance(error, errors.Unavailable)
    assert error.status == 0
    assert error.message
    assert error.__cause__ is exc
    assert "Lease ns/lock" in str(error)


def test_an_api_error_passes_through_unchanged() -> None:
    error = errors.NotFound("gone", status=404, reason="NotFound")
    assert api_error(error) is error


def test_an_unexpected_exception_becomes_a_plain_api_error() -> None:
    exc = ValueError("bad")
    error = api_error(exc)
    assert type(error) is errors.ApiError
    assert error.__cause__ is exc


def test_a_watch_error_event_maps_like_a_response() -> None:
    status = json.loads(EXPIRED)
    assert isinstance(error_from_status(status), errors.Gone)
    assert isinstance(error_from_response(410, EXPIRED), errors.Gone)


def test_str_names_status_reason_message_and_object() -> None:
    error = api_error(_api_exception(404, NOT_FOUND), kind="WorkflowExecution", namespace="ns")
    assert str(error) == (
        '404 NotFound: workflowexecutions.kubernaut.ai "x" not found (WorkflowExecution ns/x)'
    )
