"""Bearer-token authentication and scope checks, shared by REST routes and GraphQL.

A verified token is trusted for ``token_cache_s`` seconds (default 2) so a
burst of inference requests costs one database read, not one per request; a
revocation therefore takes effect within that window. The token itself is
never logged: only its name appears in logs and errors.
"""

from __future__ import annotations

import hashlib
import threading
import time

from marble_graph.tokens import Scope, TokenInfo, TokenStore
from marble_server.problems import Problem

BEARER = "bearer "
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="marble"'}


class Unauthorized(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(401, "unauthorized", detail, headers=CHALLENGE)


class Forbidden(Problem):
    def __init__(self, token: TokenInfo, scope: Scope) -> None:
        have = ", ".join(s.value for s in token.scopes)
        super().__init__(
            403,
            "forbidden",
            f"token {token.name!r} has scopes [{have}]; this needs {scope.value!r}",
            required_scope=scope.value,
        )


class Authenticator:
    def __init__(self, tokens: TokenStore, cache_s: float = 2.0) -> None:
        self.tokens = tokens
        self.cache_s = cache_s
        self._cache: dict[str, tuple[TokenInfo, float]] = {}
        self._lock = threading.Lock()

    def authenticate(self, authorization: str | None) -> TokenInfo:
        """The token of an ``Authorization: Bearer ...`` header; 401 when missing or wrong."""
        if not authorization:
            raise Unauthorized("missing Authorization header: send 'Authorization: Bearer TOKEN'")
        if not authorization.lower().startswith(BEARER):
            raise Unauthorized("Authorization header must be 'Bearer TOKEN'")
        return self.verify(authorization[len(BEARER) :].strip())

    def cached(self, authorization: str | None) -> TokenInfo | None:
        """The token of a header verified less than ``cache_s`` ago, without a store read."""
        if not authorization or not authorization.lower().startswith(BEARER):
            return None
        key = hashlib.sha256(authorization[len(BEARER) :].strip().encode()).hexdigest()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[1] < self.cache_s:
            return hit[0]
        return None

    def verify(self, token: str) -> TokenInfo:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[1] < self.cache_s:
            return hit[0]
        info = self.tokens.verify(token, touch=hit is None)
        if info is None:
            with self._lock:
                self._cache.pop(key, None)
            raise Unauthorized("invalid or revoked token")
        with self._lock:
            self._cache[key] = (info, now)
        return info

    def forget_all(self) -> None:
        """Drop cached verifications (after a revocation through this server)."""
        with self._lock:
            self._cache.clear()


def require(token: TokenInfo, scope: Scope) -> TokenInfo:
    """``token`` if it grants ``scope`` (admin grants all); 403 otherwise."""
    if not token.allows(scope):
        raise Forbidden(token, scope)
    return token
