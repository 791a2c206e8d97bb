"""The ``Allow`` header of a 405: every method the app serves at the request's path.

Starlette answers a 405 from the first route whose path matched, so a path
served by several routes (GET and POST /brains are two routes) would advertise
only that route's methods. Here each method is tried against all the app's
routes, the way routing itself would, so the header follows the routes.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Match

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


def allowed_methods(request: Request) -> list[str]:
    """The methods some route of the app fully matches at ``request``'s path."""
    routes = request.app.router.routes
    return [
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
