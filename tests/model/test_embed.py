"""``BrainModel.embed``: the output neurons' final states, the states the readout reads."""

from __future__ import annotations

import torch

from marble_graph.config import CoreConfig
from marble_graph.model import BrainModel
from marble_graph.model.brain_model import _MAX_NONZEROS
from marble_graph.seed import seed_brain_graph
from marble_graph.tensors import BrainTensors
from tests.conftest import small_config


def _model() -> BrainModel:
    tensors = BrainTensors.from_graph(seed_brain_graph(small_config()))
    return BrainModel(tensors, CoreConfig(representation_size=4), random_seed=3).eval()


def test_the_readout_of_the_embedding_is_the_forward_output_to_the_last_bit() -> None:
    model, x = _model(), torch.rand(6, 5)
    with torch.inference_mode():
        embedding = model.embed(x)
        outputs = model(x)
        per_output = embedding.view(6, 3, 4)
        read = (per_output * model.readout_weight).sum(dim=-1) + model.readout_bias
    assert embedding.shape == (6, 3 * 4)  # outputs x representation_size
    assert torch.equal(read, outputs)


def test_embeddings_depend_on_the_input_and_not_on_the_batch_around_it() -> None:
    model, x = _model(), torch.rand(5, 5)
    with torch.inference_mode():
        together = model.embed(x)
        alone = torch.cat([model.embed(row[None]) for row in x])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(together[0], together[1])


def test_a_batch_larger_than_one_slice_embeds_in_slices_alike() -> None:
    model = _model()
    rows = model.slice_size() + 3
    assert rows * model.edge_index.shape[1] > _MAX_NONZEROS
    x = torch.rand(rows, 5)
    with torch.inference_mode():
        embedding = model.embed(x)
        tail = model.embed(x[-3:])
    assert embedding.shape == (rows, 12)
    torch.testing.assert_close(embedding[-3:], tail, rtol=1e-5, atol=1e-6)
