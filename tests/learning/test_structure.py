"""StructuralChange, remap_rows, compose and remap_optimizer_state carry old rows into new ones."""

from __future__ import annotations

import pytest
import torch

from marble_graph.errors import ValidationFailed
from marble_graph.learning.plasticity import (
    StructuralChange,
    compose,
    prune_synapses,
    remap_optimizer_state,
    remap_rows,
    split_synapses,
)
from tests.learning.plasticity_graphs import brain

# -- remapping -------------------------------------------------------------------


def test_remap_rows_keeps_then_appends() -> None:
    old = torch.tensor([[0.0], [1.0], [2.0]])
    result = remap_rows(old, torch.tensor([0, 2]), torch.tensor([[9.0]]))
    assert result.tolist() == [[0.0], [2.0], [9.0]]


def test_compose_equals_two_remaps_in_sequence() -> None:
    first = StructuralChange(
        kept_neurons=torch.tensor([0, 2, 3, 5]),
        new_neurons=2,  # intermediate rows 4, 5
        kept_synapses=torch.tensor([1, 2]),
        new_synapses=1,
        counts={"prune": 1, "split": 1},
    )
    second = StructuralChange(
        kept_neurons=torch.tensor([1, 2, 5]),  # drops intermediate 0, 3 and the first new row
        new_neurons=3,
        kept_synapses=torch.tensor([0, 1, 2]),
        new_synapses=0,
        counts={"split": 2, "concept": 1},
    )
    both = compose(first, second)

    old = torch.arange(6)
    middle = remap_rows(old, first.kept_neurons, torch.tensor([-1, -2]))
    final = remap_rows(middle, second.kept_neurons, torch.tensor([-3, -4, -5]))
    assert final.tolist() == [2, 3, -2, -3, -4, -5]
    assert both.kept_neurons.tolist() == [2, 3]
    assert both.new_neurons == 4
    assert torch.equal(remap_rows(old, both.kept_neurons, final[2:]), final)
    assert both.kept_synapses.tolist() == [1, 2]
    assert both.new_synapses == 1
    assert both.counts == {"prune": 1, "split": 3, "concept": 1}


def test_compose_of_real_operations_maps_old_rows() -> None:
    # position 4 is hot (split), position 3 weak and cold (pruned afterwards)
    t = brain(
        weight=torch.tensor([0.3, -0.5, 0.8, 0.001, 0.6]),
        potential=torch.tensor([1.0, 1.0, 1.0, 0.1, 12.0]),
    )
    split, first = split_synapses(t, 10.0, step=1)
    pruned, second = prune_synapses(split, 0.01, 0.5)
    both = compose(first, second)
    ids = remap_rows(t.synapse_id, both.kept_synapses, pruned.synapse_id[-both.new_synapses :])
    assert torch.equal(ids, pruned.synapse_id)
    assert both.counts == {"split": 1, "prune": 1}


def test_compose_rejects_unsorted_kept_rows() -> None:
    first = StructuralChange(torch.tensor([0, 1]), 1, torch.tensor([0]), 0, {})
    second = StructuralChange(torch.tensor([2, 0]), 0, torch.tensor([0]), 0, {})
    with pytest.raises(ValidationFailed, match="ascending"):
        compose(first, second)


def test_remap_optimizer_state_moves_adam_moments() -> None:
    old = torch.nn.Parameter(torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]))
    other = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.Adam([old, other], lr=0.1)
    ((old**2).sum() + other.sum()).backward()
    optimizer.step()
    exp_avg = optimizer.state[old]["exp_avg"].clone()
    step = optimizer.state[old]["step"].clone()

    kept = torch.tensor([0, 2, 3])
    new = torch.nn.Parameter(remap_rows(old.detach(), kept, torch.zeros(2, 2)))
    remap_optimizer_state(optimizer, old, new, kept, new_count=2)

    state = optimizer.state[new]
    assert torch.equal(state["exp_avg"][:3], exp_avg[kept])
    assert torch.equal(state["exp_avg"][3:], torch.zeros(2, 2))
    assert torch.equal(state["exp_avg_sq"][3:], torch.zeros(2, 2))
    assert torch.equal(state["step"], step)
    assert old not in optimizer.state
    assert optimizer.param_groups[0]["params"][0] is new
    assert optimizer.param_groups[0]["params"][1] is other

    optimizer.zero_grad()
    ((new**2).sum() + other.sum()).backward()
    before = new.detach().clone()
    optimizer.step()
    assert not torch.equal(new.detach(), before)
    assert optimizer.state[new]["step"].item() == 2


def test_remap_optimizer_state_moves_sgd_momentum() -> None:
    old = torch.nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))
    optimizer = torch.optim.SGD([old], lr=0.1, momentum=0.9)
    (old**2).sum().backward()
    optimizer.step()
    momentum = optimizer.state[old]["momentum_buffer"].clone()

    new = torch.nn.Parameter(remap_rows(old.detach(), torch.tensor([1]), torch.zeros(1)))
    remap_optimizer_state(optimizer, old, new, torch.tensor([1]), new_count=1)

    assert optimizer.state[new]["momentum_buffer"].tolist() == [momentum[1].item(), 0.0]
    optimizer.zero_grad()
    (new**2).sum().backward()
    optimizer.step()


def test_remap_optimizer_state_rejects_wrong_row_count() -> None:
    old = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.SGD([old], lr=0.1)
    with pytest.raises(ValidationFailed, match="expected 3 rows"):
        remap_optimizer_state(optimizer, old, torch.nn.Parameter(torch.ones(4)), torch.arange(2), 1)
