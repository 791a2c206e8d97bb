"""BrainTensors: columns to tensors and back, exactly."""

from __future__ import annotations

import torch

from marble_graph.brain_graph import graph_hash
from marble_graph.seed import seed_brain_graph
from marble_graph.tensors import BrainTensors
from marble_graph.tensors.brain_tensors import KIND_INPUT, KIND_OUTPUT
from tests.conftest import small_config


def test_round_trip_through_tensors_is_bit_exact() -> None:
    graph = seed_brain_graph(small_config())
    tensors = BrainTensors.from_graph(graph)
    assert graph_hash(tensors.to_graph()) == graph_hash(graph)


def test_edge_index_holds_row_positions_in_id_order() -> None:
    graph = seed_brain_graph(small_config())
    tensors = BrainTensors.from_graph(graph)
    ids = tensors.neuron_id
    src = graph.synapses.column("src").to_numpy()
    assert torch.equal(ids[tensors.edge_index[0]], torch.tensor(src))
    assert torch.all(tensors.kind[tensors.input_rows] == KIND_INPUT)
    assert torch.all(tensors.kind[tensors.output_rows] == KIND_OUTPUT)


def test_to_pyg_shares_the_tensors() -> None:
    tensors = BrainTensors.from_graph(seed_brain_graph(small_config()))
    data = tensors.to_pyg()
    assert data.num_nodes == tensors.num_neurons
    assert data.edge_index is tensors.edge_index and data.x is tensors.state
    assert data.edge_weight is tensors.weight


def test_tensors_are_writable_copies_not_arrow_views() -> None:
    tensors = BrainTensors.from_graph(seed_brain_graph(small_config()))
    tensors.potential.add_(1.0)  # would be undefined behaviour on a read-only Arrow buffer
    assert torch.all(tensors.potential == 2.0)


def test_ids_survive_gaps_after_deletions() -> None:
    graph = seed_brain_graph(small_config())
    tensors = BrainTensors.from_graph(graph)
    keep = torch.ones(tensors.num_neurons, dtype=torch.bool)
    keep[10] = False  # drop neuron 10 and its synapses
    edges = keep[tensors.edge_index[0]] & keep[tensors.edge_index[1]]
    trimmed = BrainTensors.from_graph(
        graph.__class__(
            neurons=graph.neurons.filter(keep.numpy()),
            synapses=graph.synapses.filter(edges.numpy()),
            lobes=graph.lobes,
            memberships=graph.memberships,
            memories=graph.memories,
        )
    )
    assert 10 not in trimmed.neuron_id.tolist()
    assert graph_hash(trimmed.to_graph()) == graph_hash(
        BrainTensors.from_graph(trimmed.to_graph()).to_graph()
    )
