"""Neuronenblitz walks on hand-built graphs of 3-5 neurons.

Every test of the walks runs twice: with the C walk (what a CPU uses when it
has a compiler) and with the tensor walk (GPUs, and CPUs without one).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import Tensor

from marble_graph.config.brain_sections import NeuronenblitzConfig
from marble_graph.learning import neuronenblitz
from marble_graph.learning.neuronenblitz import (
    OutEdges,
    PatternCounts,
    Walks,
    apply_walks,
    decay_routes,
    edge_scores,
    sample_walks,
)
from tests.compiler import needs_compiler


@pytest.fixture(
    autouse=True,
    params=[
        pytest.param("c", marks=needs_compiler("the C walk")),
        "tensor",
    ],
)
def walk_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Which implementation ``sample_walks`` uses on a CPU in this test."""
    if request.param == "c":
        assert neuronenblitz._native_walks() is not None, "the walk kernel did not build"
    else:
        monkeypatch.setattr(neuronenblitz, "_native_walks", lambda: None)
    yield request.param


# 4 nodes: 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3, 0 -> 3; node 3 is a dead end.
DIAMOND = torch.tensor([[0, 1, 0, 2, 0], [1, 3, 2, 3, 3]])
# 3-cycle 0 -> 1 -> 2 -> 0.
CYCLE = torch.tensor([[0, 1, 2], [1, 2, 0]])


def config(**fields: object) -> NeuronenblitzConfig:
    return NeuronenblitzConfig.model_validate(fields)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def walk(
    edge_index: Tensor,
    num_nodes: int,
    start: list[int],
    scores: Tensor | None = None,
    seed: int = 0,
    **fields: object,
) -> Walks:
    out = OutEdges.build(edge_index, num_nodes)
    if scores is None:
        scores = torch.ones(edge_index.shape[1])
    return sample_walks(out, scores, torch.tensor(start), config(**fields), gen(seed))


def steps_of(walks: Walks, index: int) -> list[int]:
    """Edges of one walk in depth order (a second, per-walk code path)."""
    mine = walks.walk == index
    return walks.edges[mine][torch.argsort(walks.depth[mine])].tolist()


# -- CSR ------------------------------------------------------------------------------


def test_out_edges_build_groups_edges_by_source_in_edge_order() -> None:
    out = OutEdges.build(DIAMOND, 4)
    assert out.rowptr.tolist() == [0, 3, 4, 5, 5]
    assert out.edge_order.tolist() == [0, 2, 4, 1, 3]
    assert out.targets.tolist() == [1, 3, 2, 3, 3]
    assert out.degree.tolist() == [3, 1, 1, 0]
    assert out.num_nodes == 4


def test_out_edges_build_keeps_isolated_trailing_rows() -> None:
    out = OutEdges.build(torch.tensor([[1], [0]]), 3)
    assert out.rowptr.tolist() == [0, 0, 1, 1]


# -- scores ---------------------------------------------------------------------------


def test_edge_scores_match_formula() -> None:
    scores = edge_scores(
        torch.tensor([-2.0, 1.0]),
        torch.tensor([1.5, 2.0]),
        torch.tensor([0.5, 1.0]),
        torch.tensor([3, 0]),
    )
    assert torch.allclose(scores, torch.tensor([2.0 * 1.5 * 0.5 / 4.0, 0.0]))


# -- sampling -------------------------------------------------------------------------


def test_single_out_edge_is_always_taken() -> None:
    walks = walk(DIAMOND, 4, [1] * 50, max_wander_depth=1)
    assert walks.edges.tolist() == [1] * 50
    assert walks.walk.tolist() == list(range(50))


def test_dead_end_stops_the_walk() -> None:
    walks = walk(DIAMOND, 4, [3, 1], max_wander_depth=5, continue_decay_rate=1.0)
    # Walk 0 starts on the dead end; walk 1 takes 1 -> 3 and stops there.
    assert walks.lengths().tolist() == [0, 1]
    assert steps_of(walks, 1) == [1]
    assert walks.num_walks == 2


def test_walks_keep_going_until_max_depth_when_decay_is_one() -> None:
    walks = walk(CYCLE, 3, [0, 1, 2, 0], max_wander_depth=3, continue_decay_rate=1.0)
    assert walks.lengths().tolist() == [3, 3, 3, 3]
    assert steps_of(walks, 0) == [0, 1, 2]
    assert steps_of(walks, 2) == [2, 0, 1]
    # Step-order: all depth-0 steps, then all depth-1 steps, ...
    assert walks.depth.tolist() == [0] * 4 + [1] * 4 + [2] * 4


def test_walks_take_exactly_one_step_when_decay_is_zero() -> None:
    walks = walk(CYCLE, 3, [0, 1, 2] * 10, max_wander_depth=8, continue_decay_rate=0.0)
    assert walks.lengths().tolist() == [1] * 30
    assert bool((walks.depth == 0).all())


def test_continuation_probability_decays_with_depth() -> None:
    rate = 0.8
    walks = walk(CYCLE, 3, [0] * 20_000, max_wander_depth=3, continue_decay_rate=rate)
    lengths = walks.lengths().float()
    # P(len >= 2) = rate, P(len >= 3) = rate * rate**2.
    assert abs(float((lengths >= 2).float().mean()) - rate) < 0.02
    assert abs(float((lengths >= 3).float().mean()) - rate**3) < 0.02


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_choice_frequencies_match_softmax(temperature: float) -> None:
    # Node 0 has out-edges 0 -> 1 (score 1) and 0 -> 2 (score 2); all walks share node 0.
    edge_index = torch.tensor([[0, 0], [1, 2]])
    scores = torch.tensor([1.0, 2.0])
    walks = walk(
        edge_index, 3, [0] * 20_000, scores, max_wander_depth=1, wander_temperature=temperature
    )
    frequency = walks.edge_visits(2).float() / 20_000
    expected = torch.softmax(scores / temperature, dim=0)
    assert torch.allclose(frequency, expected, atol=0.02)


def test_fully_fatigued_edge_is_never_taken_when_an_alternative_exists() -> None:
    scores = edge_scores(
        torch.ones(5),
        torch.ones(5),
        torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0]),  # edge 0 (0 -> 1) is exhausted
        torch.zeros(5, dtype=torch.long),
    )
    walks = walk(DIAMOND, 4, [0] * 5_000, scores, max_wander_depth=1)
    visits = walks.edge_visits(5)
    assert int(visits[0]) == 0
    assert int(visits[2]) > 0 and int(visits[4]) > 0


def test_node_with_only_closed_edges_is_a_dead_end() -> None:
    walks = walk(
        CYCLE, 3, [0, 1], torch.tensor([1.0, 0.0, 1.0]), max_wander_depth=4, continue_decay_rate=1.0
    )
    assert steps_of(walks, 0) == [0]
    assert steps_of(walks, 1) == []


def test_same_seed_gives_identical_walks() -> None:
    scores = torch.tensor([0.3, 1.0, 2.0, 0.7, 1.1])
    first = walk(DIAMOND, 4, [0, 0, 1, 2, 0] * 20, scores, seed=5, continue_decay_rate=0.7)
    second = walk(DIAMOND, 4, [0, 0, 1, 2, 0] * 20, scores, seed=5, continue_decay_rate=0.7)
    other = walk(DIAMOND, 4, [0, 0, 1, 2, 0] * 20, scores, seed=6, continue_decay_rate=0.7)
    assert torch.equal(first.edges, second.edges)
    assert torch.equal(first.walk, second.walk)
    assert torch.equal(first.depth, second.depth)
    assert not torch.equal(first.edges, other.edges)


def test_walked_edges_form_connected_paths_from_the_start() -> None:
    start = [0, 1, 2, 0, 0]
    walks = walk(DIAMOND, 4, start, continue_decay_rate=1.0)
    for index, row in enumerate(start):
        for edge in steps_of(walks, index):
            assert int(DIAMOND[0, edge]) == row
            row = int(DIAMOND[1, edge])
        assert row == 3  # every path in the diamond ends on the dead end


def test_no_start_rows_gives_empty_walks() -> None:
    walks = walk(CYCLE, 3, [])
    assert walks.num_walks == 0
    assert walks.edges.numel() == 0
    assert walks.edge_mask(3).tolist() == [False, False, False]


# -- Walks views ----------------------------------------------------------------------


def hand_walks() -> Walks:
    # Walk 0: 0 -> 1 -> 3 (edges 0, 1); walk 1: 0 -> 1 (edge 0). Step order by depth.
    return Walks(
        edges=torch.tensor([0, 0, 1]),
        walk=torch.tensor([0, 1, 0]),
        depth=torch.tensor([0, 0, 1]),
        num_walks=2,
    )


def test_edge_mask_is_the_union_of_walked_edges() -> None:
    assert hand_walks().edge_mask(5).tolist() == [True, True, False, False, False]


def test_edge_visits_count_repeated_edges() -> None:
    assert hand_walks().edge_visits(5).tolist() == [2, 1, 0, 0, 0]


# -- route updates --------------------------------------------------------------------


def test_apply_walks_raises_potential_fatigue_and_visits_in_place() -> None:
    potential = torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0])
    fatigue = torch.tensor([0.0, 0.95, 0.2, 0.0, 0.0])
    visit_count = torch.tensor([4, 0, 0, 0, 0])
    cfg = config(route_potential_increase=0.5, fatigue_increase=0.1)
    apply_walks(potential, fatigue, visit_count, hand_walks(), cfg)
    # Edge 0 walked twice, edge 1 once; edge 1's fatigue is capped at 1.
    assert torch.allclose(potential, torch.tensor([2.0, 1.5, 1.0, 1.0, 1.0]))
    assert torch.allclose(fatigue, torch.tensor([0.2, 1.0, 0.2, 0.0, 0.0]))
    assert visit_count.tolist() == [6, 1, 0, 0, 0]


def test_decay_routes_only_on_the_interval() -> None:
    cfg = config(route_decay_interval=3, route_potential_decay=0.5, fatigue_decay=0.9)
    potential = torch.tensor([2.0, 4.0])
    fatigue = torch.tensor([1.0, 0.5])
    decayed = [decay_routes(potential, fatigue, step, cfg) for step in range(7)]
    assert decayed == [False, False, False, True, False, False, True]
    assert torch.allclose(potential, torch.tensor([0.5, 1.0]))
    assert torch.allclose(fatigue, torch.tensor([0.81, 0.405]))


# -- pattern counts -------------------------------------------------------------------


def test_pattern_counts_find_shortcut_and_pairs_on_a_path() -> None:
    path = torch.tensor([[0, 1], [1, 2]])  # 0 -> 1 -> 2
    walks = walk(path, 3, [0], max_wander_depth=2, continue_decay_rate=1.0)
    counts = PatternCounts.empty(3, "cpu")
    counts.add(walks, path)
    assert [t.tolist() for t in counts.top_shortcuts(1)] == [[0], [2]]
    assert [t.tolist() for t in counts.top_pairs(1)] == [[0, 1], [1, 2]]
    assert counts.top_shortcuts(2)[0].numel() == 0

    counts.add(walks, path)
    assert counts.shortcut_counts.tolist() == [2]
    assert counts.pair_counts.tolist() == [2, 2]
    assert [t.tolist() for t in counts.top_shortcuts(2)] == [[0], [2]]

    counts.reset()
    assert counts.shortcut_keys.numel() == 0 and counts.pair_keys.numel() == 0


def test_pattern_counts_keep_walks_apart_and_skip_loops() -> None:
    # Edges: 0: 0->1, 1: 1->0, 2: 1->2, 3: 2->2 (self-loop).
    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 2]])
    walks = Walks(  # walk 0: 0->1->0 (a == c: no shortcut); walk 1: 1->2->2
        edges=torch.tensor([0, 2, 1, 3]),
        walk=torch.tensor([0, 1, 0, 1]),
        depth=torch.tensor([0, 0, 1, 1]),
        num_walks=2,
    )
    counts = PatternCounts.empty(3, "cpu")
    counts.add(walks, edge_index)
    # Only walk 1's 1 -> 2 -> 2 gives a shortcut; no segment joins the two walks.
    assert [t.tolist() for t in counts.top_shortcuts(1)] == [[1], [2]]
    # Pair {0, 1} walked twice (both directions), {1, 2} once, the self-loop not at all.
    assert [t.tolist() for t in counts.top_pairs(1)] == [[0, 1], [1, 2]]
    assert counts.pair_counts.tolist() == [2, 1]


def test_pattern_counts_accept_empty_walks() -> None:
    counts = PatternCounts.empty(3, "cpu")
    counts.add(walk(CYCLE, 3, []), CYCLE)
    assert counts.top_pairs(1)[0].numel() == 0


def test_pattern_counts_merged_in_bulk_equal_counts_merged_every_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    generator = gen(4)
    edge_index = torch.randint(0, 40, (2, 300), generator=generator)
    out = OutEdges.build(edge_index, 40)
    batches = [
        sample_walks(
            out,
            torch.rand(300, generator=generator),
            torch.randint(0, 40, (50,), generator=generator),
            config(continue_decay_rate=0.9),
            gen(seed),
        )
        for seed in range(30)
    ]

    def counted(merge_every: int) -> PatternCounts:
        monkeypatch.setattr(PatternCounts, "MERGE_EVERY", merge_every)
        counts = PatternCounts.empty(40, "cpu")
        for walks in batches:
            counts.add(walks, edge_index)
        return counts

    every_step, in_bulk = counted(0), counted(1 << 20)
    assert in_bulk._waiting > 0  # nothing merged until read
    assert every_step.shortcut_counts.sum() > 0
    for name in ("shortcut_keys", "shortcut_counts", "pair_keys", "pair_counts"):
        assert torch.equal(getattr(in_bulk, name), getattr(every_step, name)), name
    assert in_bulk._waiting == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_walks_stay_on_the_device_of_the_scores() -> None:
    device = torch.device("cuda")
    out = OutEdges.build(DIAMOND.to(device), 4)
    cfg = config(continue_decay_rate=1.0)
    generator = torch.Generator(device=device).manual_seed(0)
    walks = sample_walks(
        out, torch.ones(5, device=device), torch.tensor([0, 1], device=device), cfg, generator
    )
    assert walks.edges.device.type == "cuda"
    counts = PatternCounts.empty(4, device)
    counts.add(walks, DIAMOND.to(device))
    assert counts.pair_keys.device.type == "cuda"


def test_scripted_walk_steps_draw_exactly_what_the_plain_function_draws() -> None:
    from marble_graph.learning import neuronenblitz

    scripted = neuronenblitz._walk_steps()
    assert isinstance(scripted, torch.jit.ScriptFunction)  # TorchScript is in this torch
    generator = gen(3)
    edge_index = torch.randint(0, 60, (2, 600), generator=generator)
    scores = torch.rand(600, generator=generator)
    scores[::5] = 0.0  # closed edges, and some dead ends
    out = OutEdges.build(edge_index, 60)
    starts = torch.randint(0, 60, (40,), generator=generator)
    for seed in range(3):
        args = (out.rowptr, out.edge_order, out.targets, scores, starts, 8, 0.7, 0.9)
        tiny = torch.finfo(scores.dtype).tiny
        plain = neuronenblitz._steps(*args, tiny, gen(seed))
        compiled = scripted(*args, tiny, gen(seed))
        for got, expected in zip(compiled, plain, strict=True):
            assert torch.equal(got, expected), seed
