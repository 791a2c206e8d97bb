"""``BrainModel.activations``: every neuron's state after K rounds that update every neuron."""

from __future__ import annotations

import torch

from marble_graph.config import CoreConfig
from marble_graph.model import BrainModel
from marble_graph.model.brain_model import first_states
from marble_graph.model.synapse_matrix import SynapseMatrix
from marble_graph.seed import seed_brain_graph
from marble_graph.tensors import BrainTensors
from marble_graph.tensors.brain_tensors import KIND_HIDDEN
from tests.conftest import small_config


def _model() -> tuple[BrainModel, BrainTensors]:
    tensors = BrainTensors.from_graph(seed_brain_graph(small_config()))
    model = BrainModel(tensors, CoreConfig(representation_size=4), random_seed=3).eval()
    return model, tensors


def _rounds_over_every_neuron(model: BrainModel, x: torch.Tensor) -> torch.Tensor:
    """docs/model.md's K rounds taken literally: every neuron is a row of every round's
    matrix (one without incoming synapses hears nothing, its gate stays shut, it keeps
    its state), all neurons active."""
    h = first_states(x, model.state, model.input_rows)
    synapses = SynapseMatrix.build(model.edge_index, model.state.shape[0], x.shape[0])
    effective = model.effective_weight()
    for _ in range(model.core.message_passing_iterations):
        h = model.conv(h, synapses, effective, model.bias)
    return h.view(x.shape[0], -1, h.shape[1])


def test_states_are_those_of_k_rounds_that_update_every_neuron() -> None:
    model, tensors = _model()
    x = torch.rand(3, 5)
    with torch.inference_mode():
        states, _ = model.activations(x)
        expected = _rounds_over_every_neuron(model, x)
    assert states.shape == (3, tensors.num_neurons, 4)
    torch.testing.assert_close(states, expected, rtol=1e-5, atol=1e-6)


def test_output_states_are_the_embedding_and_outputs_the_forward_pass() -> None:
    model, tensors = _model()
    x = torch.rand(4, 5)
    with torch.inference_mode():
        states, outputs = model.activations(x)
        embedding = model.embed(x).view(4, 3, 4)
        forward = model(x)
    torch.testing.assert_close(states[:, tensors.output_rows], embedding, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(outputs, forward, rtol=1e-5, atol=1e-6)


def test_hidden_states_differ_from_where_the_pruned_rounds_leave_them() -> None:
    # forward/embed skip, in later rounds, neurons that no longer reach an output: their
    # rows in _final_states are stale; activations must not be.
    model, tensors = _model()
    x = torch.rand(1, 5)
    with torch.inference_mode():
        states, _ = model.activations(x)
        pruned = model._final_states(x, None, 0.0, 0.0).view(1, -1, 4)
    hidden = tensors.kind == KIND_HIDDEN
    differs = (states[0, hidden] - pruned[0, hidden]).abs().amax(dim=1) > 1e-6
    assert bool(differs.any())


def test_a_neuron_below_the_energy_threshold_keeps_its_first_state() -> None:
    model, tensors = _model()
    hidden = (tensors.kind == KIND_HIDDEN).nonzero().squeeze(1)
    asleep = hidden[:5]
    with torch.no_grad():
        model.energy[asleep] = model.core.energy_threshold - 1.0
    model._forget_derived()  # the active mask is derived from the energy once per structure
    x = torch.rand(2, 5)
    with torch.inference_mode():
        states, _ = model.activations(x)
        start = first_states(x, model.state, model.input_rows).view(2, -1, 4)
        awake = _rounds_over_every_neuron(model, x)
    torch.testing.assert_close(states[:, asleep], start[:, asleep])
    # The sleepers are not attended to either, so the awake neurons hear less.
    assert not torch.allclose(states[:, hidden[5:]], awake[:, hidden[5:]])
