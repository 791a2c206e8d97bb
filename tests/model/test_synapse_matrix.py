"""SynapseMatrix structure: a smaller batch's structure is a prefix of a larger one's."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from marble_graph.model import BrainModel
from marble_graph.model.synapse_matrix import SynapseMatrix
from marble_graph.seed import seed_brain_graph
from marble_graph.tensors import BrainTensors
from tests.conftest import small_config

STRUCTURE_FIELDS = [
    f.name for f in dataclasses.fields(SynapseMatrix) if f.name not in ("_placeholders",)
]


def _random_graph(nodes: int, edges: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, nodes, (2, edges), generator=generator)


@pytest.mark.parametrize("subset", [False, True])
def test_a_prefix_is_the_structure_built_for_fewer_examples(subset: bool) -> None:
    nodes, largest = 30, 6
    edge_index = _random_graph(nodes, 120, seed=3)
    targets = edge_ids = None
    if subset:  # a round that updates some neurons, over a selection of the edges
        targets = torch.arange(0, nodes, 3)
        edge_ids = torch.arange(0, 120, 2)
        edge_index = edge_index[:, edge_ids]
    full = SynapseMatrix.build(edge_index, nodes, largest, targets, edge_ids)
    for batch in range(1, largest + 1):
        built = SynapseMatrix.build(edge_index, nodes, batch, targets, edge_ids)
        sliced = full.prefix(batch)
        for name in STRUCTURE_FIELDS:
            assert torch.equal(
                torch.as_tensor(getattr(sliced, name)), torch.as_tensor(getattr(built, name))
            ), f"batch {batch}: {name}"


def test_a_prefix_of_more_examples_than_the_matrix_holds_is_refused() -> None:
    matrix = SynapseMatrix.build(_random_graph(10, 20, seed=0), 10, 4)
    with pytest.raises(ValueError, match="1 to 4 examples, got 5"):
        matrix.prefix(5)
    with pytest.raises(ValueError, match="got 0"):
        matrix.prefix(0)


def test_a_small_batch_after_a_large_one_gives_the_outputs_of_a_fresh_model() -> None:
    config = small_config(input_neurons=3, output_neurons=2)
    tensors = BrainTensors.from_graph(seed_brain_graph(config))
    features = torch.randn(9, 3, generator=torch.Generator().manual_seed(1))
    fresh = BrainModel(tensors, config.core, random_seed=7).eval()
    reused = BrainModel(tensors, config.core, random_seed=7).eval()
    with torch.no_grad():
        expected = fresh(features[:4])
        reused(features)  # builds the matrices for 9 examples
        got = reused(features[:4])  # served from views of them
    assert reused._matrices[4][0].batch == 4
    assert reused._matrices[4][0].col.data_ptr() == reused._largest[0].col.data_ptr()
    assert torch.equal(got, expected)
