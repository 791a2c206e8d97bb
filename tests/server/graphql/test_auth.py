"""Tokens and scopes over GraphQL: 401 before anything runs, 403 FORBIDDEN per resolver."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server.conftest import running_app
from tests.server.graphql.conftest import BRAIN, GraphQLClient

pytestmark = pytest.mark.anyio

# (document, scope it needs, a scope that is not enough)
OPERATIONS = [
    ("{ brains { name } }", "read", "infer"),
    ('{ brain(name: "wave") { name } }', "read", "train"),
    ('{ pathway(brain: "wave", from: 0, to: 1) { hops } }', "read", "infer"),
    ('{ cypher(brain: "wave", query: "RETURN 1") { rows } }', "read", "train"),
    ("{ jobs { id } }", "read", "infer"),
    ('mutation { createBrain(name: "other") { name } }', "train", "read"),
    ('mutation { deleteBrain(name: "wave") }', "admin", "train"),
    ('mutation { train(brain: "wave", dataset: "sine", epochs: 1) { id } }', "train", "infer"),
    ('mutation { dream(brain: "wave", cycles: 2) { id } }', "train", "read"),
    ('mutation { infer(brain: "wave", inputs: [[0.5]]) { outputs } }', "infer", "read"),
    ('mutation { setNeuromodulation(brain: "wave", reward: 0.5) { reward } }', "train", "read"),
    ('mutation { cancelJob(id: "no-such-job") { id } }', "train", "infer"),
    ('mutation { resumeJob(id: "no-such-job") { id } }', "train", "read"),
]
IDS = [doc.split("{")[1].split("(")[0].strip() for doc, _, _ in OPERATIONS]


async def _unchanged(gql: GraphQLClient) -> None:
    data = await gql.data("{ brains { name version } jobs { id } }")
    assert data == {"brains": [{"name": BRAIN, "version": 1}], "jobs": []}
    state = gql.live.state.service.brain_config(BRAIN)
    assert state.neuromodulation.reward == 0.0


@pytest.mark.parametrize(("document", "needed", "lacking"), OPERATIONS, ids=IDS)
async def test_operation_without_token_is_401_problem(
    gql: GraphQLClient, document: str, needed: str, lacking: str
) -> None:
    response = await gql.post(document, scope=None)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["type"] == "urn:marble:problem:unauthorized"
    await _unchanged(gql)


@pytest.mark.parametrize(("document", "needed", "lacking"), OPERATIONS, ids=IDS)
async def test_operation_with_wrong_scope_is_403_forbidden_naming_the_scope(
    gql: GraphQLClient, document: str, needed: str, lacking: str
) -> None:
    response = await gql.post(document, scope=lacking)
    assert response.status_code == 403
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN", "requiredScope": needed}
    assert f"needs {needed!r}" in error["message"]
    await _unchanged(gql)


async def test_invalid_token_is_401(gql: GraphQLClient) -> None:
    response = await gql.live.client.post(
        "/graphql",
        json={"query": "{ brains { name } }"},
        headers={"Authorization": "Bearer marble_not-a-real-token"},
    )
    assert response.status_code == 401
    assert "invalid or revoked" in response.json()["detail"]


async def test_get_query_without_token_is_401_and_with_token_answers(gql: GraphQLClient) -> None:
    params = {"query": "{ brains { name } }"}
    response = await gql.live.client.get("/graphql", params=params)
    assert response.status_code == 401
    response = await gql.live.client.get("/graphql", params=params, headers=gql.live.auth("read"))
    assert response.status_code == 200 and response.json()["data"]["brains"][0]["name"] == BRAIN


async def test_get_cannot_run_mutations(gql: GraphQLClient) -> None:
    response = await gql.live.client.get(
        "/graphql",
        params={"query": 'mutation { createBrain(name: "via-get") { name } }'},
        headers=gql.live.auth("admin"),
    )
    assert response.status_code in (400, 405)
    await _unchanged(gql)


async def test_graphiql_is_absent_outside_dev_mode(gql: GraphQLClient) -> None:
    response = await gql.live.client.get(
        "/graphql", headers={"Accept": "text/html", **gql.live.auth("read")}
    )
    assert response.status_code == 404


async def test_admin_token_may_do_what_any_scope_may(gql: GraphQLClient) -> None:
    response = await gql.post("{ brains { name } }", scope="admin")
    assert response.status_code == 200 and "errors" not in response.json()


async def test_unexpected_error_is_masked_outside_dev_mode(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("secret detail of a bug")

    monkeypatch.setattr(gql.live.state.service, "list_brains", broken)
    error = await gql.error("{ brains { name } }")
    assert error["message"] == "internal error"
    assert error["extensions"] == {"code": "INTERNAL"}


async def test_dev_mode_serves_graphiql_openly_and_shows_unexpected_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_app(tmp_path / "marble-data", dev_mode=True) as live:
        page = await live.client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        refused = await live.client.post("/graphql", json={"query": "{ brains { name } }"})
        assert refused.status_code == 401

        def broken() -> None:
            raise RuntimeError("detail of a bug")

        monkeypatch.setattr(live.state.service, "list_brains", broken)
        response = await GraphQLClient(live).post("{ brains { name } }")
        assert response.json()["errors"][0]["message"] == "detail of a bug"
