"""RFC 9457 problem details: every error the API returns, with a stable ``type``.

Engine errors map by family (``NotFound`` -> 404 ``not-found`` and so on);
request validation, oversized bodies and auth failures have their own types.
A client switches on ``type``; ``detail`` is for people and names the fault.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from marble_graph.errors import MarbleError, UnknownBrain
from marble_server.allowed_methods import allowed_methods
from marble_server.error_families import family_of

log = logging.getLogger(__name__)

PROBLEM_BASE = "urn:marble:problem:"
PROBLEM_MEDIA_TYPE = "application/problem+json"

_TITLES = {
    "bad-request": "Bad request",
    "malformed-json": "Malformed JSON",
    "validation-failed": "Invalid input",
    "query-refused": "Query refused",
    "query-timeout": "Query timed out",
    "query-error": "Query failed",
    "unauthorized": "Missing or invalid token",
    "forbidden": "Token lacks the required scope",
    "not-found": "Not found",
    "version-collected": "Version collected by retention (versions.keep)",
    "method-not-allowed": "Method not allowed",
    "conflict": "Conflict",
    "brain-damaged": "The brain's graph does not match its version; repair it",
    "payload-too-large": "Request body too large",
    "unsupported-media-type": "Unsupported media type",
    "unavailable": "Service unavailable",
    "internal": "Internal server error",
}


class Problem(Exception):
    """An API error: raise it anywhere in a route and the client gets problem+json."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail = status, slug, detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    status: int,
    slug: str,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": _TITLES.get(slug, slug.replace("-", " ").capitalize()),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def status_for(error: MarbleError) -> tuple[int, str]:
    """HTTP status and problem slug of an engine error family (error_families.py)."""
    family = family_of(error)
    return (500, "internal") if family is None else (family.status, family.slug)


def detail_for(error: MarbleError) -> str:
    """What a client may read of an engine error: an unknown brain's message without the
    engine's listing of the other brains (a token may be limited to some of them)."""
    return error.brief if isinstance(error, UnknownBrain) else str(error)


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error through problem+json; the API never answers a bare 500 page."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status, exc.slug, exc.detail, request.url.path, exc.headers, **exc.extra
        )

    @app.exception_handler(MarbleError)
    async def _engine(request: Request, exc: MarbleError) -> JSONResponse:
        status, slug = status_for(exc)
        if status >= 500:
            log.error("engine error on %s: %s", request.url.path, exc)
        return problem_response(status, slug, detail_for(exc), request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_describe(e) for e in exc.errors()]
        malformed = [e for e in exc.errors() if e.get("type") == "json_invalid"]
        if malformed:
            ctx = malformed[0].get("ctx") or {}
            return problem_response(
                400,
                "malformed-json",
                f"request body is not valid JSON: {ctx.get('error', 'parse error')}"
                f" at position {_position(malformed[0])}",
                request.url.path,
            )
        return problem_response(
            422,
            "validation-failed",
            "; ".join(e["message"] for e in errors),
            request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {
            400: "bad-request",
            401: "unauthorized",
            403: "forbidden",
            404: "not-found",
            405: "method-not-allowed",
            409: "conflict",
            413: "payload-too-large",
            415: "unsupported-media-type",
        }.get(exc.status_code, "bad-request" if exc.status_code < 500 else "internal")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method of the path, not only the first route's
            headers["Allow"] = ", ".join(allowed_methods(request))
        return problem_response(exc.status_code, slug, str(exc.detail), request.url.path, headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem_response(
            500,
            "internal",
            f"unexpected {type(exc).__name__}; see the server log",
            request.url.path,
        )


def _describe(error: dict[str, Any]) -> dict[str, Any]:
    location = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
    got = error.get("input")
    message = f"{location}: {error.get('msg', 'invalid')}"
    if got is not None and not isinstance(got, dict | list):
        message += f" (got {json.dumps(got, default=str)[:80]})"
    return {"field": location, "message": message, "type": error.get("type", "invalid")}


def _position(error: dict[str, Any]) -> int:
    loc = error.get("loc", ())
    return int(loc[-1]) if loc and isinstance(loc[-1], int) else 0
