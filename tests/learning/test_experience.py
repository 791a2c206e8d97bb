"""Experience buffers: salience, eviction of the least salient, sampling, persistence."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from marble_graph.errors import ValidationFailed
from marble_graph.learning.experience import (
    EMOTION_VALUES,
    LINEAR_FLOOR,
    DreamBuffers,
    ExperienceBuffer,
    salience,
    sampling_weights,
)


def offer(buffer: ExperienceBuffer, saliences: list[float], first_id: int, seed: int = 0) -> None:
    """Offer one experience per salience; its single feature is its id."""
    ids = torch.arange(first_id, first_id + len(saliences), dtype=torch.float32)
    buffer.offer(
        ids.unsqueeze(1),
        ids.long(),
        torch.tensor(saliences, dtype=torch.float32),
        torch.Generator().manual_seed(seed),
    )


def test_salience_is_the_formula_with_the_emotion_table() -> None:
    assert salience(0.6, "content", 0.2, 0.4) == pytest.approx((0.6 + 1.0 + 0.2 + 1 - 0.4) / 4)
    assert salience(0.0, "stressed", 0.0, 1.0) == 0.0
    assert salience(1.0, "content", 1.0, 0.0) == 1.0
    assert salience(0.0, "alert", 0.0, 0.0) == pytest.approx((0.75 + 1) / 4)
    # A label set by hand that the table does not know counts as neutral.
    assert salience(0.0, "curious", 0.0, 0.0) == salience(0.0, "neutral", 0.0, 0.0)
    assert set(EMOTION_VALUES) == {"content", "alert", "neutral", "stressed"}


def test_eviction_keeps_the_most_salient() -> None:
    buffer = ExperienceBuffer.empty(3)
    offer(buffer, [0.1, 0.9, 0.5], first_id=0)
    offer(buffer, [0.7, 0.2], first_id=3)
    assert buffer.size == 3
    assert sorted(buffer.features[:, 0].tolist()) == [1.0, 2.0, 3.0]  # 0.9, 0.5, 0.7
    assert buffer.targets.tolist() == [1, 3, 2]  # largest salience first


def test_equal_salience_keeps_a_uniform_sample_of_everything_offered() -> None:
    """Bottom-k: with one salience for all, early and late offers survive alike."""
    kept_early = 0
    for seed in range(40):
        buffer = ExperienceBuffer.empty(10)
        generator = torch.Generator().manual_seed(seed)
        for step in range(10):  # 10 offers of 10: 100 experiences, 10 kept
            ids = torch.arange(step * 10, step * 10 + 10, dtype=torch.float32).unsqueeze(1)
            buffer.offer(ids, ids[:, 0].long(), torch.full((10,), 0.5), generator)
        kept_early += int((buffer.features[:, 0] < 50).sum())
    # 400 kept in all, about half from the first five offers (binomial sd 10).
    assert 160 <= kept_early <= 240


def test_offers_of_another_width_or_target_kind_are_refused() -> None:
    buffer = ExperienceBuffer.empty(4)
    offer(buffer, [0.5, 0.5], first_id=0)
    generator = torch.Generator().manual_seed(0)
    with pytest.raises(ValidationFailed, match="2 features offered to a buffer of 1-feature"):
        buffer.offer(torch.zeros(1, 2), torch.zeros(1).long(), torch.ones(1), generator)
    with pytest.raises(ValidationFailed, match="targets of shape"):
        buffer.offer(torch.zeros(1, 1), torch.zeros(1, 3), torch.ones(1), generator)


def test_sampling_weights_follow_the_mode() -> None:
    values = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    linear = sampling_weights(values, "linear", 1.0)
    assert torch.allclose(linear, values + LINEAR_FLOOR)
    exponential = sampling_weights(values, "exponential", 0.25)
    expected = torch.exp(values / 0.25)
    assert torch.allclose(exponential, expected / expected.sum())
    assert torch.equal(sampling_weights(values, "uniform", 1.0), torch.ones(3, dtype=torch.float64))


def test_linear_sampling_draws_in_proportion_to_salience() -> None:
    buffer = ExperienceBuffer.empty(2)
    offer(buffer, [0.2, 0.8], first_id=0)
    drawn = buffer.sample(20_000, "linear", 1.0, torch.Generator().manual_seed(1))
    share_of_salient = float((buffer.salience[drawn] == 0.8).float().mean())
    assert share_of_salient == pytest.approx(
        (0.8 + LINEAR_FLOOR) / (1.0 + 2 * LINEAR_FLOOR), abs=0.01
    )


def test_zero_salience_is_still_reachable_by_linear_sampling() -> None:
    buffer = ExperienceBuffer.empty(2)
    offer(buffer, [0.0, 0.0], first_id=0)
    drawn = buffer.sample(100, "linear", 1.0, torch.Generator().manual_seed(0))
    assert set(drawn.tolist()) == {0, 1}


def test_sampling_an_empty_buffer_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="nothing to sample"):
        ExperienceBuffer.empty(2).sample(1, "uniform", 1.0, torch.Generator())


def test_dream_buffers_round_trip_through_a_state_dict() -> None:
    buffers = DreamBuffers.empty(instant_capacity=2, long_term_capacity=5)
    generator = torch.Generator().manual_seed(0)
    for step in range(4):
        features = torch.randn(3, 4, generator=generator)
        buffers.record(features, torch.randint(0, 3, (3,)), 0.1 * step, generator)
    state = buffers.state_dict()
    again = DreamBuffers.from_state_dict(state, 2, 5)
    for name in ("features", "targets", "salience", "priority"):
        assert torch.equal(getattr(again.long_term, name), getattr(buffers.long_term, name))
        assert torch.equal(getattr(again.instant, name), getattr(buffers.instant, name))
    assert buffers.stats()["long_term"] == 5 and buffers.stats()["instant"] == 2
    # A smaller capacity configured since keeps the most salient.
    smaller = DreamBuffers.from_state_dict(state, 2, 2)
    assert smaller.long_term.salience.tolist() == pytest.approx([0.3, 0.3])
    assert DreamBuffers.from_state_dict(None, 2, 5).empty_of_experience
    assert DreamBuffers.empty(2, 5).state_dict() == {}


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=12),
    batches=st.lists(
        st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), min_size=1, max_size=9),
        min_size=1,
        max_size=8,
    ),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
)
def test_long_term_buffer_keeps_the_top_capacity_by_salience(
    capacity: int, batches: list[list[float]], seed: int
) -> None:
    """After any offers, the buffer holds min(capacity, offered) experiences, all distinct,
    and none it evicted is more salient than one it kept (ties allowed)."""
    buffer = ExperienceBuffer.empty(capacity)
    generator = torch.Generator().manual_seed(seed)
    offered: list[float] = []
    for batch in batches:
        ids = torch.arange(len(offered), len(offered) + len(batch), dtype=torch.float32)
        buffer.offer(ids.unsqueeze(1), ids.long(), torch.tensor(batch), generator)
        offered.extend(batch)
        assert buffer.size == min(capacity, len(offered))
    kept_ids = buffer.targets.tolist()
    assert len(set(kept_ids)) == len(kept_ids)
    assert buffer.salience.tolist() == [offered[i] for i in kept_ids]
    evicted = [s for i, s in enumerate(offered) if i not in set(kept_ids)]
    if evicted:
        assert max(evicted) <= min(buffer.salience.tolist())
    assert (
        sorted(buffer.salience.tolist(), reverse=True) == sorted(offered, reverse=True)[:capacity]
    )


@settings(max_examples=60, deadline=None)
@given(
    instant_capacity=st.integers(min_value=1, max_value=6),
    long_term_capacity=st.integers(min_value=1, max_value=10),
    steps=st.lists(
        st.tuples(st.integers(min_value=1, max_value=8), st.sampled_from([0.0, 0.3, 0.6, 1.0])),
        min_size=1,
        max_size=10,
    ),
)
def test_dream_buffers_never_exceed_their_capacities(
    instant_capacity: int, long_term_capacity: int, steps: list[tuple[int, float]]
) -> None:
    """Instant and long-term stay within capacity; the long-term buffer holds the top
    experiences by salience among everything the instant buffer passed on."""
    buffers = DreamBuffers.empty(instant_capacity, long_term_capacity)
    generator = torch.Generator().manual_seed(0)
    passed_on: list[float] = []
    for batch, value in steps:
        buffers.record(torch.zeros(batch, 2), torch.zeros(batch).long(), value, generator)
        assert buffers.instant.size == min(instant_capacity, batch)
        assert buffers.long_term.size <= long_term_capacity
        passed_on.extend([value] * buffers.instant.size)
    held = sorted(buffers.long_term.salience.tolist(), reverse=True)
    assert held == pytest.approx(sorted(passed_on, reverse=True)[:long_term_capacity])
