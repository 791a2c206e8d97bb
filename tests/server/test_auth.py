"""Every REST route refuses a missing token (401) and a token without its scope (403)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from marble_graph.store.metadata import ApiToken
from marble_graph.tokens import Scope, TokenStore
from marble_server import ServerSettings, create_app
from tests.server.conftest import LiveApp, server_config

pytestmark = pytest.mark.anyio

JOB = "00000000-0000-4000-8000-000000000000"
# (method, path, json body, scope the route needs)
PROTECTED = [
    ("GET", "/brains", None, "read"),
    ("POST", "/brains", {"name": "other", "dataset": "sine"}, "train"),
    ("GET", "/brains/wave", None, "read"),
    ("DELETE", "/brains/wave", None, "admin"),
    ("GET", "/brains/wave/versions", None, "read"),
    ("GET", "/brains/wave/versions/1", None, "read"),
    ("GET", "/brains/wave/versions/1/diff/1", None, "read"),
    ("POST", "/brains/wave/versions/1/tags", {"tag": "gold"}, "train"),
    ("DELETE", "/brains/wave/tags/gold", None, "train"),
    ("POST", "/brains/wave/rollback", {"version": 1}, "train"),
    ("POST", "/brains/wave/repair", None, "admin"),
    ("GET", "/brains/wave/graph", None, "read"),
    ("POST", "/brains/wave/train", {"dataset": "sine", "epochs": 1}, "train"),
    ("POST", "/brains/wave/dream", {"cycles": 2}, "train"),
    ("POST", "/brains/wave/memories", {"key": "k", "value": 1}, "train"),
    ("GET", "/brains/wave/memories", None, "read"),
    ("POST", "/brains/wave/memories/recall", {"features": [0.5]}, "infer"),
    ("GET", "/brains/wave/memories/keys/k", None, "read"),
    ("POST", "/brains/wave/memories/forget", {"keep_last": 5}, "train"),
    ("POST", "/brains/wave/activations", {"inputs": [0.5]}, "infer"),
    ("POST", "/infer", {"brain": "wave", "inputs": [0.5]}, "infer"),
    ("GET", "/jobs", None, "read"),
    ("GET", f"/jobs/{JOB}", None, "read"),
    ("GET", f"/jobs/{JOB}/events", None, "read"),
    ("POST", f"/jobs/{JOB}/cancel", None, "train"),
    ("POST", f"/jobs/{JOB}/resume", None, "train"),
    ("POST", "/admin/backup", {"destination": "auth-matrix"}, "admin"),
    ("GET", "/datasets", None, "read"),
    ("POST", "/datasets/wave", None, "train"),
    ("GET", "/datasets/wave/versions", None, "read"),
    ("GET", "/datasets/wave/versions/1", None, "read"),
    ("GET", "/datasets/wave/diff", None, "read"),
    ("POST", "/datasets/wave/versions/1/tags", {"tag": "gold"}, "train"),
    ("DELETE", "/datasets/wave/tags/gold", None, "train"),
    ("POST", "/datasets/wave/versions/1/revert", None, "train"),
    ("POST", "/datasets/wave/apply", None, "train"),
    ("GET", "/datasets/wave/versions/1/rows", None, "read"),
    ("GET", "/datasets/wave/versions/1/brains", None, "read"),
]
PUBLIC = {("GET", "/"), ("GET", "/health"), ("GET", "/ready"), ("GET", "/metrics")}
# Routes any valid token may call, whatever its scopes (tests/server/test_whoami.py).
ANY_TOKEN = {("GET", "/auth/me")}


def _template(path: str) -> str:
    named = path.replace("/wave", "/{name}").replace(JOB, "{job_id}")
    named = named.replace("/versions/1/diff/1", "/versions/{a}/diff/{b}")
    named = named.replace("/memories/keys/k", "/memories/keys/{key}")
    return named.replace("/versions/1", "/versions/{ref}").replace("/tags/gold", "/tags/{tag}")


def _wrong_scope(needed: str) -> str:
    return "infer" if needed in ("read", "train", "admin") else "read"


async def test_every_route_is_in_the_auth_matrix(live: LiveApp) -> None:
    routes = {
        (method.upper(), path)
        for path, operations in live.app.openapi()["paths"].items()
        for method in operations
    }
    covered = {(m, _template(p)) for m, p, _, _ in PROTECTED} | PUBLIC | ANY_TOKEN
    assert routes == covered


@pytest.mark.parametrize(("method", "path", "body", "scope"), PROTECTED)
async def test_route_without_token_is_401(
    live_with_brain: LiveApp, method: str, path: str, body: object, scope: str
) -> None:
    response = await live_with_brain.client.request(method, path, json=body)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:marble:problem:unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "body", "scope"), PROTECTED)
async def test_route_with_wrong_scope_is_403(
    live_with_brain: LiveApp, method: str, path: str, body: object, scope: str
) -> None:
    wrong = _wrong_scope(scope)
    response = await live_with_brain.client.request(
        method, path, json=body, headers=live_with_brain.auth(wrong)
    )
    assert response.status_code == 403
    problem = response.json()
    assert problem["type"] == "urn:marble:problem:forbidden"
    assert problem["required_scope"] == scope
    assert f"needs {scope!r}" in problem["detail"]


@pytest.mark.parametrize(("method", "path", "body", "scope"), PROTECTED)
async def test_route_with_its_scope_passes_auth(
    live_with_brain: LiveApp, method: str, path: str, body: object, scope: str
) -> None:
    response = await live_with_brain.client.request(
        method, path, json=body, headers=live_with_brain.auth(scope)
    )
    assert response.status_code not in (401, 403), response.text


async def test_garbage_and_revoked_tokens_are_401(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    for header in ("Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer marble_not-a-real-token"):
        response = await live.client.get("/brains", headers={"Authorization": header})
        assert response.status_code == 401, header
    TokenStore(live.state.service.metadata).revoke("read-token")
    live.state.auth.forget_all()
    response = await live.client.get("/brains", headers=live.auth("read"))
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


async def test_admin_scope_grants_every_scope(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    admin = live.auth("admin")
    assert (await live.client.get("/brains", headers=admin)).status_code == 200
    infer = await live.client.post("/infer", json={"brain": "wave", "inputs": [0.1]}, headers=admin)
    assert infer.status_code == 200


async def test_tokens_are_stored_only_as_sha256_digests(live: LiveApp) -> None:
    with live.state.service.metadata.session() as session:
        stored = session.execute(sa.select(ApiToken.name, ApiToken.token_hash)).all()
    digests = {name: digest for name, digest in stored}
    for scope, token in live.tokens.items():
        assert digests[f"{scope}-token"] == hashlib.sha256(token.encode()).hexdigest()
        assert token not in digests.values()
    assert Scope("read") in TokenStore(live.state.service.metadata).list()[0].scopes


@pytest.mark.parametrize(("method", "path", "body", "scope"), PROTECTED)
async def test_protected_route_answers_503_while_the_server_is_not_serving(
    tmp_path: Path, method: str, path: str, body: dict[str, object] | None, scope: str
) -> None:
    # The token dependencies read the server's state themselves (no StateDep chain):
    # before the lifespan has opened the stores they must say "retry", not crash.
    app = create_app(ServerSettings(home=tmp_path / "marble-data"), server_config())
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://marble.test") as client:
        response = await client.request(
            method, path, json=body, headers={"Authorization": "Bearer marble_any"}
        )
    assert response.status_code == 503, response.text
    assert response.json()["type"] == "urn:marble:problem:unavailable"
