"""Reading brains over GraphQL: records, stats, paged neurons and synapses, loaders."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.server.graphql.conftest import BRAIN, GraphQLClient, create_wave

pytestmark = pytest.mark.anyio

NEURON_PAGE = """
query($first: Int, $after: String, $filter: NeuronFilter) {
  brain(name: "wave") {
    neurons(first: $first, after: $after, filter: $filter) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id kind } }
    }
  }
}"""

SYNAPSE_PAGE = """
query($first: Int, $after: String, $filter: SynapseFilter) {
  brain(name: "wave") {
    synapses(first: $first, after: $after, filter: $filter) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id source target weight synapseType } }
    }
  }
}"""


async def _walk(gql: GraphQLClient, document: str, field: str, **variables: Any) -> list[Any]:
    """Every node of a connection, following endCursor page by page."""
    nodes: list[Any] = []
    after = None
    while True:
        data = await gql.data(document, {**variables, "after": after})
        page = data["brain"][field]
        nodes.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            assert len(nodes) == page["totalCount"]
            return nodes
        after = page["pageInfo"]["endCursor"]


def _synapses(gql: GraphQLClient) -> list[dict[str, Any]]:
    service = gql.live.state.service
    return service.load_graph(BRAIN).synapses.to_pylist()


async def test_brain_query_returns_record_and_live_stats(gql: GraphQLClient) -> None:
    data = await gql.data(
        """{ brain(name: "wave") { name version neuronCount synapseCount graphHash
             stats { neuronsByKind { key count } synapsesByType { key count } }
             lobes { id } versions { version state note } } }"""
    )
    brain = data["brain"]
    details = await asyncio.to_thread(gql.live.state.service.show_brain, BRAIN)
    assert brain["name"] == BRAIN and brain["version"] == 1
    assert brain["neuronCount"] == details.info.neuron_count
    assert brain["graphHash"] == details.info.graph_hash
    kinds = {row["key"]: row["count"] for row in brain["stats"]["neuronsByKind"]}
    types = {row["key"]: row["count"] for row in brain["stats"]["synapsesByType"]}
    assert kinds == details.neurons_by_kind and types == details.synapses_by_type
    assert sum(kinds.values()) == brain["neuronCount"]
    assert brain["lobes"] == []  # lobes form during training
    assert brain["versions"] == [{"version": 1, "state": "committed", "note": "seed"}]


async def test_brains_lists_every_brain_by_name(gql: GraphQLClient) -> None:
    data = await gql.data("{ brains { name neuronCount } }")
    assert BRAIN in [b["name"] for b in data["brains"]]


async def test_unknown_brain_is_not_found_and_names_no_other_brain(gql: GraphQLClient) -> None:
    # A token may be limited to some brains: the API's message never lists the others.
    error = await gql.error('{ brain(name: "nope") { name } }')
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert "'nope'" in error["message"] and BRAIN not in error["message"]


async def test_neuron_pages_walk_every_neuron_once(gql: GraphQLClient) -> None:
    nodes = await _walk(gql, NEURON_PAGE, "neurons", first=7)
    ids = [n["id"] for n in nodes]
    assert ids == sorted(set(ids))
    assert len(ids) == gql.live.state.service.get_brain(BRAIN).neuron_count


async def test_neuron_filter_selects_one_kind(gql: GraphQLClient) -> None:
    nodes = await _walk(gql, NEURON_PAGE, "neurons", first=10, filter={"kind": "hidden"})
    assert nodes and {n["kind"] for n in nodes} == {"hidden"}


async def test_synapse_pages_walk_every_synapse_once(gql: GraphQLClient) -> None:
    nodes = await _walk(gql, SYNAPSE_PAGE, "synapses", first=50)
    assert sorted(n["id"] for n in nodes) == sorted(s["id"] for s in _synapses(gql))
    assert len({n["id"] for n in nodes}) == len(nodes)


async def test_synapse_filter_matches_a_reference_selection(gql: GraphQLClient) -> None:
    everything = _synapses(gql)
    source = everything[0]["src"]

    def wanted(s: dict[str, Any]) -> bool:
        return abs(s["weight"]) >= 1.5 and s["src"] == source and s["synapse_type"] == "standard"

    nodes = await _walk(
        gql,
        SYNAPSE_PAGE,
        "synapses",
        first=3,
        filter={"minWeight": 1.5, "source": source, "synapseType": "standard"},
    )
    assert sorted(n["id"] for n in nodes) == sorted(s["id"] for s in everything if wanted(s))


async def test_page_larger_than_the_cap_is_refused_naming_the_cap(gql: GraphQLClient) -> None:
    cap = gql.live.state.settings.graphql_page_max
    error = await gql.error(NEURON_PAGE, {"first": cap + 1})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert f"1..{cap}" in error["message"] and "graphql_page_max" in error["message"]


async def test_cursor_of_another_connection_is_refused(gql: GraphQLClient) -> None:
    data = await gql.data(SYNAPSE_PAGE, {"first": 1})
    synapse_cursor = data["brain"]["synapses"]["pageInfo"]["endCursor"]
    for bad in (synapse_cursor, "not a cursor"):
        error = await gql.error(NEURON_PAGE, {"first": 1, "after": bad})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "neuron cursor" in error["message"]


async def test_neuron_incoming_and_outgoing_match_the_stored_synapses(gql: GraphQLClient) -> None:
    synapses = _synapses(gql)
    neuron_id = synapses[0]["dst"]
    data = await gql.data(
        """query($id: Int!) { neuron(brain: "wave", id: $id) {
             id incoming { id source target weight } outgoing { id source target } } }""",
        {"id": neuron_id},
    )
    neuron = data["neuron"]
    incoming = sorted(s["id"] for s in synapses if s["dst"] == neuron_id)
    outgoing = sorted(s["id"] for s in synapses if s["src"] == neuron_id)
    assert [s["id"] for s in neuron["incoming"]] == incoming
    assert [s["id"] for s in neuron["outgoing"]] == outgoing
    assert all(s["target"] == neuron_id for s in neuron["incoming"])
    assert all(s["source"] == neuron_id for s in neuron["outgoing"])


async def test_missing_neuron_is_not_found(gql: GraphQLClient) -> None:
    error = await gql.error('{ neuron(brain: "wave", id: 999999) { id } }')
    assert error["extensions"]["code"] == "NOT_FOUND" and "999999" in error["message"]


async def test_loaders_batch_neighbours_into_constant_queries(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = gql.live.state.service.graph
    calls: list[str] = []
    original = graph.arrow

    def counted(query: str, params: dict[str, Any] | None = None) -> Any:
        calls.append(query)
        return original(query, params)

    monkeypatch.setattr(graph, "arrow", counted)
    document = """query($first: Int) { brain(name: "wave") { neurons(first: $first) { edges {
        node { id incoming { id sourceNeuron { id } } outgoing { id } lobe { name } } } } } }"""
    counts = []
    for first in (2, 20):
        calls.clear()
        data = await gql.data(document, {"first": first})
        assert len(data["brain"]["neurons"]["edges"]) == first
        counts.append(len(calls))
    # page + incoming + outgoing + lobe + the sources of all incoming synapses
    assert counts == [5, 5]


async def test_trained_brain_lobes_count_members_and_filter_neurons(gql: GraphQLClient) -> None:

    service = gql.live.state.service
    await create_wave(gql.live, "trained")
    await asyncio.to_thread(service.train, "trained", "sine", epochs=1)
    graph = service.load_graph("trained")
    lobe_names = dict(
        zip(graph.lobes["id"].to_pylist(), graph.lobes["name"].to_pylist(), strict=True)
    )
    members: dict[str, list[int]] = {}
    for neuron, lobe in zip(
        graph.memberships["neuron"].to_pylist(), graph.memberships["lobe"].to_pylist(), strict=True
    ):
        members.setdefault(lobe_names[lobe], []).append(neuron)
    assert members, "training forms lobes"

    data = await gql.data('{ brain(name: "trained") { version lobes { name memberCount } } }')
    assert data["brain"]["version"] == 2
    assert {lobe["name"]: lobe["memberCount"] for lobe in data["brain"]["lobes"]} == {
        name: len(ids) for name, ids in members.items()
    }

    name, ids = max(members.items(), key=lambda item: len(item[1]))
    page = await gql.data(
        """query($lobe: String) { brain(name: "trained") { neurons(filter: {lobe: $lobe}) {
             totalCount edges { node { id lobe { name memberCount } } } } } }""",
        {"lobe": name},
    )
    neurons = page["brain"]["neurons"]
    assert neurons["totalCount"] == len(ids)
    assert sorted(edge["node"]["id"] for edge in neurons["edges"]) == sorted(ids)
    assert {edge["node"]["lobe"]["name"] for edge in neurons["edges"]} == {name}
    assert {edge["node"]["lobe"]["memberCount"] for edge in neurons["edges"]} == {len(ids)}
