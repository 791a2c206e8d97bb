"""GraphQL: a token limited to brain ``alpha`` meets ``bravo`` exactly as an unknown brain.

The module's app holds brains ``alpha`` and ``bravo``. Token ``limited`` has
every scope (admin) but only brains ``alpha`` and ``ghost``; ``ghost`` is never
created, so its NOT_FOUND comes from the engine and comparing against it proves
the limit answers exactly like a missing brain (same code, message, path).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from marble_graph.tokens import Scope, TokenStore
from tests.server.conftest import running_app
from tests.server.graphql.conftest import GraphQLClient, create_wave

pytestmark = pytest.mark.anyio

ALLOWED, OTHER, UNKNOWN = "alpha", "bravo", "ghost"
UNKNOWN_JOB = "00000000-0000-4000-8000-00000000dead"
LIMITED = "limited"
FINISHED = {"succeeded", "failed", "cancelled", "interrupted"}


@pytest.fixture(scope="module")
async def gql(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[GraphQLClient]:
    async with running_app(tmp_path_factory.mktemp("graphql-limited") / "marble-data") as live:
        await create_wave(live, ALLOWED)
        await create_wave(live, OTHER)
        store = TokenStore(live.state.service.metadata)
        live.tokens[LIMITED] = store.create("alpha-only", (Scope.ADMIN,), (ALLOWED, UNKNOWN))[0]
        yield GraphQLClient(live)


def _renamed(error: dict[str, Any], name: str, unknown: str) -> dict[str, Any]:
    text = json.dumps(error).replace(f"'{name}'", f"'{unknown}'")
    return json.loads(text)  # type: ignore[no-any-return]


async def _assert_same_as_unknown_brain(gql: GraphQLClient, document: str) -> None:
    """``document`` (taking the brain as ``$b``) fails for ``bravo`` exactly as for ``ghost``."""
    other = await gql.error(document, {"b": OTHER}, scope=LIMITED)
    unknown = await gql.error(document, {"b": UNKNOWN}, scope=LIMITED)
    assert unknown["extensions"]["code"] == "NOT_FOUND", unknown
    assert unknown["message"] == f"unknown brain '{UNKNOWN}'"
    assert _renamed(other, OTHER, UNKNOWN) == unknown


async def _job(gql: GraphQLClient, brain: str) -> str:
    """A finished one-epoch training job of ``brain``, started with an unlimited token."""
    train = 'mutation($b: String!) { train(brain: $b, dataset: "sine", epochs: 1) { id } }'
    job_id = str((await gql.data(train, {"b": brain}, scope="train"))["train"]["id"])
    for _ in range(2400):
        job = await gql.data("query($id: ID!) { job(id: $id) { state } }", {"id": job_id})
        if job["job"]["state"] in FINISHED:
            return job_id
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} never finished")


async def test_brains_lists_only_the_tokens_brains(gql: GraphQLClient) -> None:
    limited = await gql.data("{ brains { name } }", scope=LIMITED)
    assert limited == {"brains": [{"name": ALLOWED}]}
    everyone = await gql.data("{ brains { name } }")
    assert [b["name"] for b in everyone["brains"]] == [ALLOWED, OTHER]


@pytest.mark.parametrize(
    "document",
    [
        "query($b: String!) { brain(name: $b) { name } }",
        "query($b: String!) { brain(name: $b) { versions { version } lobes { id } } }",
        "query($b: String!) { neuron(brain: $b, id: 0) { id } }",
        "query($b: String!) { pathway(brain: $b, from: 0, to: 1) { hops } }",
    ],
    ids=["brain", "versions-lobes", "neuron", "pathway"],
)
async def test_queries_on_other_brain_are_not_found_like_unknown(
    gql: GraphQLClient, document: str
) -> None:
    await _assert_same_as_unknown_brain(gql, document)


async def test_queries_on_own_brain_answer(gql: GraphQLClient) -> None:
    data = await gql.data(
        """query($b: String!) { brain(name: $b) {
             name versions { version } neurons(first: 2) { edges { node { id } } } }
           neuron(brain: $b, id: 0) { id } }""",
        {"b": ALLOWED},
        scope=LIMITED,
    )
    assert data["brain"]["name"] == ALLOWED and data["brain"]["versions"] == [{"version": 1}]
    assert len(data["brain"]["neurons"]["edges"]) == 2 and data["neuron"] == {"id": 0}


@pytest.mark.parametrize(
    "document",
    [
        'mutation($b: String!) { train(brain: $b, dataset: "sine", epochs: 1) { id } }',
        "mutation($b: String!) { infer(brain: $b, inputs: [[0.5]]) { outputs } }",
        "mutation($b: String!) { setNeuromodulation(brain: $b, reward: 0.5) { reward } }",
        "mutation($b: String!) { deleteBrain(name: $b) }",
    ],
    ids=["train", "infer", "setNeuromodulation", "deleteBrain"],
)
async def test_mutations_on_other_brain_are_not_found_like_unknown_and_change_nothing(
    gql: GraphQLClient, document: str
) -> None:
    state = gql.live.state
    before, jobs_before = state.service.get_brain(OTHER), state.jobs.list(OTHER)
    await _assert_same_as_unknown_brain(gql, document)
    assert state.service.get_brain(OTHER) == before
    assert state.service.brain_config(OTHER).neuromodulation.reward == 0.0
    assert state.jobs.list(OTHER) == jobs_before


async def test_mutations_on_own_brain_answer(gql: GraphQLClient) -> None:
    infer = "mutation($b: String!) { infer(brain: $b, inputs: [[0.5]]) { outputs } }"
    outputs = (await gql.data(infer, {"b": ALLOWED}, scope=LIMITED))["infer"]["outputs"]
    assert len(outputs) == 1
    modulate = "mutation($b: String!) { setNeuromodulation(brain: $b, stress: 0.25) { stress } }"
    data = await gql.data(modulate, {"b": ALLOWED}, scope=LIMITED)
    assert data["setNeuromodulation"]["stress"] == 0.25


async def test_create_brain_outside_the_list_is_forbidden(gql: GraphQLClient) -> None:
    create = 'mutation { createBrain(name: "charlie") { name } }'
    response = await gql.post(create, scope=LIMITED)
    assert response.status_code == 200
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "may not create brain 'charlie'" in error["message"]
    assert OTHER not in error["message"]
    assert [b.name for b in gql.live.state.service.list_brains()] == [ALLOWED, OTHER]


async def test_jobs_of_other_brain_are_hidden_and_unknown(gql: GraphQLClient) -> None:
    mine, theirs = await _job(gql, ALLOWED), await _job(gql, OTHER)
    listed = await gql.data("{ jobs { id brain } }", scope=LIMITED)
    assert listed["jobs"] == [{"id": mine, "brain": ALLOWED}]
    filtered = await gql.data(
        "query($b: String) { jobs(brain: $b) { id } }", {"b": OTHER}, scope=LIMITED
    )
    assert filtered == {"jobs": []}
    for document in (
        "query($id: ID!) { job(id: $id) { id } }",
        "mutation($id: ID!) { cancelJob(id: $id) { id } }",
        "mutation($id: ID!) { resumeJob(id: $id) { id } }",
    ):
        other = await gql.error(document, {"id": theirs}, scope=LIMITED)
        unknown = await gql.error(document, {"id": UNKNOWN_JOB}, scope=LIMITED)
        assert unknown["extensions"]["code"] == "NOT_FOUND", unknown
        assert _renamed(other, theirs, UNKNOWN_JOB) == unknown, document
    own = await gql.data("query($id: ID!) { job(id: $id) { brain } }", {"id": mine}, LIMITED)
    assert own == {"job": {"brain": ALLOWED}}


async def test_cypher_is_forbidden_to_a_limited_token_even_on_its_brain(
    gql: GraphQLClient,
) -> None:
    document = 'query($b: String!) { cypher(brain: $b, query: "RETURN 1") { rows } }'
    for brain in (ALLOWED, OTHER):
        response = await gql.post(document, {"b": brain}, scope=LIMITED)
        assert response.status_code == 403
        (error,) = response.json()["errors"]
        assert error["extensions"] == {"code": "FORBIDDEN"}
        assert "exploration queries read the whole graph" in error["message"]
        assert "use a token not limited to brains" in error["message"]
    unlimited = await gql.data(document, {"b": ALLOWED})
    assert unlimited == {"cypher": {"rows": [[1]]}}


async def test_unknown_brain_message_names_no_other_brain(gql: GraphQLClient) -> None:
    # An unlimited token: even it learns no brain's name from a NOT_FOUND message.
    error = await gql.error("query($b: String!) { brain(name: $b) { name } }", {"b": "nope"})
    assert error["message"] == "unknown brain 'nope'"
    assert ALLOWED not in error["message"] and OTHER not in error["message"]
