"""Dependencies shared by every route, declared once as ``Annotated`` aliases."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from marble_graph.service import BrainService
from marble_graph.tokens import Scope, TokenInfo
from marble_server.auth import require
from marble_server.problems import Problem
from marble_server.state import ServerState


# The dependencies are ``async`` so they run on the event loop: a sync one costs a
# hop to the thread pool per request, which shows on /infer's latency.
async def get_state(request: Request) -> ServerState:
    state: ServerState | None = getattr(request.app.state, "marble", None)
    if state is None:
        raise Problem(503, "unavailable", "the server is starting or stopping; retry shortly")
    return state


StateDep = Annotated[ServerState, Depends(get_state)]


async def get_service(state: StateDep) -> BrainService:
    return state.service


ServiceDep = Annotated[BrainService, Depends(get_service)]


# Declared for the OpenAPI document (the "Authorize" button of /docs); the header
# itself is checked by the Authenticator so every failure gets the same problem type.
bearer_scheme = HTTPBearer(auto_error=False, description="An API token from `marble token create`.")


async def get_token(
    state: StateDep,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> TokenInfo:
    cached = state.auth.cached(authorization)
    if cached is not None:
        return cached
    return await asyncio.to_thread(state.auth.authenticate, authorization)  # reads the store


CurrentToken = Annotated[TokenInfo, Depends(get_token)]


def _scoped(scope: Scope) -> object:
    async def check(token: CurrentToken) -> TokenInfo:
        return require(token, scope)

    check.__name__ = f"require_{scope.value}"
    return Depends(check)


ReadToken = Annotated[TokenInfo, _scoped(Scope.READ)]
InferToken = Annotated[TokenInfo, _scoped(Scope.INFER)]
TrainToken = Annotated[TokenInfo, _scoped(Scope.TRAIN)]
AdminToken = Annotated[TokenInfo, _scoped(Scope.ADMIN)]
