"""The per-request GraphQL context: the server state, the caller's token, the data loaders.

HTTP requests authenticate before any resolver runs: a request without a
valid bearer token is answered 401 problem+json by the context getter (the
GraphiQL page itself stays open in ``dev_mode``). A websocket authenticates
from its handshake ``Authorization`` header or, since browsers cannot set
that header, from the ``connection_init`` payload ``{"authorization": ...}``
(see ``MarbleGraphQLRouter.on_ws_connect``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from starlette.requests import HTTPConnection
from starlette.responses import Response
from strawberry.fastapi import BaseContext

from marble_graph.service import BrainInfo, JobView
from marble_graph.tokens import Scope, TokenInfo
from marble_server.auth import (
    Forbidden,
    OutsideBrainLimit,
    Unauthorized,
    require_brain,
    require_job,
    require_new_brain,
    require_unlimited,
)
from marble_server.graphql.errors import FORBIDDEN, UNAUTHENTICATED, ApiError, engine_errors
from marble_server.graphql.loaders import Loaders
from marble_server.problems import Problem
from marble_server.settings import ServerSettings
from marble_server.state import ServerState

_P = ParamSpec("_P")
_R = TypeVar("_R")


class MarbleContext(BaseContext):
    """What every resolver reaches as ``info.context``; one per request or websocket."""

    def __init__(
        self, state: ServerState, token: TokenInfo | None, auth_error: str | None = None
    ) -> None:
        super().__init__()
        self.state = state
        self.token = token
        # Why a websocket handshake's own credentials were refused, if they were.
        self.auth_error = auth_error
        self.loaders = Loaders(self)
        self._brains: dict[str, BrainInfo] = {}

    @property
    def settings(self) -> ServerSettings:
        return self.state.settings

    def require(self, scope: Scope) -> TokenInfo:
        """The caller's token if it grants ``scope``; a FORBIDDEN (HTTP 403) error otherwise."""
        if self.token is None:
            raise ApiError("not authenticated: send 'Authorization: Bearer TOKEN'", UNAUTHENTICATED)
        if not self.token.allows(scope):
            if isinstance(self.response, Response):
                self.response.status_code = 403
            refusal = Forbidden(self.token, scope)
            raise ApiError(refusal.detail, FORBIDDEN, requiredScope=scope.value)
        return self.token

    def require_brain(self, name: str, creating: bool = False) -> str:
        """``name`` if the token may use (or, ``creating``, create) that brain.

        A brain outside a limited token's list is NOT_FOUND exactly like an unknown
        brain; creating one is FORBIDDEN.
        """
        token = self._authenticated()
        with engine_errors():
            return require_new_brain(token, name) if creating else require_brain(token, name)

    def require_job(self, view: JobView) -> JobView:
        """``view`` if the token may use its brain; NOT_FOUND, like an unknown job, otherwise."""
        token = self._authenticated()
        with engine_errors():
            return require_job(token, view)

    def require_unlimited(self, refusal: str) -> TokenInfo:
        """The token if it may use every brain; FORBIDDEN (HTTP 403) for a limited one."""
        token = self._authenticated()
        try:
            return require_unlimited(token, refusal)
        except OutsideBrainLimit as refused:
            if isinstance(self.response, Response):
                self.response.status_code = 403
            raise ApiError(refused.detail, FORBIDDEN) from refused

    def _authenticated(self) -> TokenInfo:
        if self.token is None:
            raise ApiError("not authenticated: send 'Authorization: Bearer TOKEN'", UNAUTHENTICATED)
        return self.token

    async def engine(self, fn: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Run a blocking store call on a worker thread; its engine errors come back coded."""
        with engine_errors():
            return await asyncio.to_thread(fn, *args, **kwargs)

    async def brain(self, name: str) -> BrainInfo:
        """The brain's record, read once per request so every field sees one generation.

        NOT_FOUND for a brain the token may not use, exactly as for an unknown brain.
        """
        self.require_brain(name)
        info = self._brains.get(name)
        if info is None:
            info = self._brains[name] = await self.engine(self.state.service.get_brain, name)
        return info

    def forget_brain(self, name: str) -> None:
        """Drop the cached record (after a mutation created or deleted the brain)."""
        self._brains.pop(name, None)


def context_getter(settings: ServerSettings) -> Callable[..., Any]:
    """The FastAPI dependency that builds a ``MarbleContext`` for each request."""

    async def get_context(connection: HTTPConnection) -> MarbleContext:
        state: ServerState | None = getattr(connection.app.state, "marble", None)
        if state is None:
            raise Problem(503, "unavailable", "the server is starting or stopping; retry shortly")
        header = connection.headers.get("authorization")
        if connection.scope["type"] == "websocket":
            if header is None:
                return MarbleContext(state, None)  # credentials may come in connection_init
            try:
                return MarbleContext(state, await authenticate(state, header))
            except Unauthorized as refused:
                return MarbleContext(state, None, auth_error=refused.detail)
        if settings.dev_mode and _is_ide_page(connection):
            return MarbleContext(state, None)
        return MarbleContext(state, await authenticate(state, header))

    return get_context


async def authenticate(state: ServerState, authorization: str | None) -> TokenInfo:
    """The token of an ``Authorization`` value; ``Unauthorized`` (401) when missing or wrong."""
    return await asyncio.to_thread(state.auth.authenticate, authorization)


def _is_ide_page(connection: HTTPConnection) -> bool:
    return connection.scope.get("method") == "GET" and "query" not in connection.query_params
