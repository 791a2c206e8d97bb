"""Read-only Cypher over GraphQL: scoped reads work, writes are refused and change nothing."""

from __future__ import annotations

import pytest

from tests.server.graphql.conftest import BRAIN, GraphQLClient

pytestmark = pytest.mark.anyio

CYPHER = """query($query: String!, $params: JSON) {
  cypher(brain: "wave", query: $query, params: $params) { columns rows truncated } }"""


async def _neuron_count(gql: GraphQLClient) -> int:
    data = await gql.data(
        CYPHER,
        {"query": "MATCH (n:Neuron) WHERE n.uid >= $lo AND n.uid < $hi RETURN count(*) AS n"},
    )
    return int(data["cypher"]["rows"][0][0])


async def test_cypher_reads_the_brain_through_its_bound_uid_range(gql: GraphQLClient) -> None:
    data = await gql.data(
        CYPHER,
        {
            "query": "MATCH (n:Neuron) WHERE n.uid >= $lo AND n.uid < $hi AND n.brain = $brain "
            "AND n.kind = $kind RETURN n.id AS id, n.kind AS kind ORDER BY id LIMIT 3",
            "params": {"kind": "hidden"},
        },
    )
    result = data["cypher"]
    assert result["columns"] == ["id", "kind"] and result["truncated"] is False
    assert len(result["rows"]) == 3 and {row[1] for row in result["rows"]} == {"hidden"}
    assert await _neuron_count(gql) == gql.live.state.service.get_brain(BRAIN).neuron_count


async def test_cypher_returns_whole_nodes_as_json(gql: GraphQLClient) -> None:
    data = await gql.data(CYPHER, {"query": "MATCH (n:Neuron) WHERE n.uid = $lo RETURN n"})
    node = data["cypher"]["rows"][0][0]
    assert node["brain"] == BRAIN and node["id"] == 0 and isinstance(node["state"], list)


async def test_cypher_write_is_refused_and_changes_nothing(gql: GraphQLClient) -> None:
    before = await _neuron_count(gql)
    for write in (
        "CREATE (:Neuron {uid: $hi - 1, brain: $brain, id: 4294967295, kind: 'hidden'})",
        "MATCH (n:Neuron) WHERE n.uid >= $lo AND n.uid < $hi DETACH DELETE n",
        "MATCH (n:Neuron) WHERE n.uid = $lo SET n.bias = 99.0",
    ):
        error = await gql.error(CYPHER, {"query": write})
        assert error["extensions"]["code"] == "QUERY_REFUSED", error
    assert await _neuron_count(gql) == before
    data = await gql.data('{ neuron(brain: "wave", id: 0) { bias } }')
    assert data["neuron"]["bias"] != 99.0


async def test_cypher_refuses_params_that_shadow_the_bound_ones(gql: GraphQLClient) -> None:
    error = await gql.error(CYPHER, {"query": "RETURN $lo", "params": {"lo": 0}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "'lo'" in error["message"]


async def test_cypher_on_an_unknown_brain_is_not_found(gql: GraphQLClient) -> None:
    error = await gql.error('{ cypher(brain: "nope", query: "RETURN 1") { rows } }')
    assert error["extensions"]["code"] == "NOT_FOUND"
