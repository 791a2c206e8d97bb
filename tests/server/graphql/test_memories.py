"""Memories over GraphQL: remember, recall, lookup, memories, forget, and their errors."""

from __future__ import annotations

import pytest

from tests.server.graphql.conftest import GraphQLClient

pytestmark = pytest.mark.anyio

REMEMBER = """mutation($inputs: [[Float!]!], $key: String, $value: JSON) {
  remember(brain: "wave", inputs: $inputs, key: $key, value: $value)
}"""
RECALL = """query($features: [Float!], $embedding: [Float!], $k: Int!, $exact: Boolean!) {
  recall(brain: "wave", features: $features, embedding: $embedding, k: $k, exact: $exact) {
    id similarity key value brainVersion neurons embedded createdAt
  }
}"""


async def test_remember_recall_lookup_page_and_forget(fresh: GraphQLClient) -> None:
    ids = await fresh.data(
        REMEMBER, {"inputs": [[0.1], [0.5], [0.9]], "value": {"tag": "x"}}, scope="train"
    )
    assert ids == {"remember": [0, 1, 2]}
    fact = await fresh.data(REMEMBER, {"key": "capital", "value": "paris"}, scope="train")
    assert fact == {"remember": [3]}

    variables = {"features": [0.5], "k": 2, "exact": False}
    recalled = (await fresh.data(RECALL, variables, scope="infer"))["recall"]
    exact = (await fresh.data(RECALL, {**variables, "exact": True}, scope="infer"))["recall"]
    assert recalled[0]["id"] == 1 and recalled[0]["value"] == {"tag": "x"}
    assert [m["id"] for m in recalled] == [m["id"] for m in exact]
    assert recalled[0]["embedded"] and len(recalled[0]["neurons"]) > 0

    looked_up = await fresh.data('{ lookup(brain: "wave", key: "capital") { id value embedded } }')
    assert looked_up == {"lookup": [{"id": 3, "value": "paris", "embedded": False}]}
    page = await fresh.data(
        '{ memories(brain: "wave", first: 3) { total nextBefore memories { id } } }'
    )
    assert page == {
        "memories": {"total": 4, "nextBefore": 1, "memories": [{"id": 3}, {"id": 2}, {"id": 1}]}
    }
    forgot = await fresh.data('mutation { forget(brain: "wave", keepLast: 1) }', scope="train")
    assert forgot == {"forget": 3}


async def test_memory_errors_are_coded_and_name_what_is_wrong(gql: GraphQLClient) -> None:
    missing = await gql.error('{ lookup(brain: "wave", key: "nope") { id } }')
    assert missing["extensions"]["code"] == "NOT_FOUND"
    assert missing["message"] == "brain 'wave' has no memory with key 'nope'"
    wide = await gql.error(RECALL, {"embedding": [1.0, 2.0], "k": 3, "exact": False}, scope="infer")
    assert wide["extensions"]["code"] == "BAD_USER_INPUT"
    assert "embedding has 2 values; brain 'wave' embeds to" in wide["message"]
    k = await gql.error(RECALL, {"features": [0.5], "k": 0, "exact": False}, scope="infer")
    assert "k must be a whole number between 1 and 1000, got 0" in k["message"]
    empty = await gql.data(RECALL, {"features": [0.5], "k": 3, "exact": False}, scope="infer")
    assert empty == {"recall": []}
    refused = await gql.error(RECALL, {"features": [0.5], "k": 3, "exact": False}, scope="read")
    assert refused["extensions"]["code"] == "FORBIDDEN"
    rules = await gql.error('mutation { forget(brain: "wave") }', scope="train")
    assert "exactly one of older_than and keep_last" in rules["message"]
