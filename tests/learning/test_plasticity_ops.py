"""Split, prune, shortcut, concept and neurogenesis on the hand-built brain match hand results."""

from __future__ import annotations

import pytest
import torch

from marble_graph.errors import ValidationFailed
from marble_graph.learning.plasticity import (
    add_concept_neurons,
    add_shortcuts,
    neurogenesis,
    neurogenesis_count,
    prune_synapses,
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
from tests.learning.plasticity_graphs import (
    assert_round_trips,
    assert_same_tensors,
    brain,
    edges,
    hot,
)

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
