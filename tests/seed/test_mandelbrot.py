"""The Mandelbrot seed: structure, determinism, and hand-checkable counts."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc

from marble_graph.brain_graph import graph_hash
from marble_graph.config import with_overrides
from marble_graph.seed import escape_counts, seed_brain_graph
from tests.conftest import small_config


def test_escape_counts_match_a_scalar_mandelbrot_loop() -> None:
    config = small_config()
    counts = escape_counts(config.seed)
    seed = config.seed
    xs = np.linspace(seed.x_min, seed.x_max, seed.width)
    ys = np.linspace(seed.y_min, seed.y_max, seed.height)
    for row, y in enumerate(ys):
        for col, x in enumerate(xs):
            z, c, expected = 0j, complex(x, y), seed.max_iter
            for step in range(seed.max_iter):
                z = z * z + c
                if abs(z) > seed.escape_radius:
                    expected = step
                    break
            assert counts[row, col] == expected, (row, col)


def test_origin_never_escapes_and_far_points_escape_at_once() -> None:
    config = with_overrides(
        small_config(),
        {
            "seed.width": 3,
            "seed.height": 3,
            "seed.x_min": -2.5,
            "seed.x_max": 2.5,
            "seed.y_min": -2.5,
            "seed.y_max": 2.5,
        },
    )
    counts = escape_counts(config.seed)
    assert counts[1, 1] == config.seed.max_iter  # c = 0 is in the set
    assert counts[0, 0] == 0  # |c| = 3.5 > 2 escapes on the first step


def test_seed_has_the_configured_neurons_and_lattice() -> None:
    config = small_config(long_range_synapses=0)
    graph = seed_brain_graph(config)
    seed = config.seed
    hidden = seed.width * seed.height
    assert graph.neuron_counts_by_kind() == {
        "input": seed.input_neurons,
        "output": seed.output_neurons,
        "hidden": hidden,
    }
    lattice = 2 * (seed.height * (seed.width - 1) + (seed.height - 1) * seed.width)
    fans = seed.input_neurons * seed.input_fanout + seed.output_neurons * seed.output_fanin
    assert graph.synapse_count == lattice + fans
    ids = graph.neurons.column("id").to_numpy()
    assert np.array_equal(ids, np.arange(graph.neuron_count))


def test_lattice_connects_grid_neighbours_both_ways() -> None:
    config = small_config(long_range_synapses=0, input_neurons=0, output_neurons=0)
    graph = seed_brain_graph(config)
    src = graph.synapses.column("src").to_numpy()
    dst = graph.synapses.column("dst").to_numpy()
    pairs = set(zip(src.tolist(), dst.tolist(), strict=True))
    width = config.seed.width
    assert (0, 1) in pairs and (1, 0) in pairs
    assert (0, width) in pairs and (width, 0) in pairs
    assert (0, width + 1) not in pairs  # no diagonals
    assert all((b, a) in pairs for a, b in pairs)


def test_input_and_output_neurons_wire_into_hidden_layer() -> None:
    config = small_config()
    graph = seed_brain_graph(config)
    seed = config.seed
    src = graph.synapses.column("src").to_numpy()
    dst = graph.synapses.column("dst").to_numpy()
    first_hidden = seed.input_neurons + seed.output_neurons
    from_inputs = src < seed.input_neurons
    assert np.all(dst[from_inputs] >= first_hidden)
    assert np.bincount(src[from_inputs]).tolist() == [seed.input_fanout] * seed.input_neurons
    into_outputs = (dst >= seed.input_neurons) & (dst < first_hidden)
    assert np.all(src[into_outputs] >= first_hidden)
    assert np.bincount(dst[into_outputs] - seed.input_neurons).tolist() == (
        [seed.output_fanin] * seed.output_neurons
    )


def test_no_self_loops_or_duplicate_synapses() -> None:
    graph = seed_brain_graph(small_config(long_range_synapses=500))
    src = graph.synapses.column("src").to_numpy()
    dst = graph.synapses.column("dst").to_numpy()
    assert not np.any(src == dst)
    assert len(set(zip(src.tolist(), dst.tolist(), strict=True))) == graph.synapse_count


def test_long_range_edges_prefer_similar_escape_counts() -> None:
    base = small_config(width=40, height=40, input_neurons=0, output_neurons=0)
    sharp = with_overrides(base, {"seed.long_range_synapses": 4000, "seed.long_range_tau": 0.02})
    flat = with_overrides(base, {"seed.long_range_synapses": 4000, "seed.long_range_tau": 50.0})

    def mean_escape_gap(config):  # type: ignore[no-untyped-def]
        graph = seed_brain_graph(config)
        escape = graph.neurons.column("seed_escape").to_numpy()
        lattice_free = graph.synapses.slice(offset=2 * (40 * 39 * 2))
        src = lattice_free.column("src").to_numpy()
        dst = lattice_free.column("dst").to_numpy()
        return float(np.abs(escape[src] - escape[dst]).mean())

    assert mean_escape_gap(sharp) < 0.5 * mean_escape_gap(flat)


def test_weights_lie_in_range_scaled_by_fan_in_and_types_follow_fractions() -> None:
    config = small_config(width=30, height=30, inhibitory_fraction=0.25, modulatory_fraction=0.1)
    graph = seed_brain_graph(config)
    weight = graph.synapses.column("weight").to_numpy()
    dst = graph.synapses.column("dst").to_numpy()
    fan_in = np.bincount(dst, minlength=graph.neuron_count)[dst]
    magnitude = weight * np.sqrt(fan_in)
    assert magnitude.min() >= config.seed.weight_init_min - 1e-6
    assert magnitude.max() <= config.seed.weight_init_max + 1e-6
    types = graph.synapse_counts_by_type()
    assert abs(types["inhibitory"] / graph.synapse_count - 0.25) < 0.03
    assert abs(types["modulatory"] / graph.synapse_count - 0.1) < 0.03
    assert pc.all(pc.equal(graph.synapses.column("potential"), 1.0)).as_py()


def test_same_config_gives_byte_identical_graph_and_other_seed_differs() -> None:
    first = graph_hash(seed_brain_graph(small_config()))
    again = graph_hash(seed_brain_graph(small_config()))
    other = graph_hash(seed_brain_graph(small_config(random_seed=8)))
    assert first == again
    assert first != other


def test_hidden_states_carry_seed_features() -> None:
    graph = seed_brain_graph(small_config())
    states = np.stack(graph.neurons.column("state").to_numpy(zero_copy_only=False))
    assert states.shape == (graph.neuron_count, 4)
    assert np.abs(states).sum() > 0  # never the all-zero fixed point
