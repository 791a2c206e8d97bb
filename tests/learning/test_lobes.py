"""Lobes: k-means grouping, gradient magnitudes, attention and weak-lobe boosts."""

from __future__ import annotations

import pytest
import torch

from marble_graph.learning.lobes import (
    kmeans_lobes,
    lobe_boost,
    lobe_gradient_magnitude,
    update_lobe_attention,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def two_blobs() -> torch.Tensor:
    # Neurons 0-2 around (0, 0), neurons 3-5 around (10, 10).
    return torch.tensor(
        [[0.0, 0.1], [0.2, 0.0], [0.1, 0.2], [10.0, 10.1], [10.2, 9.9], [9.9, 10.0]]
    )


@pytest.mark.parametrize("seed", range(5))
def test_kmeans_puts_two_separated_blobs_in_two_lobes(seed: int) -> None:
    lobes = kmeans_lobes(two_blobs(), 2, 10, gen(seed))
    assert lobes.dtype == torch.int64
    assert len(set(lobes[:3].tolist())) == 1
    assert len(set(lobes[3:].tolist())) == 1
    assert int(lobes[0]) != int(lobes[3])


def test_kmeans_is_deterministic_for_a_seed() -> None:
    state = torch.randn(40, 3, generator=gen(1))
    first = kmeans_lobes(state, 4, 20, gen(3))
    second = kmeans_lobes(state, 4, 20, gen(3))
    assert torch.equal(first, second)


def test_kmeans_caps_k_at_the_number_of_neurons() -> None:
    state = torch.tensor([[0.0], [5.0], [9.0]])
    lobes = kmeans_lobes(state, 8, 5, gen())
    assert sorted(lobes.tolist()) == [0, 1, 2]


def test_kmeans_handles_duplicate_points_and_no_neurons() -> None:
    lobes = kmeans_lobes(torch.ones(4, 2), 3, 5, gen())
    assert lobes.shape == (4,)
    assert int(lobes.min()) >= 0 and int(lobes.max()) < 3
    assert kmeans_lobes(torch.zeros(0, 2), 3, 5, gen()).shape == (0,)


def test_kmeans_assignment_is_a_fixed_point_of_lloyd() -> None:
    # Second code path: each neuron's lobe is the nearest mean of its lobe's members.
    state = torch.randn(30, 2, generator=gen(2))
    lobes = kmeans_lobes(state, 3, 100, gen(4))
    means = torch.stack([state[lobes == j].mean(dim=0) for j in range(3)])
    assert torch.equal(torch.cdist(state, means).argmin(dim=1), lobes)


def test_lobe_gradient_magnitude_is_the_mean_member_norm() -> None:
    grad = torch.tensor([[3.0, 4.0], [0.0, 1.0], [6.0, 8.0], [1.0, 1.0]])
    neuron_lobe = torch.tensor([0, 0, 2, -1])
    magnitude = lobe_gradient_magnitude(grad, neuron_lobe, 3)
    # Lobe 0: (5 + 1) / 2; lobe 1 has no member; lobe 2: 10; neuron 3 is in no lobe.
    assert torch.allclose(magnitude, torch.tensor([3.0, 0.0, 10.0]))


def test_lobe_gradient_magnitude_without_gradient_is_zero() -> None:
    magnitude = lobe_gradient_magnitude(None, torch.tensor([0, 1]), 2)
    assert magnitude.tolist() == [0.0, 0.0]


def test_update_lobe_attention_is_an_ema() -> None:
    attention = update_lobe_attention(torch.tensor([1.0, 0.0]), torch.tensor([3.0, 2.0]), 0.75)
    assert torch.allclose(attention, torch.tensor([1.5, 0.5]))


def test_lobe_boost_picks_the_weakest_lobes_neurons() -> None:
    attention = torch.tensor([0.9, 0.1, 0.5, 0.7])
    neuron_lobe = torch.tensor([0, 1, 1, 2, 3, -1])
    boost = lobe_boost(attention, neuron_lobe, 0.25, 1.5)
    # quantile(0.25) of [0.1, 0.5, 0.7, 0.9] is 0.4: only lobe 1 is weak.
    assert boost.dtype == torch.float32
    assert boost.tolist() == [1.0, 1.5, 1.5, 1.0, 1.0, 1.0]


def test_lobe_boost_without_lobes_is_neutral() -> None:
    boost = lobe_boost(torch.zeros(0), torch.tensor([-1, -1]), 0.25, 2.0)
    assert boost.tolist() == [1.0, 1.0]
