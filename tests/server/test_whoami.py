"""``GET /auth/me``: a token learns its own name, scopes and brain limit, and nothing else."""

from __future__ import annotations

import pytest

from marble_graph.tokens import Scope, TokenStore
from tests.server.conftest import LiveApp

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("scope", "granted"),
    [
        ("read", ["read"]),
        ("infer", ["infer"]),
        ("train", ["train"]),
        ("admin", ["read", "infer", "train", "admin"]),
    ],
)
async def test_me_names_the_tokens_scopes_and_what_they_grant(
    live: LiveApp, scope: str, granted: list[str]
) -> None:
    response = await live.client.get("/auth/me", headers=live.auth(scope))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "name": f"{scope}-token",
        "scopes": [scope],
        "granted": granted,
        "brains": None,
    }


async def test_me_lists_the_brains_a_limited_token_may_use(live: LiveApp) -> None:
    secret, _ = TokenStore(live.state.service.metadata).create(
        "limited", (Scope.READ, Scope.INFER), brains=("wave", "digits")
    )
    response = await live.client.get("/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["scopes"] == ["read", "infer"] and me["granted"] == ["read", "infer"]
    assert sorted(me["brains"]) == ["digits", "wave"]


async def test_me_never_answers_with_the_token_itself(live: LiveApp) -> None:
    response = await live.client.get("/auth/me", headers=live.auth("admin"))
    assert live.tokens["admin"] not in response.text


@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Basic dXNlcjpwYXNz"])
async def test_me_without_a_valid_token_is_401(live: LiveApp, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = await live.client.get("/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["type"] == "urn:marble:problem:unauthorized"
