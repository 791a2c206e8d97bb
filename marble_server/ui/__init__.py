"""The web explorer: static pages served at ``/ui/`` that talk only to the public API.

Every asset is a file of ``static/`` shipped in the package (plain ES modules,
no build step, nothing from a CDN). The pages hold no data of their own: they
ask for a token, keep it in the browser session, and call the REST and GraphQL
API with it like any other client, so the server needs no private code path.

The files are served by FastAPI routes rather than a Starlette ``StaticFiles``
mount so /metrics labels them by route template like every other request, and
an asset name is matched against one flat folder, never joined as a path, so
no request can reach a file outside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse

from marble_server.problems import Problem

STATIC_DIR = Path(__file__).with_name("static")
UI_PATH = "/ui"

# What each served suffix is; anything else is not an asset of the explorer.
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
ASSET_PATTERN = r"^[a-z0-9][a-z0-9_-]*\.(?:html|js|css|svg)$"

# The pages run only their own scripts and talk only to this server: an API string
# that slipped into the page as markup still could not load or run anything.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The assets change with the package: a browser revalidates rather than run stale code.
    "Cache-Control": "no-cache",
}


def ui_router() -> APIRouter:
    """``/ui`` (redirects to ``/ui/``), ``/ui/`` (the explorer's page) and ``/ui/{asset}``."""
    router = APIRouter(include_in_schema=False)

    @router.get(UI_PATH)
    def explorer_redirect() -> RedirectResponse:
        # Relative imports in index.html resolve against /ui/, not /.
        return RedirectResponse(UI_PATH + "/", status_code=308)

    @router.get(UI_PATH + "/")
    def explorer_page() -> FileResponse:
        return _asset_response("index.html")

    @router.get(UI_PATH + "/{asset}")
    def explorer_asset(
        asset: Annotated[str, PathParam(pattern=ASSET_PATTERN)],
    ) -> FileResponse:
        return _asset_response(asset)

    return router


def explorer_assets() -> list[str]:
    """The names of the files the explorer serves, sorted."""
    return sorted(
        entry.name
        for entry in STATIC_DIR.iterdir()
        if entry.is_file() and entry.suffix in MEDIA_TYPES
    )


def _asset_response(name: str) -> FileResponse:
    # Looked up among the folder's own entries, so ".." or a link elsewhere never matches.
    if name not in explorer_assets():
        raise Problem(404, "not-found", f"no explorer asset {name!r}")
    path = STATIC_DIR / name
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=SECURITY_HEADERS)
