"""Bearer-token authentication and scope checks, shared by REST routes and GraphQL.

A verified token is trusted for ``token_cache_s`` seconds (default 2) so a
burst of inference requests costs one database read, not one per request; a
revocation therefore takes effect within that window. The token itself is
never logged: only its name appears in logs and errors.

A token limited to named brains (``TokenInfo.brains``) meets any other brain
exactly as it would meet a brain that does not exist: the same 404 and the
same detail, so a limited token cannot even learn which other brains exist.
Jobs of other brains are likewise answered as unknown jobs.
"""

from __future__ import annotations

import threading
import time

from marble_graph.errors import NotFound, UnknownBrain
from marble_graph.service import JobView
from marble_graph.tokens import Scope, TokenInfo, TokenStore, hash_token
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


class OutsideBrainLimit(Problem):
    """403 for what a token limited to named brains may not do (create another brain, read
    the whole graph); reading or using another brain is answered 404 instead (``require_brain``).
    """

    def __init__(self, token: TokenInfo, refusal: str) -> None:
        limit = ", ".join(token.brains or ())
        super().__init__(
            403, "forbidden", f"token {token.name!r} is limited to brains [{limit}]; {refusal}"
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
        token = _bearer_token(authorization)
        if token is None:
            raise Unauthorized("Authorization header must be 'Bearer TOKEN'")
        return self.verify(token)

    def cached(self, authorization: str | None) -> TokenInfo | None:
        """The token of a header verified less than ``cache_s`` ago, without a store read."""
        token = _bearer_token(authorization) if authorization else None
        return self._fresh(hash_token(token))[0] if token is not None else None

    def verify(self, token: str) -> TokenInfo:
        digest = hash_token(token)
        fresh, seen_before = self._fresh(digest)
        if fresh is not None:
            return fresh
        info = self.tokens.verify(token, touch=not seen_before)
        with self._lock:
            if info is None:
                self._cache.pop(digest, None)
            else:
                self._cache[digest] = (info, time.monotonic())
        if info is None:
            raise Unauthorized("invalid or revoked token")
        return info

    def _fresh(self, digest: str) -> tuple[TokenInfo | None, bool]:
        """The cached token if verified within ``cache_s``, and whether it was ever cached."""
        with self._lock:
            hit = self._cache.get(digest)
        if hit is None:
            return None, False
        return (hit[0] if time.monotonic() - hit[1] < self.cache_s else None), True

    def forget_all(self) -> None:
        """Drop cached verifications (after a revocation through this server)."""
        with self._lock:
            self._cache.clear()


def _bearer_token(authorization: str) -> str | None:
    if not authorization.lower().startswith(BEARER):
        return None
    return authorization[len(BEARER) :].strip()


def require(token: TokenInfo, scope: Scope) -> TokenInfo:
    """``token`` if it grants ``scope`` (admin grants all); 403 otherwise."""
    if not token.allows(scope):
        raise Forbidden(token, scope)
    return token


def require_brain(token: TokenInfo, name: str) -> str:
    """``name`` if the token may use that brain; otherwise the API's unknown-brain 404."""
    if not token.may_use(name):
        raise UnknownBrain(name)
    return name


def require_new_brain(token: TokenInfo, name: str) -> str:
    """``name`` if the token may create that brain: a limited token only one in its list."""
    if not token.may_use(name):
        raise OutsideBrainLimit(token, f"it may not create brain {name!r}")
    return name


def require_unlimited(token: TokenInfo, refusal: str) -> TokenInfo:
    """``token`` if it may use every brain; 403 naming ``refusal`` for a limited one."""
    if token.brains is not None:
        raise OutsideBrainLimit(token, refusal)
    return token


def require_job(token: TokenInfo, view: JobView) -> JobView:
    """``view`` if the token may use the job's brain; otherwise the API's unknown-job 404."""
    if token.brains is not None and (view.brain is None or not token.may_use(view.brain)):
        raise NotFound(f"no job with id {view.id!r}")
    return view
