"""Where a person or a tool finds the API: ``/``, ``/docs`` and ``/openapi.json`` (no token).

``/`` also links the web explorer at ``/ui/`` (see ``marble_server.ui``).

They show no data: the service's name and version and the API's own
description. ``/`` answers JSON, or an HTML page of links to a client that
prefers ``text/html`` (a browser). The docs and the OpenAPI document are
served here, as FastAPI routes, rather than by FastAPI's built-in ``docs_url``
and ``openapi_url``: those are plain Starlette routes, for which FastAPI's
router puts nothing in ``scope["route"]``, so /metrics, which labels a request
by that route's path, counted them as ``unmatched``.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from marble_server.api.models import ServiceIndex, ServiceLinks
from marble_server.graphql.router import GRAPHQL_PATH, graphiql_enabled
from marble_server.settings import ServerSettings

DOCS_PATH = "/docs"
OPENAPI_PATH = "/openapi.json"
EXPLORER_PATH = "/ui"

_HTML_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The service, its version and links; an HTML page of them when the "
        "client prefers text/html.",
        "content": {"text/html": {"schema": {"type": "string"}}},
    }
}


def discovery_router(settings: ServerSettings) -> APIRouter:
    """``/``, ``/docs`` and ``/openapi.json``; ``/`` links GraphiQL only when it is on."""
    router = APIRouter()
    graphiql = graphiql_enabled(settings)

    @router.get("/", response_model=ServiceIndex, tags=["service"], responses=_HTML_CONTENT)
    def service_index(request: Request) -> ServiceIndex | HTMLResponse:
        """The service's name and version, and where its docs are (no token)."""
        root = _root_path(request)
        index = ServiceIndex(
            name=request.app.title,
            version=request.app.version,
            links=ServiceLinks(
                docs=root + DOCS_PATH,
                openapi=root + OPENAPI_PATH,
                explorer=root + EXPLORER_PATH + "/",
                graphiql=root + GRAPHQL_PATH if graphiql else None,
            ),
        )
        if prefers_html(request.headers.get("accept", "")):
            return HTMLResponse(_index_page(index))
        return index

    @router.get(DOCS_PATH, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=_root_path(request) + OPENAPI_PATH,
            title=f"{request.app.title} - Swagger UI",
        )

    @router.get(OPENAPI_PATH, include_in_schema=False)
    def openapi_document(request: Request) -> JSONResponse:
        schema: dict[str, Any] = request.app.openapi()
        root = _root_path(request)
        # Behind a proxy that strips a prefix, the document names it as its server
        # (what FastAPI's own route does), so "try it out" calls the right URL.
        if root and root not in {server.get("url") for server in schema.get("servers", [])}:
            schema = {**schema, "servers": [{"url": root}, *schema.get("servers", [])]}
        return JSONResponse(schema)

    return router


def prefers_html(accept: str) -> bool:
    """Whether an ``Accept`` header ranks ``text/html`` above ``application/json``.

    A tie (``*/*``, no header) is JSON: only a client that asks for HTML gets it.
    """
    return _quality(accept, "text/html") > _quality(accept, "application/json")


def _quality(accept: str, media_type: str) -> float:
    """The q of the most specific range in ``accept`` that covers ``media_type`` (0 if none)."""
    kind = media_type.split("/")[0]
    best: tuple[int, float] = (-1, 0.0)
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        media = media.lower()
        if media == media_type:
            specificity = 2
        elif media == f"{kind}/*":
            specificity = 1
        elif media == "*/*":
            specificity = 0
        else:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0  # an unreadable weight counts as "not acceptable"
        best = max(best, (specificity, q))
    return best[1]


def _root_path(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _index_page(index: ServiceIndex) -> str:
    links = [
        ("Web explorer", index.links.explorer),
        ("REST API docs", index.links.docs),
        ("OpenAPI document", index.links.openapi),
    ]
    if index.links.graphiql is not None:
        links.append(("GraphiQL", index.links.graphiql))
    items = "\n".join(
        f'<li><a href="{escape(href)}">{escape(label)}</a></li>' for label, href in links
    )
    title = f"{escape(index.name)} {escape(index.version)}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f"<body><h1>{title}</h1>\n<ul>\n{items}\n</ul></body></html>\n"
    )
