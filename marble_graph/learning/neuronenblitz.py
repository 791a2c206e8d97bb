"""Neuronenblitz: "dynamic wander" random walks over synapses, as tensor ops.

Every walk of a batch advances together, one depth per loop iteration; there is
no Python loop over walks, neurons or synapses. At each depth a walk picks one
out-edge of its current neuron with probability
``softmax(score / wander_temperature)`` where
``score = |w| * potential * (1 - fatigue) / (1 + visits)``, drawn with the
Gumbel-max trick over the expanded candidate list and reduced per walk with a
segment argmax. Walks raise potential, fatigue and visit counts of the edges
they use (``apply_walks``), potentials and fatigue decay on an interval
(``decay_routes``), and ``PatternCounts`` accumulates the two-step patterns and
co-activated pairs that structural plasticity turns into shortcuts and concept
neurons (docs/model.md, Neuronenblitz).

All randomness comes from an explicit ``torch.Generator`` that must live on the
device of the score tensor, so the same seed gives the same walks.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from marble_graph.config.brain_sections import NeuronenblitzConfig
from marble_graph.model.c_library import load_c_library

logger = logging.getLogger(__name__)

__all__ = [
    "OutEdges",
    "PatternCounts",
    "Walks",
    "apply_walks",
    "decay_routes",
    "edge_scores",
    "sample_walks",
]


@dataclass(frozen=True)
class OutEdges:
    """Out-edges of every neuron in CSR form, built once per graph structure.

    The out-edges of row ``n`` are ``edge_order[rowptr[n]:rowptr[n + 1]]``
    (edge positions into ``edge_index``, in edge order); ``targets[e]`` is the
    row that edge position ``e`` leads to.
    """

    rowptr: Tensor  # [N+1] int64
    edge_order: Tensor  # [E] int64: edge positions sorted by source row (stable)
    targets: Tensor  # [E] int64: target row of each edge position
    widest: int  # the largest out-degree (the C walk's scratch size)

    @property
    def num_nodes(self) -> int:
        return int(self.rowptr.numel()) - 1

    @property
    def degree(self) -> Tensor:
        """Out-degree of every row."""
        return self.rowptr[1:] - self.rowptr[:-1]  # [N]

    @classmethod
    def build(cls, edge_index: Tensor, num_nodes: int) -> OutEdges:
        """CSR of ``edge_index`` ([2, E] row positions) over ``num_nodes`` rows."""
        source = edge_index[0]  # [E]
        # Stable, so the out-edges of one row keep synapse-id order: same graph, same CSR.
        edge_order = torch.argsort(source, stable=True)  # [E]
        counts = torch.bincount(source, minlength=num_nodes)  # [N]
        rowptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=edge_index.device)
        rowptr[1:] = torch.cumsum(counts, dim=0)
        widest = int(counts.max()) if num_nodes > 0 else 0
        return cls(
            rowptr=rowptr, edge_order=edge_order, targets=edge_index[1].clone(), widest=widest
        )


@dataclass(frozen=True)
class Walks:
    """The steps of a batch of walks, flattened: one entry per edge traversal."""

    edges: Tensor  # [S] int64 edge positions, in walk-step order (by depth, then walk)
    walk: Tensor  # [S] int64 which walk each step belongs to
    depth: Tensor  # [S] int64 step depth (0 = first edge)
    num_walks: int

    @property
    def num_steps(self) -> int:
        return int(self.edges.numel())

    def edge_mask(self, num_edges: int) -> Tensor:
        """[E] bool: the union of walked edges (the sparse route of ``route_training``)."""
        mask = torch.zeros(num_edges, dtype=torch.bool, device=self.edges.device)
        mask[self.edges] = True
        return mask

    def edge_visits(self, num_edges: int) -> Tensor:
        """[E] int64: how many steps of all walks used each edge."""
        return torch.bincount(self.edges, minlength=num_edges)

    def lengths(self) -> Tensor:
        """[W] int64: number of steps each walk took."""
        return torch.bincount(self.walk, minlength=self.num_walks)


def edge_scores(weight: Tensor, potential: Tensor, fatigue: Tensor, visit_count: Tensor) -> Tensor:
    """[E] walk preference ``|w| * potential * (1 - fatigue) / (1 + visits)``."""
    # Detached: walks steer learning but are not part of the differentiable forward pass.
    visits = visit_count.to(weight.dtype)
    return (weight.detach().abs() * potential * (1.0 - fatigue) / (1.0 + visits)).detach()


def sample_walks(
    out_edges: OutEdges,
    scores: Tensor,
    start_rows: Tensor,
    config: NeuronenblitzConfig,
    generator: torch.Generator,
) -> Walks:
    """One walk from each entry of ``start_rows`` ([W] rows), all advancing together.

    At depth ``d`` a walk whose neuron has no usable out-edge stops; otherwise it
    takes one edge drawn from ``softmax(scores / wander_temperature)`` over the
    neuron's out-edges, then goes on to depth ``d + 1`` with probability
    ``continue_decay_rate ** (d + 1)``. An edge with score <= 0 (fully fatigued,
    zero weight or zero potential) is closed: a walk never takes it, and a neuron
    whose out-edges are all closed is a dead end.
    """
    num_walks = int(start_rows.numel())
    library = _native_walks() if scores.device.type == "cpu" else None
    if library is not None:
        edges, walk, depth = _native_steps(
            library, out_edges, scores, start_rows, config, generator
        )
        return Walks(edges=edges, walk=walk, depth=depth, num_walks=num_walks)
    edges, walk, depth = _walk_steps()(
        out_edges.rowptr,
        out_edges.edge_order,
        out_edges.targets,
        scores,
        start_rows.to(device=scores.device, dtype=torch.long),
        config.max_wander_depth,
        config.wander_temperature,
        config.continue_decay_rate,
        torch.finfo(scores.dtype).tiny,
        generator,
    )
    return Walks(edges=edges, walk=walk, depth=depth, num_walks=num_walks)


@functools.cache
def _native_walks() -> ctypes.CDLL | None:
    """The C walk (``marble_graph/model/walk_steps.c``) with its signature declared, or None."""
    library = load_c_library("walk_steps.c")
    if library is not None:
        index, pointer = ctypes.c_int64, ctypes.c_void_p
        library.marble_walk_steps.argtypes = [
            *[index] * 3,
            *[pointer] * 5,
            ctypes.c_float,
            ctypes.c_uint64,
            *[pointer] * 3,
        ]
        library.marble_walk_steps.restype = index
    return library


def _native_steps(
    library: ctypes.CDLL,
    out_edges: OutEdges,
    scores: Tensor,
    start_rows: Tensor,
    config: NeuronenblitzConfig,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor, Tensor]:
    """``_steps``'s walks, taken by the C kernel on a CPU: the same rules and
    distribution, its own random draws (keyed by one seed drawn from ``generator``)."""
    logits = _walk_logits(scores, config.wander_temperature).to(torch.float32)
    graph = [t.to(torch.long).contiguous() for t in (out_edges.rowptr, out_edges.edge_order)]
    targets = out_edges.targets.to(torch.long).contiguous()
    start = start_rows.to(torch.long).contiguous()
    seed = int(torch.randint(0, 2**63 - 1, (1,), generator=generator))
    room = int(start.numel()) * config.max_wander_depth
    edges, walk, depth = (torch.empty(room, dtype=torch.long) for _ in range(3))
    count = library.marble_walk_steps(
        int(start.numel()),
        config.max_wander_depth,
        out_edges.widest,
        *(t.data_ptr() for t in (*graph, targets, logits, start)),
        config.continue_decay_rate,
        seed,
        *(t.data_ptr() for t in (edges, walk, depth)),
    )
    if count < 0:
        raise MemoryError("the walk kernel could not allocate its scratch memory")
    return edges[:count], walk[:count], depth[:count]


def _walk_logits(scores: Tensor, temperature: float) -> Tensor:
    """[E] the walks' softmax logits, ``scores / temperature``; -inf for a closed edge
    (score <= 0), which no walk takes."""
    return torch.where(scores > 0, scores / temperature, torch.full_like(scores, -float("inf")))


def _steps(
    rowptr: Tensor,  # [N+1] OutEdges.rowptr
    edge_order: Tensor,  # [E] OutEdges.edge_order
    targets: Tensor,  # [E] OutEdges.targets
    scores: Tensor,  # [E]
    node: Tensor,  # [W] start rows (int64)
    max_depth: int,
    temperature: float,
    continue_rate: float,
    tiny: float,  # the scores' dtype's smallest normal number (Gumbel noise stays finite)
    generator: torch.Generator,
) -> tuple[Tensor, Tensor, Tensor]:
    """``sample_walks``'s steps: (edges, walk, depth), flattened by depth then walk.

    A plain function of tensors, run through TorchScript where it is available
    (``_walk_steps``): a walk step is about twenty small operations, and the
    interpreter's cost per operation was most of a training step's walking
    time. Same operations, same random draws either way.
    """
    device = scores.device
    degree = rowptr[1:] - rowptr[:-1]  # [N]
    # Closed edges get -inf so that no Gumbel draw can pick them.
    logits = _walk_logits(scores, temperature)  # [E]
    walk_ids = torch.arange(node.numel(), device=device)  # [A] walks still going
    step_edges: list[Tensor] = []
    step_walks: list[Tensor] = []
    step_depths: list[Tensor] = []
    for depth in range(max_depth):
        has_out = degree[node] > 0
        walk_ids, node = walk_ids[has_out], node[has_out]
        if walk_ids.numel() == 0:
            break
        edge = _choose_out_edges(rowptr, edge_order, degree, logits, node, tiny, generator)
        moved = edge >= 0
        walk_ids, edge = walk_ids[moved], edge[moved]
        step_edges.append(edge)
        step_walks.append(walk_ids)
        step_depths.append(torch.full_like(edge, depth))
        node = targets[edge]
        # Drawn even for the last depth so the number of draws per depth never depends
        # on max_wander_depth: a longer limit extends walks instead of reshuffling them.
        go_on = torch.rand(walk_ids.shape, generator=generator, device=device) < continue_rate ** (
            depth + 1
        )
        walk_ids, node = walk_ids[go_on], node[go_on]
    if len(step_edges) == 0:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return empty, empty.clone(), empty.clone()
    return torch.cat(step_edges), torch.cat(step_walks), torch.cat(step_depths)


def _choose_out_edges(
    rowptr: Tensor,
    edge_order: Tensor,
    degrees: Tensor,
    logits: Tensor,
    node: Tensor,
    tiny: float,
    generator: torch.Generator,
) -> Tensor:
    """[A] one out-edge per walk by Gumbel-max over its node's out-edges; -1 if all closed.

    ``node`` must only hold rows with out-degree > 0. Every walk gets its own
    noise for every candidate, so walks that share a node choose independently.
    """
    device = logits.device
    degree = degrees[node]  # [A]
    num_active = node.numel()
    num_candidates = int(degree.sum())
    owner = torch.repeat_interleave(
        torch.arange(num_active, device=device), degree, output_size=num_candidates
    )  # [C] which walk each candidate belongs to
    segment_start = torch.cumsum(degree, dim=0) - degree  # [A]
    offset = torch.arange(num_candidates, device=device) - segment_start[owner]  # [C]
    candidate = edge_order[rowptr[node][owner] + offset]  # [C] edges

    uniform = torch.rand([num_candidates], generator=generator, device=device, dtype=logits.dtype)
    # Clamp away from 0 so the double log stays finite.
    gumbel = -torch.log(-torch.log(uniform.clamp_min(tiny)))  # [C]
    value = logits[candidate] + gumbel  # [C]

    best = torch.full([num_active], -float("inf"), dtype=value.dtype, device=device)
    best = best.scatter_reduce(0, owner, value, "amax", include_self=True)  # [A]
    # Exact ties are vanishingly rare; the first candidate wins so the result is unique.
    is_best = (value == best[owner]) & (value > -float("inf"))  # [C]; -inf: closed
    position = torch.where(
        is_best,
        torch.arange(num_candidates, device=device),
        torch.full_like(owner, num_candidates),
    )  # [C]
    first = torch.full([num_active], num_candidates, dtype=torch.long, device=device)
    first = first.scatter_reduce(0, owner, position, "amin", include_self=True)  # [A]
    closed = first == num_candidates
    chosen = candidate[first.clamp_max(max(num_candidates - 1, 0))]  # [A]
    return torch.where(closed, torch.full_like(chosen, -1), chosen)


_scripted_steps: list[Callable[..., tuple[Tensor, Tensor, Tensor]]] = []


def _walk_steps() -> Callable[..., tuple[Tensor, Tensor, Tensor]]:
    """``_steps`` compiled by TorchScript once per process, or as it is without it."""
    if not _scripted_steps:
        try:
            with warnings.catch_warnings():
                # Deprecated, still the only way to run this loop without Python per op.
                warnings.simplefilter("ignore", DeprecationWarning)
                _scripted_steps.append(torch.jit.script(_steps))
        except Exception as exc:  # no TorchScript: the same function, run by Python
            logger.info("walks run without TorchScript: %s", exc)
            _scripted_steps.append(_steps)
    return _scripted_steps[0]


def apply_walks(
    potential: Tensor,
    fatigue: Tensor,
    visit_count: Tensor,
    walks: Walks,
    config: NeuronenblitzConfig,
) -> None:
    """Raise potential, fatigue (capped at 1) and visit counts of walked edges, in place."""
    visits = walks.edge_visits(int(potential.numel()))  # [E] int64
    with torch.no_grad():
        potential.add_(visits.to(potential.dtype), alpha=config.route_potential_increase)
        fatigue.add_(visits.to(fatigue.dtype), alpha=config.fatigue_increase).clamp_(max=1.0)
        visit_count.add_(visits.to(visit_count.dtype))


def decay_routes(
    potential: Tensor, fatigue: Tensor, step: int, config: NeuronenblitzConfig
) -> bool:
    """Decay potential and fatigue in place every ``route_decay_interval`` steps.

    Returns whether this ``step`` decayed; step 0 never does, so a fresh run
    starts from the stored values.
    """
    if step <= 0 or step % config.route_decay_interval != 0:
        return False
    with torch.no_grad():
        potential.mul_(config.route_potential_decay)
        fatigue.mul_(config.fatigue_decay)
    return True


class PatternCounts:
    """Running counts of walk patterns, the evidence structural plasticity acts on.

    Keys are row positions packed as ``a * num_nodes + c``, so the counts belong
    to one graph structure: reset them after rows are added or removed.
    Shortcuts are two-step segments ``a -> b -> c`` (``a != c``) within one walk;
    pairs are the unordered endpoints ``{a, b}`` (``a != b``) of each walked edge.

    A step's keys wait in a buffer and are merged into the sorted tables when
    the buffer passes ``MERGE_EVERY`` keys or the tables are read: merging
    sorts the whole table, and doing it every training step cost more than
    the walks themselves (2 ms of a digits step).
    """

    MERGE_EVERY = 1 << 16

    def __init__(self, num_nodes: int, device: torch.device | str) -> None:
        self.num_nodes = num_nodes
        self._device = device
        self.reset()

    @classmethod
    def empty(cls, num_nodes: int, device: torch.device | str) -> PatternCounts:
        """No counts yet, for a graph of ``num_nodes`` rows."""
        return cls(num_nodes, device)

    @property
    def shortcut_keys(self) -> Tensor:
        """[K] int64, sorted, unique: the shortcut keys seen so far."""
        self._merge()
        return self._shortcut_keys

    @property
    def shortcut_counts(self) -> Tensor:
        """[K] int64: how often each of ``shortcut_keys`` was seen."""
        self._merge()
        return self._shortcut_counts

    @property
    def pair_keys(self) -> Tensor:
        """[P] int64, sorted, unique: the pair keys seen so far."""
        self._merge()
        return self._pair_keys

    @property
    def pair_counts(self) -> Tensor:
        """[P] int64: how often each of ``pair_keys`` was seen."""
        self._merge()
        return self._pair_counts

    def add(self, walks: Walks, edge_index: Tensor) -> None:
        """Count the shortcuts and pairs of ``walks`` over ``edge_index`` ([2, E])."""
        n = self.num_nodes
        source = edge_index[0, walks.edges]  # [S]
        target = edge_index[1, walks.edges]  # [S]

        distinct = source != target
        low = torch.minimum(source, target)[distinct]
        high = torch.maximum(source, target)[distinct]
        pairs = low * n + high

        # Steps come ordered by depth, then walk; a stable sort by walk keeps depth order
        # inside each walk, so neighbouring entries of one walk are consecutive steps.
        order = torch.argsort(walks.walk, stable=True)  # [S]
        walk, first_src, last_dst = walks.walk[order], source[order], target[order]
        same_walk = walk[1:] == walk[:-1]  # [S-1]
        a, c = first_src[:-1][same_walk], last_dst[1:][same_walk]
        keep = a != c
        shortcuts = a[keep] * n + c[keep]

        self._waiting_pairs.append(pairs)
        self._waiting_shortcuts.append(shortcuts)
        self._waiting += int(pairs.numel()) + int(shortcuts.numel())
        if self._waiting > self.MERGE_EVERY:
            self._merge()

    def top_shortcuts(self, threshold: int) -> tuple[Tensor, Tensor]:
        """(src_rows, dst_rows) of two-step patterns seen at least ``threshold`` times."""
        return _split_keys(self.shortcut_keys[self.shortcut_counts >= threshold], self.num_nodes)

    def top_pairs(self, threshold: int) -> tuple[Tensor, Tensor]:
        """(low_rows, high_rows) of pairs co-activated at least ``threshold`` times."""
        return _split_keys(self.pair_keys[self.pair_counts >= threshold], self.num_nodes)

    def reset(self) -> None:
        """Forget every count (after plasticity acted, or the structure changed)."""
        self._shortcut_keys, self._shortcut_counts = _no_counts(self._device)
        self._pair_keys, self._pair_counts = _no_counts(self._device)
        self._waiting_shortcuts: list[Tensor] = []
        self._waiting_pairs: list[Tensor] = []
        self._waiting = 0

    def _merge(self) -> None:
        """Fold the waiting keys into the sorted tables."""
        if self._waiting_pairs:
            self._pair_keys, self._pair_counts = _merge_counts(
                self._pair_keys, self._pair_counts, torch.cat(self._waiting_pairs)
            )
            self._shortcut_keys, self._shortcut_counts = _merge_counts(
                self._shortcut_keys, self._shortcut_counts, torch.cat(self._waiting_shortcuts)
            )
        self._waiting_pairs, self._waiting_shortcuts, self._waiting = [], [], 0


def _no_counts(device: torch.device | str) -> tuple[Tensor, Tensor]:
    """An empty (keys, counts) table."""
    return (
        torch.zeros(0, dtype=torch.long, device=device),
        torch.zeros(0, dtype=torch.long, device=device),
    )


def _merge_counts(keys: Tensor, counts: Tensor, new_keys: Tensor) -> tuple[Tensor, Tensor]:
    """Add one count per entry of ``new_keys`` to the (keys, counts) table, vectorised."""
    batch_keys, batch_counts = torch.unique(new_keys, return_counts=True)
    merged, inverse = torch.unique(torch.cat([keys, batch_keys]), return_inverse=True)
    total = torch.zeros(merged.shape, dtype=torch.long, device=merged.device)
    total.index_add_(0, inverse, torch.cat([counts, batch_counts]))
    return merged, total


def _split_keys(keys: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
    return keys // num_nodes, keys % num_nodes
