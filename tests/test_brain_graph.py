"""Canonical row order of a brain graph: no copy when already ordered, same hash either way."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from marble_graph.brain_graph import BrainGraph, canonical_order, graph_hash
from marble_graph.seed import seed_brain_graph
from tests.conftest import small_config


def test_tables_in_id_order_are_returned_without_a_copy() -> None:
    graph = seed_brain_graph(small_config())
    assert canonical_order(graph.synapses, "synapses") is graph.synapses
    assert canonical_order(graph.neurons, "neurons") is graph.neurons


def test_shuffled_tables_are_sorted_and_hash_as_the_ordered_graph() -> None:
    graph = seed_brain_graph(small_config())
    order = np.random.default_rng(0).permutation(graph.synapse_count)
    shuffled = graph.synapses.take(pa.array(order))
    ordered = canonical_order(shuffled, "synapses")
    assert ordered.equals(graph.synapses)
    mixed = BrainGraph(
        neurons=graph.neurons.take(pa.array(np.arange(graph.neuron_count)[::-1].copy())),
        synapses=shuffled,
        lobes=graph.lobes,
        memberships=graph.memberships,
        memories=graph.memories,
    )
    assert graph_hash(mixed) == graph_hash(graph)


def test_memberships_are_ordered_by_neuron_then_lobe() -> None:
    table = pa.table(
        {"neuron": pa.array([3, 1, 2], pa.int64()), "lobe": pa.array([0, 2, 1], pa.int64())}
    )
    ordered = canonical_order(table, "memberships")
    assert ordered.column("neuron").to_pylist() == [1, 2, 3]
    assert ordered.column("lobe").to_pylist() == [2, 1, 0]
