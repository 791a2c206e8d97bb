"""Vectorised, deterministic Mandelbrot seed (docs/seed.md).

Hidden neurons sit on a ``width x height`` grid over the complex plane; each
keeps (cx, cy, escape_count / max_iter) as seed features. Synapses are the
4-neighbour lattice in both directions, plus long-range edges that prefer
neurons with similar escape dynamics, plus input fan-out and output fan-in.

Every random draw comes from one ``numpy.random.Generator`` seeded by
``seed.random_seed`` in a fixed order, so the same config gives a
byte-identical graph (see ``brain_graph.graph_hash``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from marble_graph.brain_graph import (
    NEURON_SCHEMA,
    SYNAPSE_SCHEMA,
    BrainGraph,
    empty_table,
)
from marble_graph.config import MarbleConfig, SeedConfig

# Synapse type codes, in the order used to draw them.
_TYPE_NAMES = np.array(["standard", "inhibitory", "modulatory"], dtype=object)
# Upper bound on random keys drawn at once when choosing fan-in/fan-out.
_FAN_CHUNK_CELLS = 4_000_000


def escape_counts(seed: SeedConfig) -> np.ndarray:
    """Escape iteration count per grid cell, shape [height, width], int32.

    Cells that never escape get ``max_iter``. The loop runs over iterations,
    not cells: each step updates the whole still-bounded part of the grid.
    """
    xs = np.linspace(seed.x_min, seed.x_max, seed.width, dtype=np.float64)
    ys = np.linspace(seed.y_min, seed.y_max, seed.height, dtype=np.float64)
    c = xs[None, :] + 1j * ys[:, None]
    z = np.zeros_like(c)
    counts = np.full(c.shape, seed.max_iter, dtype=np.int32)
    alive = np.ones(c.shape, dtype=bool)
    radius_sq = seed.escape_radius**2
    integer_power = float(seed.power).is_integer()
    for step in range(seed.max_iter):
        za = z[alive]
        za = za ** int(seed.power) if integer_power else np.power(za, seed.power)
        za = za + c[alive]
        z[alive] = za
        escaped = (za.real**2 + za.imag**2) > radius_sq
        if escaped.any():
            idx = np.flatnonzero(alive)[escaped]
            counts.flat[idx] = step
            alive.flat[idx] = False
        if not alive.any():
            break
    return counts


def seed_brain_graph(config: MarbleConfig) -> BrainGraph:
    """Build the seed graph of a new brain from ``config`` (seed + core sections)."""
    seed = config.seed
    rng = np.random.default_rng(seed.random_seed)
    n_in, n_out = seed.input_neurons, seed.output_neurons
    n_hidden = seed.width * seed.height
    hidden_offset = n_in + n_out

    counts = escape_counts(seed)
    escape = (counts.astype(np.float64) / seed.max_iter).ravel()
    cx = np.broadcast_to(
        np.linspace(seed.x_min, seed.x_max, seed.width)[None, :], counts.shape
    ).ravel()
    cy = np.broadcast_to(
        np.linspace(seed.y_min, seed.y_max, seed.height)[:, None], counts.shape
    ).ravel()

    lattice = _lattice_edges(seed.height, seed.width) + hidden_offset
    long_range = _long_range_edges(counts.ravel(), seed, rng) + hidden_offset
    inputs = _fan_edges(n_in, n_hidden, seed.input_fanout, rng)
    input_edges = np.stack([inputs[0], inputs[1] + hidden_offset])
    outputs = _fan_edges(n_out, n_hidden, seed.output_fanin, rng)
    output_edges = np.stack([outputs[1] + hidden_offset, outputs[0] + n_in])
    edges = _unique_edges(np.concatenate([lattice, long_range, input_edges, output_edges], axis=1))

    neurons = _neuron_table(config, rng, cx, cy, escape)
    synapses = _synapse_table(seed, rng, edges, n_in + n_out + n_hidden)
    return BrainGraph(
        neurons=neurons,
        synapses=synapses,
        lobes=empty_table("lobes"),
        memberships=empty_table("memberships"),
        memories=empty_table("memories"),
    )


def _lattice_edges(height: int, width: int) -> np.ndarray:
    """4-neighbour grid edges in both directions, shape [2, E], hidden indices."""
    index = np.arange(height * width, dtype=np.int64).reshape(height, width)
    right = np.stack([index[:, :-1].ravel(), index[:, 1:].ravel()])
    down = np.stack([index[:-1, :].ravel(), index[1:, :].ravel()])
    forward = np.concatenate([right, down], axis=1)
    return np.concatenate([forward, forward[::-1]], axis=1)


def _long_range_edges(counts: np.ndarray, seed: SeedConfig, rng: np.random.Generator) -> np.ndarray:
    """Pairs (i, j) drawn with probability proportional to exp(-|n_i - n_j| / tau).

    Escape counts take at most max_iter + 1 values, so the pair distribution
    factorises: draw a (level_i, level_j) pair with weight
    count_i * count_j * exp(-|l_i - l_j| / (tau * max_iter)), then a uniform
    neuron inside each level. That is exact and never builds an N x N matrix.
    """
    total = seed.long_range_synapses
    if total == 0 or counts.size < 2:
        return np.empty((2, 0), dtype=np.int64)
    levels, members_per_level = np.unique(counts, return_counts=True)
    distance = np.abs(levels[:, None] - levels[None, :]) / (seed.long_range_tau * seed.max_iter)
    pair_weight = np.outer(members_per_level, members_per_level) * np.exp(-distance)
    pair_weight = pair_weight.ravel() / pair_weight.sum()
    pairs = rng.choice(pair_weight.size, size=total, p=pair_weight)
    level_src, level_dst = np.divmod(pairs, levels.size)

    by_level = np.argsort(counts, kind="stable")  # neuron indices grouped by level
    level_start = np.concatenate([[0], np.cumsum(members_per_level)[:-1]])
    src = by_level[
        level_start[level_src] + (rng.random(total) * members_per_level[level_src]).astype(np.int64)
    ]
    dst = by_level[
        level_start[level_dst] + (rng.random(total) * members_per_level[level_dst]).astype(np.int64)
    ]
    return np.stack([src, dst]).astype(np.int64)


def _fan_edges(n_terminals: int, n_hidden: int, fan: int, rng: np.random.Generator) -> np.ndarray:
    """For each terminal neuron, ``fan`` distinct hidden neurons: [2, T*fan] (terminal, hidden)."""
    fan = min(fan, n_hidden)
    if n_terminals == 0 or fan == 0:
        return np.empty((2, 0), dtype=np.int64)
    # Random keys per (terminal, hidden) pair, smallest ``fan`` win: a uniform
    # choice without replacement. Chunked over terminals to bound memory.
    rows_per_chunk = max(1, _FAN_CHUNK_CELLS // n_hidden)
    chosen_chunks = []
    for start in range(0, n_terminals, rows_per_chunk):
        keys = rng.random((min(rows_per_chunk, n_terminals - start), n_hidden))
        chosen = np.argpartition(keys, fan - 1, axis=1)[:, :fan]
        chosen.sort(axis=1)
        chosen_chunks.append(chosen)
    terminal = np.repeat(np.arange(n_terminals, dtype=np.int64), fan)
    return np.stack([terminal, np.concatenate(chosen_chunks).ravel().astype(np.int64)])


def _unique_edges(edges: np.ndarray) -> np.ndarray:
    """Drop self-loops and repeated (src, dst) pairs, keeping first occurrences in order."""
    edges = edges[:, edges[0] != edges[1]]
    key = edges[0] * (int(edges.max(initial=0)) + 1) + edges[1]
    _, first = np.unique(key, return_index=True)
    return edges[:, np.sort(first)]


def _neuron_table(
    config: MarbleConfig,
    rng: np.random.Generator,
    cx: np.ndarray,
    cy: np.ndarray,
    escape: np.ndarray,
) -> pa.Table:
    seed = config.seed
    n_in, n_out, n_hidden = seed.input_neurons, seed.output_neurons, cx.size
    size = config.core.representation_size
    total = n_in + n_out + n_hidden

    # Hidden states are a fixed random projection of the seed features, so the
    # Mandelbrot structure is visible in the initial representations (all-zero
    # states would be a fixed point of the update: every gate shut, nothing moves).
    features = np.stack([cx, cy, escape, np.ones_like(cx)], axis=1)
    projection = rng.normal(0.0, 1.0, size=(4, size))
    hidden_state = np.tanh(features @ projection)
    # An input neuron's state is its embedding e_i (it starts at x_i * e_i), so it
    # gets unit scale; output neurons start near zero and are driven by messages.
    input_state = rng.normal(0.0, 1.0, size=(n_in, size))
    output_state = rng.normal(0.0, 0.1, size=(n_out, size))
    state = np.concatenate([input_state, output_state, hidden_state]).astype(np.float32)

    kind = np.concatenate(
        [
            np.full(n_in, "input", dtype=object),
            np.full(n_out, "output", dtype=object),
            np.full(n_hidden, "hidden", dtype=object),
        ]
    )
    zeros = np.zeros(n_in + n_out, dtype=np.float32)
    columns = {
        "id": pa.array(np.arange(total, dtype=np.int64)),
        "kind": pa.array(kind, type=pa.string()),
        "neuron_type": pa.array(np.full(total, "standard", dtype=object), type=pa.string()),
        "state": pa.FixedSizeListArray.from_arrays(pa.array(state.ravel()), size).cast(
            pa.list_(pa.float32())
        ),
        "bias": pa.array(np.zeros(total, dtype=np.float32)),
        "attention": pa.array(np.zeros(total, dtype=np.float32)),
        "energy": pa.array(np.ones(total, dtype=np.float32)),
        "seed_cx": pa.array(np.concatenate([zeros, cx.astype(np.float32)])),
        "seed_cy": pa.array(np.concatenate([zeros, cy.astype(np.float32)])),
        "seed_escape": pa.array(np.concatenate([zeros, escape.astype(np.float32)])),
        "created_step": pa.array(np.zeros(total, dtype=np.int64)),
    }
    return pa.table(columns, schema=NEURON_SCHEMA)


def _synapse_table(
    seed: SeedConfig, rng: np.random.Generator, edges: np.ndarray, n_neurons: int
) -> pa.Table:
    n_edges = edges.shape[1]
    fan_in = np.bincount(edges[1], minlength=n_neurons).astype(np.float64)
    magnitude = rng.uniform(seed.weight_init_min, seed.weight_init_max, size=n_edges)
    weight = (magnitude / np.sqrt(np.maximum(fan_in[edges[1]], 1.0))).astype(np.float32)

    draw = rng.random(n_edges)
    type_code = np.zeros(n_edges, dtype=np.int64)
    type_code[draw < seed.inhibitory_fraction] = 1
    modulatory = (draw >= seed.inhibitory_fraction) & (
        draw < seed.inhibitory_fraction + seed.modulatory_fraction
    )
    type_code[modulatory] = 2
    synapse_type = pa.DictionaryArray.from_arrays(
        pa.array(type_code, type=pa.int8()), pa.array(_TYPE_NAMES, type=pa.string())
    ).cast(pa.string())

    columns = {
        "src": pa.array(edges[0]),
        "dst": pa.array(edges[1]),
        "id": pa.array(np.arange(n_edges, dtype=np.int64)),
        "weight": pa.array(weight),
        "synapse_type": synapse_type,
        "potential": pa.array(np.ones(n_edges, dtype=np.float32)),
        "fatigue": pa.array(np.zeros(n_edges, dtype=np.float32)),
        "visit_count": pa.array(np.zeros(n_edges, dtype=np.int64)),
        "frozen": pa.array(np.zeros(n_edges, dtype=bool)),
        "created_step": pa.array(np.zeros(n_edges, dtype=np.int64)),
    }
    return pa.table(columns, schema=SYNAPSE_SCHEMA)
