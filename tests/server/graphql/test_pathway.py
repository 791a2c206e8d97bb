"""Strongest paths: by hand on a few neurons, and against a max-product Floyd-Warshall."""

from __future__ import annotations

import math

import numpy as np
import pytest

from marble_graph.brains.pathway import strongest_path
from tests.server.graphql.conftest import BRAIN, GraphQLClient

PATHWAY = """query($from: Int!, $to: Int!) { pathway(brain: "wave", from: $from, to: $to) {
    neurons strength relativeStrength hops synapses { id source target weight } } }"""


def _path(edges: list[tuple[int, int, float]], start: int, end: int) -> tuple[list[int], float]:
    source = np.array([e[0] for e in edges])
    target = np.array([e[1] for e in edges])
    weight = np.array([e[2] for e in edges], dtype=np.float32)
    found = strongest_path(source, target, weight, start, end)
    assert found is not None
    return found.neurons, found.strength


def test_strongest_path_prefers_the_larger_product_over_fewer_hops() -> None:
    # 0 -> 3 directly is 0.5; 0 -> 1 -> 2 -> 3 is 0.9 * 0.9 * 0.9 = 0.729.
    edges = [(0, 3, 0.5), (0, 1, 0.9), (1, 2, -0.9), (2, 3, 0.9), (3, 0, 1.0)]
    neurons, strength = _path(edges, 0, 3)
    assert neurons == [0, 1, 2, 3]
    assert strength == pytest.approx(0.729, rel=1e-6)


def test_each_hop_is_measured_against_the_strongest_synapse() -> None:
    # Raw products: 1.0 direct, 2.0 * 0.9 = 1.8 in two hops. Relative to the
    # strongest synapse (2.0): 0.5 direct against 1.0 * 0.45, so the direct one wins.
    edges = [(0, 2, 1.0), (0, 1, 2.0), (1, 2, 0.9)]
    found = strongest_path(
        np.array([e[0] for e in edges]),
        np.array([e[1] for e in edges]),
        np.array([e[2] for e in edges]),
        0,
        2,
    )
    assert found is not None and found.neurons == [0, 2]
    assert found.strength == pytest.approx(1.0) and found.relative_strength == pytest.approx(0.5)


def test_strongest_path_uses_the_strongest_of_parallel_synapses() -> None:
    edges = [(10, 20, 0.2), (10, 20, -0.8), (20, 30, 2.0)]
    neurons, strength = _path(edges, 10, 30)
    assert neurons == [10, 20, 30]
    assert strength == pytest.approx(1.6, rel=1e-6)


def test_strongest_synapse_costs_nothing_but_stays_an_edge() -> None:
    # The strongest synapses have cost -log(1) = 0: explicit zeros in the matrix.
    neurons, strength = _path([(0, 1, 4.0), (1, 2, -4.0)], 0, 2)
    assert neurons == [0, 1, 2] and strength == pytest.approx(16.0)


def test_unreachable_and_zero_weight_paths_are_none() -> None:
    source, target = np.array([0, 1]), np.array([1, 2])
    assert strongest_path(source, target, np.array([1.0, 0.0]), 0, 2) is None
    assert strongest_path(source, target, np.array([1.0, 1.0]), 2, 0) is None


def test_path_to_itself_has_no_hops() -> None:
    found = strongest_path(np.array([0]), np.array([1]), np.array([0.5]), 1, 1)
    assert found is not None and found.neurons == [1] and found.strength == 1.0


def _max_product_strengths(service: object) -> tuple[dict[int, int], np.ndarray]:
    """Best product of |weight| / max|weight| between every pair: Floyd-Warshall on (max, *).

    Every factor is at most 1, so no cycle strengthens a path and the result is exact.
    """
    synapses = service.load_graph(BRAIN).synapses.to_pylist()  # type: ignore[attr-defined]
    strongest = max(abs(s["weight"]) for s in synapses)
    ids = sorted({s["src"] for s in synapses} | {s["dst"] for s in synapses})
    index = {neuron: i for i, neuron in enumerate(ids)}
    best = np.zeros((len(ids), len(ids)))
    for s in synapses:
        i, j = index[s["src"]], index[s["dst"]]
        best[i, j] = max(best[i, j], abs(s["weight"]) / strongest)
    for k in range(len(ids)):
        best = np.maximum(best, best[:, k, None] * best[None, k, :])
    return index, best


@pytest.mark.anyio
async def test_pathway_matches_a_floyd_warshall_check(gql: GraphQLClient) -> None:
    index, best = _max_product_strengths(gql.live.state.service)
    neurons = sorted(index)
    pairs = [(neurons[0], neurons[-1]), (neurons[0], neurons[len(neurons) // 2]), (2, 1)]
    for start, end in pairs:
        data = await gql.data(PATHWAY, {"from": start, "to": end})
        path = data["pathway"]
        expected = best[index[start], index[end]]
        assert expected > 0, "pick pairs that are joined"
        assert path["relativeStrength"] == pytest.approx(expected, rel=1e-5)
        hops = path["synapses"]
        assert path["hops"] == len(hops) == len(path["neurons"]) - 1
        assert [h["source"] for h in hops] == path["neurons"][:-1]
        assert [h["target"] for h in hops] == path["neurons"][1:]
        assert math.prod(abs(h["weight"]) for h in hops) == pytest.approx(path["strength"])


@pytest.mark.anyio
async def test_pathway_is_null_when_nothing_joins_the_neurons(gql: GraphQLClient) -> None:
    index, best = _max_product_strengths(gql.live.state.service)
    start, end = next(
        (a, b)
        for a in sorted(index)
        for b in sorted(index)
        if a != b and best[index[a], index[b]] == 0
    )
    data = await gql.data(PATHWAY, {"from": start, "to": end})
    assert data["pathway"] is None


@pytest.mark.anyio
async def test_pathway_from_a_missing_neuron_is_not_found(gql: GraphQLClient) -> None:
    error = await gql.error(PATHWAY, {"from": 0, "to": 123456})
    assert error["extensions"]["code"] == "NOT_FOUND" and "123456" in error["message"]
