"""GraphQL errors with a stable ``extensions.code``, translated from engine and auth errors.

A client switches on ``extensions.code``; the message is for people and names
the fault (the brain, the scope, the limit). Codes:

    UNAUTHENTICATED   no valid token (websocket without credentials)
    FORBIDDEN         the token lacks the resolver's scope (HTTP status 403)
    NOT_FOUND         engine ``NotFound``
    CONFLICT          engine ``Conflict``
    BRAIN_DAMAGED     the brain's graph no longer matches its version (``brain repair``)
    QUERY_REFUSED     engine ``QueryRefused`` (a Cypher write or a forbidden clause)
    QUERY_TIMEOUT     engine ``QueryTimedOut`` (Cypher ran past storage.query_timeout_s)
    QUERY_ERROR       engine ``QueryFailed`` (the engine rejected or failed the Cypher,
                      or every exploration connection was busy)
    BAD_USER_INPUT    engine ``ValidationFailed`` / ``ConfigError``, bad arguments
    UNAVAILABLE       the graph store is locked, or the server is starting
    INTERNAL          anything else; its message is masked unless ``dev_mode``

Errors are translated where a resolver leaves the engine (``engine_errors``),
so an error without a code is one nobody anticipated, and is masked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from marble_graph.errors import MarbleError
from marble_server.auth import Forbidden, Unauthorized
from marble_server.error_families import (
    BAD_USER_INPUT,
    BRAIN_DAMAGED,
    CONFLICT,
    NOT_FOUND,
    QUERY_ERROR,
    QUERY_REFUSED,
    QUERY_TIMEOUT,
    UNAVAILABLE,
    family_of,
)
from marble_server.problems import Problem, detail_for

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
INTERNAL = "INTERNAL"

__all__ = [
    "BAD_USER_INPUT",
    "BRAIN_DAMAGED",
    "CONFLICT",
    "FORBIDDEN",
    "INTERNAL",
    "NOT_FOUND",
    "QUERY_ERROR",
    "QUERY_REFUSED",
    "QUERY_TIMEOUT",
    "UNAUTHENTICATED",
    "UNAVAILABLE",
    "ApiError",
    "engine_code",
    "engine_errors",
    "is_coded",
    "translate",
]

_PROBLEM_CODES = {
    400: BAD_USER_INPUT,
    401: UNAUTHENTICATED,
    403: FORBIDDEN,
    404: NOT_FOUND,
    409: CONFLICT,
    413: BAD_USER_INPUT,
    422: BAD_USER_INPUT,
    503: UNAVAILABLE,
}


class ApiError(Exception):
    """An anticipated error: graphql-core copies ``extensions`` onto the response error."""

    def __init__(self, message: str, code: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = {"code": code, **extra}

    @property
    def code(self) -> str:
        return str(self.extensions["code"])


def engine_code(error: MarbleError) -> str | None:
    """The code of an engine error family (error_families.py); None for store failures
    (internal, masked)."""
    family = family_of(error)
    return None if family is None else family.code


def translate(error: Exception) -> Exception:
    """``error`` as an ``ApiError`` when it is one of ours; unchanged otherwise."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, Forbidden):
        return ApiError(error.detail, FORBIDDEN, requiredScope=error.extra.get("required_scope"))
    if isinstance(error, Unauthorized):
        return ApiError(error.detail, UNAUTHENTICATED)
    if isinstance(error, Problem):
        return ApiError(error.detail, _PROBLEM_CODES.get(error.status, INTERNAL))
    if isinstance(error, MarbleError):
        code = engine_code(error)
        if code is not None:
            return ApiError(detail_for(error), code)
    return error


@contextmanager
def engine_errors() -> Iterator[None]:
    """Re-raise engine and auth errors leaving the block as coded ``ApiError``s."""
    try:
        yield
    except (MarbleError, Problem) as exc:
        translated = translate(exc)
        if translated is exc:
            raise
        raise translated from exc


def is_coded(extensions: dict[str, Any] | None) -> bool:
    """Whether an error's extensions carry one of our codes (it was anticipated)."""
    return "code" in (extensions or {})
