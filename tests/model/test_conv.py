"""MarbleConv and BrainModel against a hand computation of the forward pass (docs/model.md)."""

from __future__ import annotations

import math

import pytest
import torch

from marble_graph.config import CoreConfig
from marble_graph.model import BrainModel, MarbleConv
from marble_graph.model.synapse_matrix import SynapseMatrix
from marble_graph.seed import seed_brain_graph
from marble_graph.tensors import BrainTensors
from marble_graph.tensors.brain_tensors import (
    TYPE_EXCITATORY,
    TYPE_INHIBITORY,
    TYPE_MODULATORY,
    TYPE_STANDARD,
)
from tests.conftest import small_config

# 4 neurons: 0 -> 2, 1 -> 2, 2 -> 3, 3 -> 2
EDGES = torch.tensor([[0, 1, 2, 3], [2, 2, 3, 2]])


def naive_round(conv: MarbleConv, h: torch.Tensor, edge_index, weight, bias) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """The forward pass written per edge and per target with Python loops: the second code path."""
    size = h.shape[-1]
    new = h.clone()
    for target in range(h.shape[0]):
        incoming = [e for e in range(edge_index.shape[1]) if edge_index[1, e] == target]
        if not incoming:
            agg = torch.zeros_like(h[target])
        else:
            q = conv.query(h[target])  # [B, R]
            scores = torch.stack(
                [(q * conv.key(h[edge_index[0, e]])).sum(-1) for e in incoming]
            ) / (math.sqrt(size) * (1.0 / (conv.scale * math.sqrt(size))))
            attention = torch.softmax(scores, dim=0)  # [in, B]
            messages = torch.stack(
                [weight[e] * conv.value(h[edge_index[0, e]]) for e in incoming]
            )  # [in, B, R]
            agg = (attention.unsqueeze(-1) * messages).sum(0)
        gate = 1 - torch.exp(-agg.abs())
        update = conv.act(conv.mlp(conv.norm(agg)) + bias[target])
        new[target] = conv.alpha * h[target] + (1 - conv.alpha) * (
            gate * update + (1 - gate) * h[target]
        )
    return new


def run_conv(conv: MarbleConv, h: torch.Tensor, weight, bias, active=None) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """One round on node-major states [N, B, R], through the batch-major layer.

    Inactive neurons neither send (their out-edges are left out) nor change
    (they are not among the matrix's target rows), as BrainModel builds it.
    """
    nodes, batch, size = h.shape
    targets, edges, edge_ids = None, EDGES, None
    if active is not None:
        targets = active.nonzero().squeeze(1)
        edge_ids = active[EDGES[0]].nonzero().squeeze(1)
        edges = EDGES[:, edge_ids]
    synapses = SynapseMatrix.build(edges, nodes, batch, targets, edge_ids)
    flat = h.transpose(0, 1).reshape(batch * nodes, size)
    out = conv(flat, synapses, weight, bias)
    return out.view(batch, nodes, size).transpose(0, 1)


def test_marble_conv_matches_the_forward_formula_computed_by_hand() -> None:
    torch.manual_seed(0)
    conv = MarbleConv(size=5, alpha=0.3, temperature=0.7, activation="tanh", attention_size=3)
    h = torch.randn(4, 2, 5)  # [N, B, R]
    weight = torch.tensor([0.5, -1.5, 2.0, 0.25])
    bias = torch.randn(4)
    fast = run_conv(conv, h, weight, bias)
    slow = naive_round(conv, h, EDGES, weight, bias)
    assert torch.allclose(fast, slow, atol=1e-5)


def test_neuron_without_incoming_edges_keeps_its_state() -> None:
    conv = MarbleConv(size=3)
    h = torch.randn(4, 1, 3)
    out = run_conv(conv, h, torch.ones(4), torch.zeros(4))
    assert torch.equal(out[0], h[0]) and torch.equal(out[1], h[1])


def test_inactive_neurons_neither_change_nor_send() -> None:
    conv = MarbleConv(size=3)
    h = torch.randn(4, 1, 3)
    weight = torch.tensor([0.5, -1.0, 2.0, 1.5])
    active = torch.tensor([True, True, True, False])  # neuron 3 (3 -> 2) is silenced
    out = run_conv(conv, h, weight, torch.zeros(4), active)
    assert torch.equal(out[3], h[3])
    assert not torch.equal(out[2], h[2])
    # Neuron 2 hears exactly what it would if the synapse 3 -> 2 did not exist.
    without = naive_round(conv, h, EDGES[:, :3], weight[:3], torch.zeros(4))
    assert torch.allclose(out[2], without[2], atol=1e-6)


def _tiny_brain(types: list[int]) -> BrainTensors:
    tensors = BrainTensors.from_graph(
        seed_brain_graph(small_config(input_neurons=2, output_neurons=1))
    )
    count = tensors.num_synapses
    tensors.synapse_type = torch.tensor((types * count)[:count])
    return tensors


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (TYPE_STANDARD, lambda w, r, s: w),
        (TYPE_EXCITATORY, lambda w, r, s: w.abs()),
        (TYPE_INHIBITORY, lambda w, r, s: -w.abs()),
        (TYPE_MODULATORY, lambda w, r, s: w * (1 + r - s)),
    ],
)
def test_effective_weight_follows_the_synapse_type(kind, expected) -> None:  # type: ignore[no-untyped-def]
    tensors = _tiny_brain([kind])
    tensors.weight = torch.linspace(-2, 2, tensors.num_synapses)
    model = BrainModel(tensors, CoreConfig(), random_seed=0)
    got = model.effective_weight(reward=0.5, stress=0.25)
    assert torch.allclose(got, expected(tensors.weight, 0.5, 0.25))


def test_frozen_synapses_get_no_gradient() -> None:
    tensors = _tiny_brain([TYPE_STANDARD])
    tensors.frozen = torch.zeros(tensors.num_synapses, dtype=torch.bool)
    tensors.frozen[::2] = True
    model = BrainModel(tensors, CoreConfig(), random_seed=0)
    model(torch.rand(3, 2)).sum().backward()
    assert model.weight.grad is not None
    assert torch.all(model.weight.grad[tensors.frozen] == 0)
    assert torch.any(model.weight.grad[~tensors.frozen] != 0)


def test_low_energy_neurons_are_masked_out() -> None:
    tensors = _tiny_brain([TYPE_STANDARD])
    core = CoreConfig(energy_threshold=0.5)
    x = torch.rand(3, 2)
    baseline = BrainModel(tensors, core, random_seed=0)(x)
    tensors.energy = torch.ones(tensors.num_neurons)
    tensors.energy[tensors.input_rows[0]] = 0.0  # silence input 0
    masked = BrainModel(tensors, core, random_seed=0)
    changed_x = x.clone()
    changed_x[:, 0] = 0.9  # input 0 no longer matters
    assert torch.allclose(masked(x), masked(changed_x))
    assert not torch.allclose(baseline, masked(x))


def test_forward_is_deterministic_and_does_not_change_parameters() -> None:
    tensors = _tiny_brain([TYPE_STANDARD])
    model = BrainModel(tensors, CoreConfig(), random_seed=3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(5, 2)
    with torch.no_grad():
        first, second = model(x), model(x)
    assert torch.equal(first, second)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_same_seed_gives_the_same_untrained_model() -> None:
    tensors = _tiny_brain([TYPE_STANDARD])
    x = torch.rand(4, 2)
    a = BrainModel(tensors, CoreConfig(), random_seed=11)(x)
    b = BrainModel(tensors, CoreConfig(), random_seed=11)(x)
    c = BrainModel(tensors, CoreConfig(), random_seed=12)(x)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_synapse_matrix_products_have_the_gradients_of_finite_differences() -> None:
    synapses = SynapseMatrix.build(EDGES, 4, 2)
    h = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    other = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    values = torch.randn(8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(synapses.matmul, (values, h))
    assert torch.autograd.gradcheck(synapses.sampled_dot, (h, other))


def test_synapse_matrix_products_equal_the_plain_gather_scatter() -> None:
    """Second code path: per-edge gathers and an index_add over node-major states."""
    synapses = SynapseMatrix.build(EDGES, 4, 2)
    h = torch.randn(4, 2, 3)  # [N, B, R]
    q = torch.randn(4, 2, 3)
    coefficient = torch.randn(4, 2)  # [E, B] in edge-id order
    expected = torch.zeros(4, 2, 3).index_add_(0, EDGES[1], h[EDGES[0]] * coefficient.unsqueeze(-1))
    flat = h.transpose(0, 1).reshape(8, 3)
    values = coefficient[synapses.edge_order].t().reshape(-1)  # [B*E] nonzero order
    got = synapses.matmul(values, flat).view(2, 4, 3).transpose(0, 1)
    assert torch.allclose(got, expected, atol=1e-6)
    scores = (q[EDGES[1]] * h[EDGES[0]]).sum(-1)  # [E, B]
    sampled = synapses.sampled_dot(q.transpose(0, 1).reshape(8, 3), flat)
    assert torch.allclose(sampled, scores[synapses.edge_order].t().reshape(-1), atol=1e-6)


def _every_neuron_every_round(model: BrainModel, x: torch.Tensor) -> torch.Tensor:
    """The forward pass without pruning: all neurons updated in every round."""
    batch, (nodes, size) = x.shape[0], model.state.shape
    scale = torch.ones(batch, nodes).index_copy(1, model.input_rows, x)
    h = (scale.unsqueeze(-1) * model.state.unsqueeze(0)).view(batch * nodes, size)
    everyone = SynapseMatrix.build(model.edge_index, nodes, batch)
    weight = model.effective_weight()
    for _ in range(model.core.message_passing_iterations):
        h = model.conv(h, everyone, weight, model.bias)
    out = h.view(batch, nodes, size)[:, model.output_rows]
    return (out * model.readout_weight).sum(-1) + model.readout_bias


def test_rounds_update_only_what_reaches_an_output_and_give_the_same_outputs() -> None:
    tensors = BrainTensors.from_graph(
        seed_brain_graph(small_config(input_neurons=3, output_neurons=2))
    )
    model = BrainModel(tensors, CoreConfig(message_passing_iterations=3), random_seed=0)
    x = torch.rand(5, 3)
    pruned = model(x)
    grads = torch.autograd.grad(pruned.sum(), [model.weight, model.state])
    full = _every_neuron_every_round(model, x)
    expected = torch.autograd.grad(full.sum(), [model.weight, model.state])
    assert torch.allclose(pruned, full, atol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(grads, expected, strict=True))
    last_round = model._round_matrices(5, None)[-1]
    assert torch.equal(last_round.targets, model.output_rows.sort().values)
    first_round = model._round_matrices(5, None)[0]
    assert first_round.targets.numel() < tensors.num_neurons  # inputs receive nothing
