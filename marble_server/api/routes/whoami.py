"""GET /auth/me: what the caller's own token may do, so a client can shape itself to it.

The web explorer reads this once after login to hide the controls a token may
not use (the API still refuses them). It answers only about the token sent:
its name, its scopes, the scopes they grant, and its brain limit; never the
secret, and nothing about any other token.
"""

from __future__ import annotations

from fastapi import APIRouter

from marble_graph.tokens import Scope
from marble_server.api.deps import CurrentToken
from marble_server.api.models import TokenSelf

router = APIRouter(tags=["auth"])


@router.get("/auth/me", response_model=TokenSelf)
async def who_am_i(token: CurrentToken) -> TokenSelf:
    """The calling token's name, scopes, granted scopes and brain limit (any valid token)."""
    return TokenSelf(
        name=token.name,
        scopes=[scope.value for scope in token.scopes],
        granted=[scope.value for scope in Scope if token.allows(scope)],
        brains=list(token.brains) if token.brains is not None else None,
    )
