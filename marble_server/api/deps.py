"""Dependencies shared by every route, declared once as ``Annotated`` aliases."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from marble_graph.service import BrainService
from marble_graph.tokens import Scope, TokenInfo
from marble_server.auth import require
from marble_server.problems import Problem
from marble_server.state import ServerState

# The dependencies are ``async`` so they run on the event loop: a sync one costs a
# hop to the thread pool per request, which shows on /infer's latency. They are also
# kept flat (each reads the request itself rather than depending on another
# dependency): FastAPI's solving costs about as much per level as the check it
# runs, and /infer pays it on every request.


def state_of(request: Request) -> ServerState:
    """The server's state; 503 while the lifespan has not opened (or has closed) the stores."""
    state: ServerState | None = getattr(request.app.state, "marble", None)
    if state is None:
        raise Problem(503, "unavailable", "the server is starting or stopping; retry shortly")
    return state


async def get_state(request: Request) -> ServerState:
    return state_of(request)


StateDep = Annotated[ServerState, Depends(get_state)]


async def get_service(request: Request) -> BrainService:
    return state_of(request).service


ServiceDep = Annotated[BrainService, Depends(get_service)]


class BearerToken(HTTPBearer):
    """The caller's verified token, and the OpenAPI "HTTPBearer" scheme in one dependency.

    A ``SecurityBase`` dependency is what FastAPI lists as the route's security
    (the "Authorize" button of /docs); this one also does the check, reading the
    header itself, so every failure gets the Authenticator's problem type and a
    request solves one dependency for its token instead of a chain of three.
    ``scope``, when given, must be granted (403 otherwise).
    """

    def __init__(self, scope: Scope | None = None) -> None:
        super().__init__(
            scheme_name="HTTPBearer",
            auto_error=False,
            description="An API token from `marble token create`.",
        )
        self.scope = scope

    async def __call__(self, request: Request) -> TokenInfo:  # type: ignore[override]
        state = state_of(request)
        authorization = request.headers.get("authorization")
        token = state.auth.cached(authorization)
        if token is None:
            # Not verified lately: the store is read on a worker thread.
            token = await asyncio.to_thread(state.auth.authenticate, authorization)
        return require(token, self.scope) if self.scope is not None else token


CurrentToken = Annotated[TokenInfo, Depends(BearerToken())]
ReadToken = Annotated[TokenInfo, Depends(BearerToken(Scope.READ))]
InferToken = Annotated[TokenInfo, Depends(BearerToken(Scope.INFER))]
TrainToken = Annotated[TokenInfo, Depends(BearerToken(Scope.TRAIN))]
AdminToken = Annotated[TokenInfo, Depends(BearerToken(Scope.ADMIN))]
