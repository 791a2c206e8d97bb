"""Structural plasticity on a hand-built 4-neuron brain, checked against hand computation.

The brain (rows 0..3, ids 0, 2, 5, 7)::

    input(0) --0.3--> hidden(1) --0.8--> output(3)
        \\--(-0.5)--> hidden(2) --0.2--/
                 hidden(1) --0.6, excitatory--> hidden(2)

Synapse positions 0..4 have ids 0, 1, 3, 4, 8, so new neurons start at id 8
and new synapses at id 9.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import pytest
import torch
from torch import Tensor

from marble_graph.brain_graph import MEMORY_SCHEMA
from marble_graph.errors import ValidationFailed
from marble_graph.learning.plasticity import (
    StructuralChange,
    add_concept_neurons,
    add_shortcuts,
    compose,
    neurogenesis,
    neurogenesis_count,
    prune_synapses,
    remap_optimizer_state,
    remap_rows,
    split_synapses,
    validation_plateaued,
)
from marble_graph.tensors.brain_tensors import (
    KIND_CONCEPT,
    KIND_HIDDEN,
    KIND_INPUT,
    KIND_OUTPUT,
    TYPE_EXCITATORY,
    TYPE_STANDARD,
    BrainTensors,
)

EDGES = [(0, 1), (0, 2), (1, 3), (2, 3), (1, 2)]
STATE = [[1.0, 2.0], [3.0, -1.0], [0.5, 0.5], [-2.0, 4.0]]
SEED = [[0.0, 0.0, 0.0], [0.5, 1.0, 0.25], [1.5, -1.0, 0.75], [2.0, 2.0, 1.0]]


def brain(**overrides: Any) -> BrainTensors:
    """The brain drawn in the module docstring; keyword arguments replace fields."""
    f32 = torch.float32
    t = BrainTensors(
        neuron_id=torch.tensor([0, 2, 5, 7]),
        kind=torch.tensor([KIND_INPUT, KIND_HIDDEN, KIND_HIDDEN, KIND_OUTPUT]),
        neuron_type=torch.zeros(4, dtype=torch.long),
        neuron_type_names=["standard"],
        state=torch.tensor(STATE),
        bias=torch.tensor([0.0, 0.25, -0.25, 0.5]),
        attention=torch.tensor([0.0, 1.0, 2.0, 0.0]),
        energy=torch.ones(4),
        seed_features=torch.tensor(SEED),
        neuron_created_step=torch.zeros(4, dtype=torch.long),
        edge_index=torch.tensor(EDGES).T.contiguous(),
        synapse_id=torch.tensor([0, 1, 3, 4, 8]),
        weight=torch.tensor([0.3, -0.5, 0.8, 0.2, 0.6]),
        synapse_type=torch.tensor([TYPE_STANDARD] * 4 + [TYPE_EXCITATORY]),
        potential=torch.ones(5, dtype=f32),
        fatigue=torch.full((5,), 0.25),
        visit_count=torch.full((5,), 2, dtype=torch.long),
        frozen=torch.zeros(5, dtype=torch.bool),
        synapse_created_step=torch.zeros(5, dtype=torch.long),
        lobe_id=torch.tensor([3]),
        lobe_names=["core"],
        lobe_attention=torch.tensor([0.5]),
        neuron_lobe=torch.tensor([-1, 0, 0, -1]),
        memories=MEMORY_SCHEMA.empty_table(),
    )
    return replace(t, **overrides)


def edges(t: BrainTensors) -> list[tuple[int, int]]:
    """Edges as (src id, dst id) pairs in position order."""
    ids = t.neuron_id[t.edge_index]
    return list(zip(ids[0].tolist(), ids[1].tolist(), strict=True))


def assert_same_tensors(a: BrainTensors, b: BrainTensors) -> None:
    for f in fields(BrainTensors):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, Tensor):
            assert x.dtype == y.dtype, f.name
            assert torch.equal(x, y), f.name
        else:
            assert x == y, f.name


def assert_round_trips(t: BrainTensors) -> None:
    """The persisted graph can hold the result: from_graph(to_graph()) gives it back."""
    assert_same_tensors(BrainTensors.from_graph(t.to_graph()), t)


def hot(position: int, potential: float = 12.0) -> Tensor:
    p = torch.ones(5)
    p[position] = potential
    return p


# -- split -----------------------------------------------------------------------


def test_split_routes_hot_synapse_through_new_hidden_neuron() -> None:
    t = brain(potential=hot(4))
    before = brain(potential=hot(4))

    result, change = split_synapses(t, threshold=10.0, step=7)

    assert edges(result) == [(0, 2), (0, 5), (2, 7), (5, 7), (2, 8), (8, 5)]
    assert result.synapse_id.tolist() == [0, 1, 3, 4, 9, 10]
    assert result.neuron_id.tolist() == [0, 2, 5, 7, 8]
    assert result.weight[4:].tolist() == pytest.approx([0.6, 1.0])
    assert result.synapse_type[4:].tolist() == [TYPE_EXCITATORY, TYPE_STANDARD]
    assert result.potential[4:].tolist() == [1.0, 1.0]
    assert result.fatigue[4:].tolist() == [0.0, 0.0]
    assert result.visit_count[4:].tolist() == [0, 0]
    assert result.frozen[4:].tolist() == [False, False]
    assert result.synapse_created_step[4:].tolist() == [7, 7]
    # the new neuron: mean of hidden(1) and hidden(2), in the source's lobe
    assert result.kind[4].item() == KIND_HIDDEN
    assert result.neuron_type_names[result.neuron_type[4]] == "standard"
    assert result.state[4].tolist() == [1.75, -0.25]
    assert result.seed_features[4].tolist() == [1.0, 0.0, 0.5]
    assert (result.bias[4].item(), result.attention[4].item(), result.energy[4].item()) == (
        0.0,
        0.0,
        1.0,
    )
    assert result.neuron_created_step[4].item() == 7
    assert result.neuron_lobe[4].item() == 0
    assert change.kept_neurons.tolist() == [0, 1, 2, 3]
    assert change.kept_synapses.tolist() == [0, 1, 2, 3]
    assert (change.new_neurons, change.new_synapses) == (1, 2)
    assert change.counts == {"split": 1}
    assert change.changed
    assert_same_tensors(t, before)  # the input is not modified
    assert_round_trips(result)


def test_split_does_not_fire_at_threshold() -> None:
    t = brain(potential=hot(4, potential=10.0))
    result, change = split_synapses(t, threshold=10.0, step=1)
    assert result is t
    assert change.counts == {"split": 0}
    assert not change.changed
    assert change.kept_synapses.tolist() == [0, 1, 2, 3, 4]


def test_split_skips_frozen_synapse() -> None:
    frozen = torch.tensor([False, False, False, False, True])
    result, change = split_synapses(brain(potential=hot(4), frozen=frozen), 10.0, step=1)
    assert change.counts == {"split": 0}
    assert result.num_synapses == 5


def test_split_adds_standard_neuron_type_when_absent() -> None:
    t = brain(potential=hot(0), neuron_type_names=["sigmoid"])
    result, _ = split_synapses(t, threshold=10.0, step=1)
    assert result.neuron_type_names == ["sigmoid", "standard"]
    assert result.neuron_type.tolist() == [0, 0, 0, 0, 1]
    assert t.neuron_type_names == ["sigmoid"]
    assert_round_trips(result)


# -- prune -----------------------------------------------------------------------


def test_prune_removes_weak_cold_synapse_and_keeps_survivor_ids() -> None:
    weight = torch.tensor([0.3, -0.5, 0.8, 0.2, 0.001])
    t = brain(weight=weight, potential=hot(4, potential=0.1))

    result, change = prune_synapses(t, prune_threshold=0.01, potential_threshold=0.5)

    assert edges(result) == [(0, 2), (0, 5), (2, 7), (5, 7)]
    assert result.synapse_id.tolist() == [0, 1, 3, 4]
    assert result.neuron_id.tolist() == [0, 2, 5, 7]
    assert change.kept_synapses.tolist() == [0, 1, 2, 3]
    assert (change.new_neurons, change.new_synapses) == (0, 0)
    assert change.counts == {"prune": 1}
    assert change.changed
    assert_round_trips(result)


@pytest.mark.parametrize(
    ("weight", "potential"),
    [(0.01, 0.1), (0.001, 0.5)],
    ids=["weight-at-threshold", "potential-at-threshold"],
)
def test_prune_needs_weak_weight_and_low_potential(weight: float, potential: float) -> None:
    weights = torch.tensor([0.3, -0.5, 0.8, 0.2, weight])
    t = brain(weight=weights, potential=hot(4, potential=potential))
    result, change = prune_synapses(t, prune_threshold=0.01, potential_threshold=0.5)
    assert result is t
    assert change.counts == {"prune": 0}


def test_prune_skips_frozen_synapse() -> None:
    t = brain(
        weight=torch.tensor([0.3, -0.5, 0.8, 0.2, 0.001]),
        potential=hot(4, potential=0.1),
        frozen=torch.tensor([False, False, False, False, True]),
    )
    result, change = prune_synapses(t, 0.01, 0.5)
    assert result is t
    assert change.counts == {"prune": 0}


def test_prune_keeps_strongest_last_edge_of_input_and_output() -> None:
    # everything is weak and cold: the input keeps its stronger out-edge (|-0.005|),
    # the output its stronger in-edge (0.004), the hidden->hidden edge goes
    t = brain(
        weight=torch.tensor([0.001, -0.005, 0.002, 0.004, 0.003]),
        potential=torch.full((5,), 0.1),
    )
    result, change = prune_synapses(t, 0.01, 0.5)
    assert edges(result) == [(0, 5), (5, 7)]
    assert result.synapse_id.tolist() == [1, 4]
    assert change.counts == {"prune": 3}
    assert_round_trips(result)


def test_prune_removes_weak_out_edge_when_input_keeps_another() -> None:
    t = brain(weight=torch.tensor([0.001, -0.5, 0.8, 0.2, 0.6]), potential=hot(0, 0.1))
    result, change = prune_synapses(t, 0.01, 0.5)
    assert edges(result) == [(0, 5), (2, 7), (5, 7), (2, 5)]
    assert change.counts == {"prune": 1}


# -- shortcuts -------------------------------------------------------------------


def test_shortcut_weight_is_mean_abs_out_weight_of_source() -> None:
    result, change = add_shortcuts(brain(), torch.tensor([0]), torch.tensor([3]), step=4)
    assert edges(result)[5:] == [(0, 7)]
    assert result.synapse_id[5:].tolist() == [9]
    assert result.weight[5].item() == pytest.approx(0.4)  # (|0.3| + |-0.5|) / 2
    assert result.synapse_type[5].item() == TYPE_STANDARD
    assert result.potential[5].item() == 1.0
    assert result.synapse_created_step[5].item() == 4
    assert change.kept_synapses.tolist() == [0, 1, 2, 3, 4]
    assert (change.new_neurons, change.new_synapses) == (0, 1)
    assert change.counts == {"shortcut": 1}
    assert_round_trips(result)


def test_shortcut_from_neuron_without_out_edges_weighs_0_1() -> None:
    result, _ = add_shortcuts(brain(), torch.tensor([3]), torch.tensor([1]), step=1)
    assert edges(result)[5:] == [(7, 2)]
    assert result.weight[5].item() == pytest.approx(0.1)


def test_shortcut_skips_self_pairs_existing_edges_and_repeats() -> None:
    src = torch.tensor([0, 2, 0, 0, 2])
    dst = torch.tensor([1, 2, 3, 3, 0])
    result, change = add_shortcuts(brain(), src, dst, step=1)
    assert edges(result)[5:] == [(0, 7), (5, 0)]  # in candidate order
    assert result.synapse_id[5:].tolist() == [9, 10]
    assert change.counts == {"shortcut": 2}


def test_shortcut_does_not_fire_for_existing_edges_only() -> None:
    t = brain()
    result, change = add_shortcuts(t, torch.tensor([0, 1]), torch.tensor([1, 1]), step=1)
    assert result is t
    assert change.counts == {"shortcut": 0}


def test_shortcut_rejects_rows_outside_the_brain() -> None:
    with pytest.raises(ValidationFailed, match=r"0\.\.3"):
        add_shortcuts(brain(), torch.tensor([0]), torch.tensor([4]), step=1)


# -- concept neurons -------------------------------------------------------------


def test_concept_neuron_links_both_members() -> None:
    result, change = add_concept_neurons(
        brain(), torch.tensor([1]), torch.tensor([2]), step=3, max_neurons=10
    )
    assert result.neuron_id.tolist() == [0, 2, 5, 7, 8]
    assert result.kind[4].item() == KIND_CONCEPT
    expected = torch.tanh(torch.tensor([1.75, -0.25]))
    assert torch.allclose(result.state[4], expected)
    assert result.seed_features[4].tolist() == [1.0, 0.0, 0.5]
    assert result.neuron_lobe[4].item() == 0
    assert result.neuron_created_step[4].item() == 3
    assert edges(result)[5:] == [(2, 8), (5, 8), (8, 2), (8, 5)]
    assert result.synapse_id[5:].tolist() == [9, 10, 11, 12]
    assert result.weight[5:].tolist() == pytest.approx([0.5, 0.5, 0.1, 0.1])
    assert result.synapse_type[5:].tolist() == [TYPE_STANDARD] * 4
    assert result.potential[5:].tolist() == [1.0] * 4
    assert (change.new_neurons, change.new_synapses) == (1, 4)
    assert change.counts == {"concept": 1}
    assert_round_trips(result)


def test_concept_skips_self_pairs_repeats_and_reversed_pairs() -> None:
    a = torch.tensor([1, 2, 1, 0])
    b = torch.tensor([2, 1, 1, 3])
    result, change = add_concept_neurons(brain(), a, b, step=1, max_neurons=10)
    assert change.counts == {"concept": 2}
    assert edges(result)[5:9] == [(2, 8), (5, 8), (8, 2), (8, 5)]
    assert edges(result)[9:] == [(0, 9), (7, 9), (9, 0), (9, 7)]


def test_concept_skips_pair_that_already_has_a_concept_neuron() -> None:
    once, _ = add_concept_neurons(brain(), torch.tensor([1]), torch.tensor([2]), 1, 10)
    twice, change = add_concept_neurons(once, torch.tensor([2]), torch.tensor([1]), 2, 10)
    assert twice is once
    assert change.counts == {"concept": 0}


def test_concept_with_a_third_in_neighbour_no_longer_serves_the_pair() -> None:
    once, _ = add_concept_neurons(brain(), torch.tensor([1]), torch.tensor([2]), 1, 10)
    widened, _ = add_shortcuts(once, torch.tensor([0]), torch.tensor([4]), step=2)
    again, change = add_concept_neurons(widened, torch.tensor([1]), torch.tensor([2]), 3, 10)
    assert change.counts == {"concept": 1}
    assert again.num_neurons == 6


@pytest.mark.parametrize(("max_neurons", "added"), [(5, 1), (4, 0), (2, 0)])
def test_concept_never_exceeds_max_neurons(max_neurons: int, added: int) -> None:
    a, b = torch.tensor([1, 0]), torch.tensor([2, 3])
    result, change = add_concept_neurons(brain(), a, b, step=1, max_neurons=max_neurons)
    assert change.counts == {"concept": added}
    assert result.num_neurons == 4 + added
    if added:
        assert edges(result)[5] == (2, 8)  # the first candidate fits first


# -- neurogenesis ----------------------------------------------------------------


def test_neurogenesis_wires_new_hidden_neurons_to_hidden_ones() -> None:
    generator = torch.Generator().manual_seed(5)
    result, change = neurogenesis(brain(), 2, 2, generator, step=9, max_neurons=100)

    assert result.neuron_id.tolist() == [0, 2, 5, 7, 8, 9]
    assert result.kind[4:].tolist() == [KIND_HIDDEN, KIND_HIDDEN]
    expected_state = 0.1 * torch.randn((2, 2), generator=torch.Generator().manual_seed(5))
    assert torch.equal(result.state[4:], expected_state)
    assert result.seed_features[4:].tolist() == [[0.0] * 3] * 2
    assert result.neuron_lobe[4:].tolist() == [-1, -1]
    assert result.neuron_created_step[4:].tolist() == [9, 9]
    # fanout 2 over a pool of two hidden neurons: each new one reads and feeds both
    assert edges(result)[5:] == [
        (2, 8),
        (5, 8),
        (8, 2),
        (8, 5),
        (2, 9),
        (5, 9),
        (9, 2),
        (9, 5),
    ]
    assert result.synapse_id[5:].tolist() == list(range(9, 17))
    new_weights = result.weight[5:]
    assert bool(((new_weights >= 0.05) & (new_weights <= 0.2)).all())
    assert (change.new_neurons, change.new_synapses) == (2, 8)
    assert change.counts == {"neurogenesis": 2}
    assert_round_trips(result)


def test_neurogenesis_is_reproducible_from_the_generator_seed() -> None:
    def grow() -> BrainTensors:
        return neurogenesis(brain(), 3, 1, torch.Generator().manual_seed(1), 1, 100)[0]

    assert_same_tensors(grow(), grow())


@pytest.mark.parametrize(("max_neurons", "added"), [(5, 1), (4, 0), (3, 0)])
def test_neurogenesis_stops_at_max_neurons(max_neurons: int, added: int) -> None:
    t = brain()
    result, change = neurogenesis(t, 3, 1, torch.Generator().manual_seed(0), 1, max_neurons)
    assert change.counts == {"neurogenesis": added}
    assert result.num_neurons == 4 + added
    if not added:
        assert result is t


def test_neurogenesis_needs_hidden_neurons_to_wire_to() -> None:
    t = brain(kind=torch.tensor([KIND_INPUT, KIND_OUTPUT, KIND_OUTPUT, KIND_OUTPUT]))
    result, change = neurogenesis(t, 3, 1, torch.Generator().manual_seed(0), 1, 100)
    assert result is t
    assert change.counts == {"neurogenesis": 0}


@pytest.mark.parametrize(
    ("arousal", "reward", "factor", "count"),
    [(0.0, 0.0, 1.0, 5), (0.5, 1.0, 1.0, 10), (0.2, 0.1, 2.0, 12), (1.0, 1.0, 0.0, 0)],
)
def test_neurogenesis_count(arousal: float, reward: float, factor: float, count: int) -> None:
    assert neurogenesis_count(arousal, reward, factor) == count


@pytest.mark.parametrize(
    ("history", "patience", "plateaued"),
    [
        ([1.0, 0.9, 0.95, 0.92], 2, True),
        ([1.0, 0.9, 0.95, 0.85], 2, False),
        ([1.0, 1.0], 1, True),  # equal to the best is no improvement
        ([1.0, 0.9], 2, False),  # not enough history yet
        ([1.0, float("nan")], 1, True),  # a non-finite loss is no improvement
        ([float("nan"), 2.0], 1, False),
    ],
)
def test_validation_plateaued(history: list[float], patience: int, plateaued: bool) -> None:
    assert validation_plateaued(history, patience) is plateaued


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
