"""Problem+json and GraphQL errors map onto one exception tree, keeping the server's words."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from marble_client import (
    Conflict,
    Forbidden,
    MarbleClient,
    MarbleError,
    NotFound,
    QueryRefused,
    ServerError,
    TransportError,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from marble_client._exceptions import error_from_graphql, error_from_problem, error_from_response


def problem(
    status: int, slug: str, detail: str = "what went wrong", **extra: Any
) -> dict[str, Any]:
    return {
        "type": f"urn:marble:problem:{slug}",
        "title": slug,
        "status": status,
        "detail": detail,
        **extra,
    }


@pytest.mark.parametrize(
    ("status", "slug", "expected"),
    [
        (400, "malformed-json", ValidationFailed),
        (400, "query-refused", QueryRefused),
        (401, "unauthorized", Unauthorized),
        (403, "forbidden", Forbidden),
        (404, "not-found", NotFound),
        (405, "method-not-allowed", MarbleError),
        (409, "conflict", Conflict),
        (413, "payload-too-large", ValidationFailed),
        (422, "validation-failed", ValidationFailed),
        (422, "query-timeout", ValidationFailed),
        (422, "query-error", ValidationFailed),
        (500, "internal", ServerError),
        (503, "unavailable", Unavailable),
    ],
)
def test_each_problem_type_maps_to_its_exception(
    status: int, slug: str, expected: type[MarbleError]
) -> None:
    error = error_from_problem(status, problem(status, slug, f"detail of {slug}"))
    assert type(error) is expected
    assert (error.status, error.slug, error.detail) == (status, slug, f"detail of {slug}")
    assert str(error) == f"detail of {slug}"
    assert error.type == f"urn:marble:problem:{slug}"


def test_the_family_catches_its_members() -> None:
    assert issubclass(QueryRefused, ValidationFailed) and issubclass(Unavailable, ServerError)
    for cls in (
        ValidationFailed,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        ServerError,
        TransportError,
    ):
        assert issubclass(cls, MarbleError)


def test_validation_errors_and_required_scope_come_from_the_body() -> None:
    fields = [{"field": "inputs.0", "message": "inputs.0: not a number", "type": "float_parsing"}]
    invalid = error_from_problem(422, problem(422, "validation-failed", errors=fields))
    assert isinstance(invalid, ValidationFailed) and invalid.errors == fields
    forbidden = error_from_problem(403, problem(403, "forbidden", required_scope="train"))
    assert isinstance(forbidden, Forbidden) and forbidden.required_scope == "train"


def test_a_failure_without_problem_json_keeps_its_text() -> None:
    response = httpx.Response(
        502, text="<html>Bad Gateway</html>", request=httpx.Request("GET", "http://x/")
    )
    error = error_from_response(response)
    assert type(error) is ServerError and error.status == 502
    assert error.detail == "<html>Bad Gateway</html>" and error.type is None


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("UNAUTHENTICATED", Unauthorized),
        ("FORBIDDEN", Forbidden),
        ("NOT_FOUND", NotFound),
        ("CONFLICT", Conflict),
        ("BAD_USER_INPUT", ValidationFailed),
        ("QUERY_REFUSED", QueryRefused),
        ("QUERY_TIMEOUT", ValidationFailed),
        ("QUERY_ERROR", ValidationFailed),
        ("UNAVAILABLE", Unavailable),
        ("INTERNAL", ServerError),
        ("SOMETHING_NEW", ServerError),
    ],
)
def test_each_graphql_code_maps_to_its_exception(code: str, expected: type[MarbleError]) -> None:
    error = error_from_graphql([{"message": "the message", "extensions": {"code": code}}], 200)
    assert type(error) is expected and error.code == code and error.detail == "the message"


def test_graphql_document_errors_are_validation_failed_and_extra_errors_counted() -> None:
    errors = [
        {"message": "Cannot query field 'bogus'"},
        {"message": "second"},
        {"message": "third"},
    ]
    error = error_from_graphql(errors, 200)
    assert type(error) is ValidationFailed and error.code is None
    assert error.detail == "Cannot query field 'bogus' (and 2 more errors)"


def test_graphql_forbidden_names_the_scope() -> None:
    first = {
        "message": "needs 'admin'",
        "extensions": {"code": "FORBIDDEN", "requiredScope": "admin"},
    }
    error = error_from_graphql([first], 403)
    assert isinstance(error, Forbidden) and error.required_scope == "admin" and error.status == 403


def test_non_finite_inputs_are_refused_before_sending() -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    client = MarbleClient("http://marble.test", "t", transport=httpx.MockTransport(record))
    with client, pytest.raises(ValidationFailed) as refused:
        client.infer("wave", [[0.5], [float("nan")]])
    assert refused.value.detail == "inputs[1][0]: expected a finite number, got nan"
    assert sent == []
