"""Row bookkeeping for structural plasticity: change records and remapping.

A structural operation keeps some neuron rows and synapse positions (in their
old order) and appends new ones after them. ``StructuralChange`` records
exactly that, so the trainer can carry every per-row tensor across the change
with ``remap_rows`` (model parameters) and ``remap_optimizer_state`` (Adam
moments, SGD momentum), and ``compose`` folds several changes into one so it
remaps once per plasticity round.

``apply_change`` is the single place that builds the new ``BrainTensors``:
ids of survivors never change and new rows get ids counting up from the
brain's next free id, so the persisted graph can tell survivors from newcomers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from marble_graph.errors import ValidationFailed
from marble_graph.learning.optimizers import ParameterState
from marble_graph.tensors.brain_tensors import TYPE_STANDARD, BrainTensors

__all__ = [
    "NewNeurons",
    "NewSynapses",
    "StructuralChange",
    "apply_change",
    "compose",
    "remap_optimizer_state",
    "remap_rows",
    "standard_synapse_types",
]

# Name every grown neuron gets; appended to ``neuron_type_names`` when absent.
STANDARD_NEURON_TYPE = "standard"


@dataclass(frozen=True)
class StructuralChange:
    """Which old rows survive (in order) and how many new rows follow them."""

    kept_neurons: Tensor  # [N_kept] int64 old rows; new rows 0..N_kept-1
    new_neurons: int  # appended after the kept rows
    kept_synapses: Tensor  # [E_kept] int64 old edge positions that survive
    new_synapses: int  # appended after the kept edges
    counts: dict[str, int]  # how many times each operation fired

    @property
    def changed(self) -> bool:
        """True when anything was added or any operation fired (removals count too)."""
        return self.new_neurons > 0 or self.new_synapses > 0 or any(self.counts.values())

    @classmethod
    def unchanged(cls, t: BrainTensors, *operations: str) -> StructuralChange:
        """The identity change on ``t``, with a zero count for each operation named."""
        device = t.device
        return cls(
            kept_neurons=torch.arange(t.num_neurons, device=device),
            new_neurons=0,
            kept_synapses=torch.arange(t.num_synapses, device=device),
            new_synapses=0,
            counts=dict.fromkeys(operations, 0),
        )


@dataclass(frozen=True)
class NewNeurons:
    """Neurons to append; bias 0, attention 0, energy 1, type ``standard``."""

    kind: Tensor  # [K] int64 kind codes
    state: Tensor  # [K, R]
    seed_features: Tensor  # [K, 3]
    lobe: Tensor  # [K] int64 lobe row, -1 for none
    created_step: int


@dataclass(frozen=True)
class NewSynapses:
    """Synapses to append; potential 1, fatigue 0, no visits, not frozen.

    ``src``/``dst`` are rows of the *resulting* tensors: kept neurons are
    0..N_kept-1 and the appended ones follow.
    """

    src: Tensor  # [M] int64
    dst: Tensor  # [M] int64
    weight: Tensor  # [M]
    synapse_type: Tensor  # [M] int64 type codes
    created_step: int


def remap_rows(old: Tensor, kept: Tensor, appended: Tensor) -> Tensor:
    """``cat(old[kept], appended)`` along dim 0: carry a per-row tensor across a change."""
    return torch.cat([old[kept.to(old.device)], appended.to(device=old.device, dtype=old.dtype)])


def remap_optimizer_state(
    optimizer: ParameterState,
    old_param: torch.nn.Parameter,
    new_param: torch.nn.Parameter,
    kept: Tensor,
    new_count: int,
) -> None:
    """Move ``old_param``'s optimizer state to ``new_param`` and swap it into the groups.

    Per-row state (leading dim equal to ``old_param``'s, e.g. Adam ``exp_avg``,
    ``exp_avg_sq``, SGD ``momentum_buffer``) keeps the rows in ``kept`` and
    starts the ``new_count`` appended rows at zero, as a fresh parameter would;
    anything else (Adam's scalar ``step``) is copied. ``optimizer`` is one of
    ``learning.optimizers``' or a ``torch.optim`` one: only ``param_groups`` and
    ``state`` are used.
    """
    rows = kept.numel() + new_count
    if new_param.dim() == 0 or new_param.shape[0] != rows:
        raise ValidationFailed(
            f"new parameter has shape {tuple(new_param.shape)}; expected {rows} rows "
            f"({kept.numel()} kept + {new_count} new)"
        )
    holders = [g for g in optimizer.param_groups if any(p is old_param for p in g["params"])]
    if not holders:
        raise ValidationFailed("the old parameter is not in any of the optimizer's groups")

    old_rows = old_param.shape[0] if old_param.dim() else -1
    moved: dict[str, object] = {}
    for key, value in optimizer.state.pop(old_param, {}).items():
        if isinstance(value, Tensor) and value.dim() > 0 and value.shape[0] == old_rows:
            fresh = value.new_zeros((rows, *value.shape[1:]))  # [rows, ...]
            fresh[: kept.numel()] = value[kept.to(value.device)]
            moved[key] = fresh
        elif isinstance(value, Tensor):
            moved[key] = value.clone()
        else:
            moved[key] = value
    if moved:
        optimizer.state[new_param] = moved
    for group in holders:
        group["params"] = [new_param if p is old_param else p for p in group["params"]]


def compose(first: StructuralChange, second: StructuralChange) -> StructuralChange:
    """The one change equal to applying ``first`` and then ``second``.

    Rows that ``first`` appended and ``second`` keeps become plain new rows of
    the result: their values come from the final tensors and their optimizer
    state was zero anyway.
    """
    kept_neurons, new_neurons = _compose_axis(
        first.kept_neurons, first.new_neurons, second.kept_neurons, second.new_neurons, "neuron"
    )
    kept_synapses, new_synapses = _compose_axis(
        first.kept_synapses, first.new_synapses, second.kept_synapses, second.new_synapses, "edge"
    )
    counts = dict(first.counts)
    for name, count in second.counts.items():
        counts[name] = counts.get(name, 0) + count
    return StructuralChange(kept_neurons, new_neurons, kept_synapses, new_synapses, counts)


def _compose_axis(
    kept1: Tensor, new1: int, kept2: Tensor, new2: int, what: str
) -> tuple[Tensor, int]:
    middle_rows = kept1.numel() + new1
    if kept2.numel() and int(kept2.max()) >= middle_rows:
        raise ValidationFailed(
            f"second change keeps {what} row {int(kept2.max())}, "
            f"but the first change leaves only {middle_rows} rows"
        )
    from_old = kept2 < kept1.numel()  # [K2] rows that existed before the first change
    survivors = int(from_old.sum())
    # The result's layout is "old rows, then new rows": second must keep the
    # first's old rows before its new ones, which it does when kept is sorted.
    if not bool(from_old[:survivors].all()):
        raise ValidationFailed(f"second change's kept {what} rows must be in ascending order")
    kept = kept1[kept2[:survivors].to(kept1.device)]
    return kept, kept2.numel() - survivors + new2


def apply_change(
    t: BrainTensors,
    kept_neurons: Tensor,
    kept_synapses: Tensor,
    neurons: NewNeurons | None,
    synapses: NewSynapses | None,
    counts: Mapping[str, int],
) -> tuple[BrainTensors, StructuralChange]:
    """A new ``BrainTensors`` keeping the given rows and appending the new ones.

    Kept synapses must only touch kept neurons. ``t`` is not modified.
    """
    device = t.device
    n_kept = int(kept_neurons.numel())
    edge_index = t.edge_index[:, kept_synapses]  # [2, E_kept] old rows
    if n_kept != t.num_neurons:
        # Dropping neurons shifts the rows after them; edges follow via a lookup table.
        row_map = torch.full((t.num_neurons,), -1, dtype=torch.long, device=device)
        row_map[kept_neurons] = torch.arange(n_kept, device=device)
        edge_index = row_map[edge_index]
        if edge_index.numel() and bool((edge_index < 0).any()):
            raise ValidationFailed("a kept synapse touches a neuron that is removed")

    num_new = 0 if neurons is None else int(neurons.kind.numel())
    names = list(t.neuron_type_names)
    if STANDARD_NEURON_TYPE not in names and num_new:
        names.append(STANDARD_NEURON_TYPE)
    standard_code = names.index(STANDARD_NEURON_TYPE) if num_new else 0

    def neuron_column(old: Tensor, new: Tensor | float | int) -> Tensor:
        if not isinstance(new, Tensor):
            new = torch.full((num_new, *old.shape[1:]), new, dtype=old.dtype, device=device)
        return remap_rows(old, kept_neurons, new)

    first_neuron_id = t.next_neuron_id()
    step_n = 0 if neurons is None else neurons.created_step
    new_state = t.state.new_zeros((0, t.representation_size)) if neurons is None else neurons.state
    new_seed = t.seed_features.new_zeros((0, 3)) if neurons is None else neurons.seed_features
    new_kind = t.kind.new_zeros(0) if neurons is None else neurons.kind
    new_lobe = t.neuron_lobe.new_zeros(0) if neurons is None else neurons.lobe

    num_syn = 0 if synapses is None else int(synapses.src.numel())
    first_synapse_id = t.next_synapse_id()
    step_s = 0 if synapses is None else synapses.created_step
    empty_rows = t.edge_index.new_zeros(0)
    new_src = empty_rows if synapses is None else synapses.src.to(device)
    new_dst = empty_rows if synapses is None else synapses.dst.to(device)
    new_weight = t.weight.new_zeros(0) if synapses is None else synapses.weight
    new_type = t.synapse_type.new_zeros(0) if synapses is None else synapses.synapse_type

    def synapse_column(old: Tensor, new: Tensor | float | int | bool) -> Tensor:
        if not isinstance(new, Tensor):
            new = torch.full((num_syn,), new, dtype=old.dtype, device=device)
        return remap_rows(old, kept_synapses, new)

    result = replace(
        t,
        neuron_id=neuron_column(
            t.neuron_id, first_neuron_id + torch.arange(num_new, device=device)
        ),
        kind=neuron_column(t.kind, new_kind),
        neuron_type=neuron_column(t.neuron_type, standard_code),
        neuron_type_names=names,
        state=neuron_column(t.state, new_state),
        bias=neuron_column(t.bias, 0.0),
        attention=neuron_column(t.attention, 0.0),
        energy=neuron_column(t.energy, 1.0),
        seed_features=neuron_column(t.seed_features, new_seed),
        neuron_created_step=neuron_column(t.neuron_created_step, step_n),
        neuron_lobe=neuron_column(t.neuron_lobe, new_lobe),
        edge_index=torch.cat([edge_index, torch.stack([new_src, new_dst])], dim=1),
        synapse_id=synapse_column(
            t.synapse_id, first_synapse_id + torch.arange(num_syn, device=device)
        ),
        weight=synapse_column(t.weight, new_weight),
        synapse_type=synapse_column(t.synapse_type, new_type),
        potential=synapse_column(t.potential, 1.0),
        fatigue=synapse_column(t.fatigue, 0.0),
        visit_count=synapse_column(t.visit_count, 0),
        frozen=synapse_column(t.frozen, False),
        synapse_created_step=synapse_column(t.synapse_created_step, step_s),
    )
    change = StructuralChange(
        kept_neurons=kept_neurons,
        new_neurons=num_new,
        kept_synapses=kept_synapses,
        new_synapses=num_syn,
        counts=dict(counts),
    )
    return result, change


def append_only(
    t: BrainTensors,
    neurons: NewNeurons | None,
    synapses: NewSynapses | None,
    counts: Mapping[str, int],
) -> tuple[BrainTensors, StructuralChange]:
    """``apply_change`` that keeps every existing row and only appends."""
    kept_neurons = torch.arange(t.num_neurons, device=t.device)
    kept_synapses = torch.arange(t.num_synapses, device=t.device)
    return apply_change(t, kept_neurons, kept_synapses, neurons, synapses, counts)


def standard_synapse_types(count: int, device: torch.device) -> Tensor:
    """[count] int64 codes of the ``standard`` synapse type."""
    return torch.full((count,), TYPE_STANDARD, dtype=torch.long, device=device)
