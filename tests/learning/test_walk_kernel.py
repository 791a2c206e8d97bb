"""The C walk against the tensor walk: the same distribution of walks.

Each path's own rules (dead ends, closed edges, continuation, the softmax
choice, determinism per seed) are tested on both in test_neuronenblitz.py.
"""

from __future__ import annotations

import pytest
import torch

from marble_graph.config.brain_sections import NeuronenblitzConfig
from marble_graph.learning import neuronenblitz
from marble_graph.learning.neuronenblitz import OutEdges, sample_walks
from tests.compiler import needs_compiler


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@needs_compiler("the walk kernel")
def test_the_c_walk_and_the_tensor_walk_take_the_same_distribution_of_walks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert neuronenblitz._native_walks() is not None, "the walk kernel did not build"
    generator = gen(11)
    edge_index = torch.randint(0, 30, (2, 240), generator=generator)
    scores = torch.rand(240, generator=generator) + 0.05
    scores[::7] = 0.0  # closed edges
    starts = torch.randint(0, 30, (60_000,), generator=generator)
    out = OutEdges.build(edge_index, 30)
    cfg = NeuronenblitzConfig(continue_decay_rate=0.8, wander_temperature=0.5, max_wander_depth=4)
    native = sample_walks(out, scores, starts, cfg, gen(1))
    monkeypatch.setattr(neuronenblitz, "_native_walks", lambda: None)
    tensor = sample_walks(out, scores, starts, cfg, gen(1))
    for depth in range(4):
        at_native = torch.bincount(native.edges[native.depth == depth], minlength=240)
        at_tensor = torch.bincount(tensor.edges[tensor.depth == depth], minlength=240)
        # Per-edge counts at each depth agree to sampling noise: the difference of
        # two counts has variance about their sum, so 5 standard deviations.
        noise = (at_native + at_tensor).float().sqrt()
        assert ((at_native - at_tensor).abs() <= 5 * noise + 5).all(), depth
        assert abs(int(at_native.sum()) - int(at_tensor.sum())) <= 0.02 * int(at_tensor.sum())
    # Its own draws: the same distribution, not the same walks.
    assert not torch.equal(native.edges[: len(tensor.edges)], tensor.edges)
