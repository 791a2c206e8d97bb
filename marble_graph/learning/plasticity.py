"""Structural plasticity: the graph grows and sheds synapses and neurons as it learns.

Five operations (docs/model.md, structural plasticity), each a handful of tensor ops with no
Python loop over neurons or synapses:

- ``split_synapses``: a synapse whose potential exceeds the threshold becomes
  src -> m -> dst through a new hidden neuron m.
- ``prune_synapses``: weak, cold synapses go, but an input neuron keeps its
  last out-edge and an output neuron its last in-edge.
- ``add_shortcuts``: an edge for each walk pattern the caller found frequent.
- ``add_concept_neurons``: a concept neuron for each strongly co-activated pair.
- ``neurogenesis``: randomly wired hidden neurons when validation plateaus.

Each returns a new ``BrainTensors`` (the input is never modified; when nothing
fires it is returned as is) and a ``StructuralChange`` that tells the trainer
how to carry parameters and optimizer state across (see ``structure``).
Survivors keep their ids; new neurons and synapses count up from the next id.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from marble_graph.errors import ValidationFailed
from marble_graph.learning.structure import (
    NewNeurons,
    NewSynapses,
    StructuralChange,
    append_only,
    apply_change,
    compose,
    remap_optimizer_state,
    remap_rows,
    standard_synapse_types,
)
from marble_graph.tensors.brain_tensors import (
    KIND_CONCEPT,
    KIND_HIDDEN,
    KIND_INPUT,
    KIND_OUTPUT,
    BrainTensors,
)

__all__ = [
    "StructuralChange",
    "add_concept_neurons",
    "add_shortcuts",
    "compose",
    "neurogenesis",
    "neurogenesis_count",
    "prune_synapses",
    "remap_optimizer_state",
    "remap_rows",
    "split_synapses",
    "validation_plateaued",
]

SHORTCUT_DEFAULT_WEIGHT = 0.1  # for a source with no out-edges to average over
CONCEPT_IN_WEIGHT = 0.5  # a -> c and b -> c
CONCEPT_BACK_WEIGHT = 0.1  # c -> a and c -> b
NEUROGENESIS_STATE_STD = 0.1
NEUROGENESIS_WEIGHT_RANGE = (0.05, 0.2)


@torch.no_grad()
def split_synapses(
    t: BrainTensors, threshold: float, step: int
) -> tuple[BrainTensors, StructuralChange]:
    """Replace each non-frozen synapse with potential > ``threshold`` by src -> m -> dst."""
    device = t.device
    split = ~t.frozen & (t.potential > threshold)  # [E]
    chosen = torch.nonzero(split).flatten()  # [k] edge positions
    k = int(chosen.numel())
    if k == 0:
        return t, StructuralChange.unchanged(t, "split")

    src, dst = t.edge_index[0, chosen], t.edge_index[1, chosen]  # [k]
    middle = t.num_neurons + torch.arange(k, device=device)  # [k] rows of the new neurons
    neurons = NewNeurons(
        kind=torch.full((k,), KIND_HIDDEN, dtype=torch.long, device=device),
        state=(t.state[src] + t.state[dst]) / 2,  # [k, R]
        seed_features=(t.seed_features[src] + t.seed_features[dst]) / 2,  # [k, 3]
        lobe=t.neuron_lobe[src],
        created_step=step,
    )
    # src -> m carries the learned weight and type, so the path starts out
    # computing what the old synapse did; m -> dst is a plain pass-through.
    synapses = NewSynapses(
        src=_interleave(src, middle),  # [2k]
        dst=_interleave(middle, dst),
        weight=_interleave(t.weight[chosen], torch.ones_like(t.weight[chosen])),
        synapse_type=_interleave(t.synapse_type[chosen], standard_synapse_types(k, device)),
        created_step=step,
    )
    kept_synapses = torch.nonzero(~split).flatten()  # [E - k]
    kept_neurons = torch.arange(t.num_neurons, device=device)
    return apply_change(t, kept_neurons, kept_synapses, neurons, synapses, {"split": k})


@torch.no_grad()
def prune_synapses(
    t: BrainTensors, prune_threshold: float, potential_threshold: float
) -> tuple[BrainTensors, StructuralChange]:
    """Remove non-frozen synapses with |w| < ``prune_threshold`` and potential below its own.

    An input neuron never loses its last out-edge and an output neuron never
    its last in-edge: the strongest such candidate of each is kept instead,
    so every input still feeds the graph and every output is still reached.
    """
    n, e = t.num_neurons, t.num_synapses
    src, dst = t.edge_index  # [E] each
    candidate = ~t.frozen & (t.weight.abs() < prune_threshold) & (t.potential < potential_threshold)
    keep = ~candidate  # [E]
    strength = t.weight.abs()
    stranded_inputs = (t.kind == KIND_INPUT) & (torch.bincount(src[keep], minlength=n) == 0)
    stranded_outputs = (t.kind == KIND_OUTPUT) & (torch.bincount(dst[keep], minlength=n) == 0)
    keep = keep | _strongest_edge_per_row(src, candidate & stranded_inputs[src], strength, n)
    keep = keep | _strongest_edge_per_row(dst, candidate & stranded_outputs[dst], strength, n)

    kept_synapses = torch.nonzero(keep).flatten()  # [E_kept]
    pruned = e - int(kept_synapses.numel())
    if pruned == 0:
        return t, StructuralChange.unchanged(t, "prune")
    kept_neurons = torch.arange(n, device=t.device)
    return apply_change(t, kept_neurons, kept_synapses, None, None, {"prune": pruned})


@torch.no_grad()
def add_shortcuts(
    t: BrainTensors, src_rows: Tensor, dst_rows: Tensor, step: int
) -> tuple[BrainTensors, StructuralChange]:
    """Add src -> dst for each candidate pair that is not a self pair, an edge or a repeat.

    The new weight is the mean |weight| of src's out-edges (0.1 without any),
    so a shortcut starts on the scale of the paths it bypasses.
    """
    device, n = t.device, t.num_neurons
    src, dst = _candidate_rows(t, src_rows, dst_rows)  # [C] each
    keys = src * n + dst  # [C] one integer per ordered pair
    existing = t.edge_index[0] * n + t.edge_index[1]  # [E]
    valid = torch.nonzero((src != dst) & ~torch.isin(keys, existing)).flatten()
    chosen = valid[_first_occurrences(keys[valid])]  # [k] candidate positions, in order
    k = int(chosen.numel())
    if k == 0:
        return t, StructuralChange.unchanged(t, "shortcut")

    strength = t.weight.abs()
    out_sum = torch.zeros(n, dtype=strength.dtype, device=device).index_add_(
        0, t.edge_index[0], strength
    )  # [N]
    out_degree = torch.bincount(t.edge_index[0], minlength=n)  # [N]
    mean_out = torch.where(
        out_degree > 0,
        out_sum / out_degree.clamp(min=1),
        torch.full_like(out_sum, SHORTCUT_DEFAULT_WEIGHT),
    )  # [N]
    synapses = NewSynapses(
        src=src[chosen],
        dst=dst[chosen],
        weight=mean_out[src[chosen]],
        synapse_type=standard_synapse_types(k, device),
        created_step=step,
    )
    return append_only(t, None, synapses, {"shortcut": k})


@torch.no_grad()
def add_concept_neurons(
    t: BrainTensors, a_rows: Tensor, b_rows: Tensor, step: int, max_neurons: int
) -> tuple[BrainTensors, StructuralChange]:
    """Add a concept neuron c for each new co-activated pair {a, b}.

    c reads both (a -> c, b -> c, weight 0.5) and feeds back weakly (c -> a,
    c -> b, weight 0.1). Pairs are unordered; a pair already served by a
    concept neuron whose in-edges come from exactly {a, b} is skipped, and
    the first candidates that fit under ``max_neurons`` win.
    """
    device, n = t.device, t.num_neurons
    a, b = _candidate_rows(t, a_rows, b_rows)  # [C] each
    keys = torch.minimum(a, b) * n + torch.maximum(a, b)  # [C] unordered pair keys
    fresh = (a != b) & ~torch.isin(keys, _concept_pair_keys(t))
    valid = torch.nonzero(fresh).flatten()
    chosen = valid[_first_occurrences(keys[valid])]  # [k'] candidate positions, in order
    chosen = chosen[: max(max_neurons - n, 0)]  # [k]
    k = int(chosen.numel())
    if k == 0:
        return t, StructuralChange.unchanged(t, "concept")

    a, b = a[chosen], b[chosen]  # [k]
    concept = n + torch.arange(k, device=device)  # [k] rows of the new neurons
    neurons = NewNeurons(
        kind=torch.full((k,), KIND_CONCEPT, dtype=torch.long, device=device),
        state=torch.tanh((t.state[a] + t.state[b]) / 2),  # [k, R]
        seed_features=(t.seed_features[a] + t.seed_features[b]) / 2,  # [k, 3]
        lobe=t.neuron_lobe[a],
        created_step=step,
    )
    into, back = CONCEPT_IN_WEIGHT, CONCEPT_BACK_WEIGHT
    weights = torch.tensor([into, into, back, back], dtype=t.weight.dtype, device=device)
    synapses = NewSynapses(
        src=_interleave(a, b, concept, concept),  # [4k]: a->c, b->c, c->a, c->b per concept
        dst=_interleave(concept, concept, a, b),
        weight=weights.repeat(k),
        synapse_type=standard_synapse_types(4 * k, device),
        created_step=step,
    )
    return append_only(t, neurons, synapses, {"concept": k})


@torch.no_grad()
def neurogenesis(
    t: BrainTensors,
    count: int,
    fanout: int,
    generator: torch.Generator,
    step: int,
    max_neurons: int,
) -> tuple[BrainTensors, StructuralChange]:
    """Add up to ``count`` hidden neurons wired to random hidden/concept neurons.

    Each gets ``fanout`` in-edges from and ``fanout`` out-edges to distinct
    existing hidden/concept neurons (all of them when there are fewer), weights
    U(0.05, 0.2), state N(0, 0.1²), seed features 0 and no lobe. Draws, in this
    order: states, in-neighbours, out-neighbours, in-weights, out-weights, all
    from ``generator`` on its own device, so a CPU generator gives the same
    brain on every device. Nothing is added when there is nothing to wire to.
    """
    if fanout < 1:
        raise ValidationFailed(f"neurogenesis fanout must be at least 1, got {fanout}")
    device, n = t.device, t.num_neurons
    pool = torch.nonzero((t.kind == KIND_HIDDEN) | (t.kind == KIND_CONCEPT)).flatten()  # [P]
    k = max(min(count, max_neurons - n), 0)
    if k == 0 or pool.numel() == 0:
        return t, StructuralChange.unchanged(t, "neurogenesis")

    draw_device = generator.device
    f = min(fanout, int(pool.numel()))
    state = torch.randn(
        (k, t.representation_size), generator=generator, device=draw_device
    )  # [k, R]
    sources = pool[_distinct_samples(k, f, int(pool.numel()), generator).to(device)]  # [k, f]
    targets = pool[_distinct_samples(k, f, int(pool.numel()), generator).to(device)]  # [k, f]
    low, high = NEUROGENESIS_WEIGHT_RANGE
    weight = low + (high - low) * torch.rand((k, 2 * f), generator=generator, device=draw_device)

    born = (n + torch.arange(k, device=device)).unsqueeze(1).expand(k, f)  # [k, f]
    neurons = NewNeurons(
        kind=torch.full((k,), KIND_HIDDEN, dtype=torch.long, device=device),
        state=(NEUROGENESIS_STATE_STD * state).to(device),
        seed_features=t.seed_features.new_zeros((k, 3)),
        lobe=torch.full((k,), -1, dtype=torch.long, device=device),
        created_step=step,
    )
    synapses = NewSynapses(  # per new neuron: f in-edges, then f out-edges
        src=torch.cat([sources, born], dim=1).reshape(-1),  # [2kf]
        dst=torch.cat([born, targets], dim=1).reshape(-1),
        weight=weight.reshape(-1).to(device),
        synapse_type=standard_synapse_types(2 * k * f, device),
        created_step=step,
    )
    return append_only(t, neurons, synapses, {"neurogenesis": k})


def neurogenesis_count(arousal: float, reward: float, factor: float) -> int:
    """How many neurons neurogenesis adds: round(5 * (1 + max(arousal, reward)) * factor)."""
    return round(5 * (1 + max(arousal, reward)) * factor)


def validation_plateaued(history: Sequence[float], patience: int) -> bool:
    """True when none of the last ``patience`` losses beat the best before them.

    Lower is better. A non-finite loss never counts as an improvement, and
    with no finite earlier loss any finite one does.
    """
    if patience < 1:
        raise ValidationFailed(f"patience must be at least 1, got {patience}")
    if len(history) <= patience:
        return False
    earlier = [v for v in history[:-patience] if math.isfinite(v)]
    best = min(earlier, default=math.inf)
    return not any(v < best for v in history[-patience:])


# -- helpers ----------------------------------------------------------------------


def _interleave(*columns: Tensor) -> Tensor:
    """[k] columns c0, c1, ... to [k * len(columns)]: c0[0], c1[0], ..., c0[1], ..."""
    return torch.stack(columns, dim=1).reshape(-1)


def _candidate_rows(t: BrainTensors, first: Tensor, second: Tensor) -> tuple[Tensor, Tensor]:
    """Candidate row pairs as int64 on the brain's device, checked against N."""
    first = first.to(device=t.device, dtype=torch.long).flatten()
    second = second.to(device=t.device, dtype=torch.long).flatten()
    if first.shape != second.shape:
        raise ValidationFailed(
            f"candidate rows differ in length: {first.numel()} and {second.numel()}"
        )
    both = torch.cat([first, second])
    if both.numel() and (int(both.min()) < 0 or int(both.max()) >= t.num_neurons):
        raise ValidationFailed(
            f"candidate rows must lie in 0..{t.num_neurons - 1}, "
            f"got {int(both.min())}..{int(both.max())}"
        )
    return first, second


def _first_occurrences(keys: Tensor) -> Tensor:
    """Positions of the first occurrence of each distinct key, in input order."""
    if keys.numel() == 0:
        return keys.new_zeros(0)
    unique, inverse = torch.unique(keys, return_inverse=True)
    positions = torch.arange(keys.numel(), device=keys.device)
    first = torch.full((unique.numel(),), keys.numel(), dtype=torch.long, device=keys.device)
    first = first.scatter_reduce(0, inverse, positions, reduce="amin")  # [U]
    return first.sort().values


def _strongest_edge_per_row(
    row_of_edge: Tensor, eligible: Tensor, strength: Tensor, num_rows: int
) -> Tensor:
    """[E] bool marking, per row, the strongest eligible edge (lowest position on ties)."""
    e = int(row_of_edge.numel())
    positions = torch.nonzero(eligible).flatten()  # [M]
    rows, score = row_of_edge[positions], strength[positions]  # [M]
    best = torch.full((num_rows,), -math.inf, dtype=score.dtype, device=score.device)
    best = best.scatter_reduce(0, rows, score, reduce="amax")  # [num_rows]
    at_best = torch.where(score == best[rows], positions, e)  # [M], e = not a winner
    winner = torch.full((num_rows,), e, dtype=torch.long, device=score.device)
    winner = winner.scatter_reduce(0, rows, at_best, reduce="amin")  # [num_rows]
    marked = torch.zeros(e + 1, dtype=torch.bool, device=score.device)
    marked[winner] = True  # rows with no eligible edge hit the spare slot e
    return marked[:e]


def _concept_pair_keys(t: BrainTensors) -> Tensor:
    """Unordered pair keys min*N+max of concept neurons fed by exactly two neurons."""
    n = t.num_neurons
    src, dst = t.edge_index
    into_concept = t.kind[dst] == KIND_CONCEPT  # [E]
    src, dst = src[into_concept], dst[into_concept]  # [Ec]
    low = torch.full((n,), n, dtype=torch.long, device=t.device)
    low = low.scatter_reduce(0, dst, src, reduce="amin")  # [N] smallest in-neighbour
    high = torch.full((n,), -1, dtype=torch.long, device=t.device)
    high = high.scatter_reduce(0, dst, src, reduce="amax")  # [N] largest in-neighbour
    third = (src != low[dst]) & (src != high[dst])  # [Ec] an in-neighbour besides those two
    has_third = torch.bincount(dst[third], minlength=n) > 0  # [N]
    pair = (t.kind == KIND_CONCEPT) & (low < high) & ~has_third  # [N]
    return low[pair] * n + high[pair]


def _distinct_samples(rows: int, size: int, population: int, generator: torch.Generator) -> Tensor:
    """[rows, size] indices into range(population), distinct within each row.

    Sorted draws from range(population - size + 1) plus 0..size-1 are strictly
    increasing, hence distinct, at O(rows * size) cost instead of the
    O(rows * population) of a per-row permutation; near-uniform is enough here.
    """
    draws = torch.randint(
        population - size + 1, (rows, size), generator=generator, device=generator.device
    )
    return draws.sort(dim=1).values + torch.arange(size, device=generator.device)
