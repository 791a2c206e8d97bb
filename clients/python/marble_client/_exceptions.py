"""Every error the client raises, mapped from the server's problem+json and GraphQL codes.

    MarbleError                 anything this package raises; catch it to catch them all
    ├── ValidationFailed        400 / 413 / 422, GraphQL BAD_USER_INPUT or a malformed document;
    │                           also a Cypher query that timed out or failed in the engine
    │                           (422 query-timeout / query-error, QUERY_TIMEOUT / QUERY_ERROR)
    │   └── QueryRefused        400 query-refused, QUERY_REFUSED: a Cypher write or escape
    ├── Unauthorized            401, UNAUTHENTICATED: no token, or a wrong or revoked one
    ├── Forbidden               403, FORBIDDEN: the token lacks a scope (``required_scope``)
    ├── NotFound                404, NOT_FOUND: unknown brain, job, version or route
    ├── Conflict                409, CONFLICT: the name is taken, the brain is busy, the job ended
    ├── ServerError             5xx, INTERNAL: the server failed (its log says why)
    │   └── Unavailable         503, UNAVAILABLE: starting, stopping, or the store is locked
    ├── TransportError          no answer: connection refused or reset, timed out
    ├── JobFailed               ``Job.wait()``: the job ended failed, cancelled or interrupted
    └── JobTimeout              ``Job.wait(timeout=...)``: not finished in time (a TimeoutError too)

Errors from the server carry its ``detail`` (``str(error)`` is the detail), the HTTP
``status``, the problem ``type`` (``urn:marble:problem:<slug>``) or the GraphQL ``code``,
and the whole error ``body``. Any other 4xx (405, 415) is a plain ``MarbleError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from marble_client._models import JobRecord

PROBLEM_PREFIX = "urn:marble:problem:"


class MarbleError(Exception):
    """Base of every error this package raises."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.type = type
        self.code = code
        self.body: Mapping[str, Any] = body or {}

    @property
    def slug(self) -> str | None:
        """The problem type without its prefix: ``not-found``, ``conflict``..."""
        if self.type is None:
            return None
        return self.type.removeprefix(PROBLEM_PREFIX)

    def __str__(self) -> str:
        return self.detail

    def __repr__(self) -> str:
        where = f"status={self.status}" if self.status is not None else f"code={self.code}"
        return f"{type(self).__name__}({self.detail!r}, {where})"


class ValidationFailed(MarbleError):
    """The request was refused as invalid; ``errors`` lists each field when the server says."""

    @property
    def errors(self) -> list[dict[str, Any]]:
        found = self.body.get("errors")
        return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


class QueryRefused(ValidationFailed):
    """A Cypher query tried to write or escape its brain, or failed to read."""


class Unauthorized(MarbleError):
    """No token, or a wrong or revoked one: pass ``token=`` or set ``MARBLE_TOKEN``."""


class Forbidden(MarbleError):
    """The token lacks the scope the call needs."""

    @property
    def required_scope(self) -> str | None:
        scope = self.body.get("required_scope")
        extensions = self.body.get("extensions")
        if scope is None and isinstance(extensions, dict):
            scope = extensions.get("requiredScope")
        return str(scope) if scope is not None else None


class NotFound(MarbleError):
    """Unknown brain, job, version or route."""


class Conflict(MarbleError):
    """Conflicts with the current state: the name is taken, the brain trains, the job ended."""


class ServerError(MarbleError):
    """The server failed to answer the request; its log says why."""


class Unavailable(ServerError):
    """The server is starting or stopping, or its graph store is locked: retry later."""


class TransportError(MarbleError):
    """No answer from the server: the connection failed, broke or timed out."""


class JobFailed(MarbleError):
    """A job ended in a state other than ``succeeded``; ``job`` is its final record."""

    def __init__(self, job: JobRecord) -> None:
        super().__init__(f"job {job.id} {job.state}: {job.error or 'no error given'}")
        self.job = job


class JobTimeout(MarbleError, TimeoutError):
    """A job was still running when ``wait(timeout=...)`` ran out; ``job`` is its last record."""

    def __init__(self, job: JobRecord, timeout: float) -> None:
        super().__init__(f"job {job.id} still {job.state} after {timeout:g} s")
        self.job = job


_BY_SLUG: dict[str, type[MarbleError]] = {
    "query-refused": QueryRefused,
    "unavailable": Unavailable,
}

_BY_STATUS: dict[int, type[MarbleError]] = {
    400: ValidationFailed,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: ValidationFailed,
    422: ValidationFailed,
    503: Unavailable,
}

_BY_CODE: dict[str, type[MarbleError]] = {
    "UNAUTHENTICATED": Unauthorized,
    "FORBIDDEN": Forbidden,
    "NOT_FOUND": NotFound,
    "CONFLICT": Conflict,
    "BAD_USER_INPUT": ValidationFailed,
    "QUERY_REFUSED": QueryRefused,
    # The caller's query ran too long or the engine rejected it: theirs to fix.
    "QUERY_TIMEOUT": ValidationFailed,
    "QUERY_ERROR": ValidationFailed,
    "UNAVAILABLE": Unavailable,
    "INTERNAL": ServerError,
}


def error_class(status: int, slug: str | None = None) -> type[MarbleError]:
    """The exception class for an HTTP status and problem slug."""
    if slug in _BY_SLUG:
        return _BY_SLUG[slug]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else MarbleError


def error_from_problem(status: int, body: Mapping[str, Any] | None, text: str = "") -> MarbleError:
    """The error of an RFC 9457 problem response (or of any failed response without one)."""
    if body is None or not isinstance(body.get("type"), str):
        detail = text.strip()[:500] or f"HTTP {status} with no detail"
        return error_class(status)(detail, status=status, body=body)
    problem_type = str(body["type"])
    slug = problem_type.removeprefix(PROBLEM_PREFIX)
    detail = str(body.get("detail") or body.get("title") or f"HTTP {status}")
    return error_class(status, slug)(detail, status=status, type=problem_type, body=body)


def error_from_graphql(
    errors: Sequence[Mapping[str, Any]], status: int | None = None
) -> MarbleError:
    """The error of a GraphQL response's ``errors``, by the first error's ``extensions.code``.

    An error without a code is about the document itself (a syntax error, an unknown
    field, a limit): ``ValidationFailed``. ``body`` is the first error; later ones are
    counted in the detail.
    """
    first = dict(errors[0]) if errors else {"message": "GraphQL request failed"}
    extensions = first.get("extensions")
    code = extensions.get("code") if isinstance(extensions, dict) else None
    detail = str(first.get("message", "GraphQL request failed"))
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    cls = _BY_CODE.get(str(code), ServerError) if code is not None else ValidationFailed
    return cls(detail, status=status, code=None if code is None else str(code), body=first)


def error_from_response(response: httpx.Response) -> MarbleError:
    """The error of a failed response: problem+json, a GraphQL error body, or plain text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "type" not in body and isinstance(body.get("errors"), list):
        return error_from_graphql(body["errors"], response.status_code)
    return error_from_problem(
        response.status_code, body if isinstance(body, dict) else None, response.text
    )


def transport_error(error: httpx.TransportError) -> TransportError:
    """Our ``TransportError`` for httpx's, naming the request that got no answer."""
    try:
        request = error.request
        where = f" ({request.method} {request.url})"
    except RuntimeError:  # httpx raises when the error was made without a request
        where = ""
    return TransportError(f"{type(error).__name__}: {error or 'no detail'}{where}")
