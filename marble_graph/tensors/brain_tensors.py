"""``BrainTensors``: one brain's graph as tensors, the shape learning works on.

Rows are ordered by neuron id and edges by synapse id, so the same graph
always gives the same tensors. ``edge_index`` holds row positions (0..N-1),
not neuron ids: ids are stable per brain and may have gaps after pruning,
row positions are dense. Conversions to and from ``BrainGraph`` (Arrow) are
column-wise and vectorised; ``to_pyg`` gives a PyTorch Geometric ``Data``
view sharing the same tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch import Tensor

from marble_graph.brain_graph import (
    LOBE_SCHEMA,
    MEMBERSHIP_SCHEMA,
    NEURON_KINDS,
    NEURON_SCHEMA,
    SYNAPSE_SCHEMA,
    SYNAPSE_TYPES,
    BrainGraph,
    canonical_order,
)
from marble_graph.errors import StoreError

if TYPE_CHECKING:
    from torch_geometric.data import Data

KIND_INPUT, KIND_OUTPUT, KIND_HIDDEN, KIND_CONCEPT = range(4)
TYPE_STANDARD, TYPE_EXCITATORY, TYPE_INHIBITORY, TYPE_MODULATORY = range(4)


@dataclass
class BrainTensors:
    """Neuron tensors are [N, ...], synapse tensors [E, ...], lobe tensors [L]."""

    # neurons, rows ordered by id
    neuron_id: Tensor  # [N] int64, stable per brain
    kind: Tensor  # [N] int64, index into NEURON_KINDS
    neuron_type: Tensor  # [N] int64, index into neuron_type_names
    neuron_type_names: list[str]
    state: Tensor  # [N, R] float32: learned embedding (input neurons: e_i)
    bias: Tensor  # [N] float32
    attention: Tensor  # [N] float32
    energy: Tensor  # [N] float32
    seed_features: Tensor  # [N, 3] float32: cx, cy, escape_count / max_iter
    neuron_created_step: Tensor  # [N] int64
    # synapses, ordered by id
    edge_index: Tensor  # [2, E] int64, row positions (source, target)
    synapse_id: Tensor  # [E] int64
    weight: Tensor  # [E] float32
    synapse_type: Tensor  # [E] int64, index into SYNAPSE_TYPES
    potential: Tensor  # [E] float32
    fatigue: Tensor  # [E] float32
    visit_count: Tensor  # [E] int64
    frozen: Tensor  # [E] bool
    synapse_created_step: Tensor  # [E] int64
    # lobes
    lobe_id: Tensor  # [L] int64
    lobe_names: list[str]
    lobe_attention: Tensor  # [L] float32
    neuron_lobe: Tensor  # [N] int64 row index into lobes, -1 for none
    # carried through unchanged: memories are not trained here
    memories: pa.Table = field(repr=False)

    # -- sizes and views -------------------------------------------------------------

    @property
    def num_neurons(self) -> int:
        return int(self.neuron_id.numel())

    @property
    def num_synapses(self) -> int:
        return int(self.synapse_id.numel())

    @property
    def representation_size(self) -> int:
        return int(self.state.shape[1])

    @property
    def device(self) -> torch.device:
        return self.state.device

    @property
    def input_rows(self) -> Tensor:
        """Rows of input neurons, in id order: input feature j feeds input_rows[j]."""
        return torch.nonzero(self.kind == KIND_INPUT).flatten()

    @property
    def output_rows(self) -> Tensor:
        """Rows of output neurons, in id order: output dimension j is output_rows[j]."""
        return torch.nonzero(self.kind == KIND_OUTPUT).flatten()

    def next_neuron_id(self) -> int:
        return int(self.neuron_id.max().item()) + 1 if self.num_neurons else 0

    def next_synapse_id(self) -> int:
        return int(self.synapse_id.max().item()) + 1 if self.num_synapses else 0

    def to(self, device: torch.device | str) -> BrainTensors:
        """A copy with every tensor on ``device``."""
        moved = {
            f.name: getattr(self, f.name).to(device)
            for f in fields(self)
            if isinstance(getattr(self, f.name), Tensor)
        }
        return replace(self, **moved)

    def clone(self) -> BrainTensors:
        """A deep copy: no tensor is shared with this one."""
        copied = {
            f.name: getattr(self, f.name).detach().clone()
            for f in fields(self)
            if isinstance(getattr(self, f.name), Tensor)
        }
        return replace(
            self,
            **copied,
            neuron_type_names=list(self.neuron_type_names),
            lobe_names=list(self.lobe_names),
        )

    def to_pyg(self) -> Data:
        """A PyTorch Geometric ``Data`` sharing these tensors (x = state)."""
        # Imported here: torch_geometric costs about a second of start-up
        # (it imports torch._dynamo), and only this view needs it.
        from torch_geometric.data import Data

        return Data(
            x=self.state,
            edge_index=self.edge_index,
            edge_weight=self.weight,
            edge_type=self.synapse_type,
            potential=self.potential,
            fatigue=self.fatigue,
            visit_count=self.visit_count,
            frozen=self.frozen,
            neuron_id=self.neuron_id,
            synapse_id=self.synapse_id,
            kind=self.kind,
            energy=self.energy,
            num_nodes=self.num_neurons,
        )

    # -- conversions ---------------------------------------------------------------

    @classmethod
    def from_graph(cls, graph: BrainGraph, device: torch.device | str = "cpu") -> BrainTensors:
        """Columns to tensors, one vectorised step per column."""
        # Tables already in id order (as seeded and as stored) are used as they
        # are: a sort would copy every column of the graph.
        neurons = canonical_order(graph.neurons, "neurons")
        synapses = canonical_order(graph.synapses, "synapses")
        lobes = canonical_order(graph.lobes, "lobes")
        neuron_id = _np(neurons, "id")
        num_neurons = len(neuron_id)

        state_column = neurons.column("state").combine_chunks()
        lengths = pc.list_value_length(state_column).to_numpy(zero_copy_only=False)
        size = int(lengths[0]) if num_neurons else 0
        if num_neurons and not np.all(lengths == size):
            raise StoreError("neuron states have different lengths; the brain is corrupt")
        state = pc.list_flatten(state_column).to_numpy(zero_copy_only=False)
        state = state.astype(np.float32, copy=False).reshape(num_neurons, size)

        type_codes, type_names = _dictionary_codes(neurons.column("neuron_type"))
        src_rows = _rows_of(neuron_id, _np(synapses, "src"), "synapse source")
        dst_rows = _rows_of(neuron_id, _np(synapses, "dst"), "synapse target")

        lobe_id = _np(lobes, "id")
        neuron_lobe = np.full(num_neurons, -1, dtype=np.int64)
        if graph.memberships.num_rows:
            member_rows = _rows_of(neuron_id, _np(graph.memberships, "neuron"), "member")
            neuron_lobe[member_rows] = _rows_of(lobe_id, _np(graph.memberships, "lobe"), "lobe")

        def t(array: np.ndarray) -> Tensor:
            # Arrow hands out read-only buffers; learning writes in place, so copy those.
            array = np.ascontiguousarray(array)
            if not array.flags.writeable:
                array = array.copy()
            return torch.from_numpy(array).to(device)

        return cls(
            neuron_id=t(neuron_id),
            kind=t(_codes(neurons.column("kind"), NEURON_KINDS, "neuron kind")),
            neuron_type=t(type_codes),
            neuron_type_names=type_names,
            state=t(state),
            bias=t(_np(neurons, "bias")),
            attention=t(_np(neurons, "attention")),
            energy=t(_np(neurons, "energy")),
            seed_features=t(
                np.stack([_np(neurons, c) for c in ("seed_cx", "seed_cy", "seed_escape")], axis=1)
                if num_neurons
                else np.zeros((0, 3), dtype=np.float32)
            ),
            neuron_created_step=t(_np(neurons, "created_step")),
            edge_index=t(np.stack([src_rows, dst_rows])),
            synapse_id=t(_np(synapses, "id")),
            weight=t(_np(synapses, "weight")),
            synapse_type=t(_codes(synapses.column("synapse_type"), SYNAPSE_TYPES, "synapse type")),
            potential=t(_np(synapses, "potential")),
            fatigue=t(_np(synapses, "fatigue")),
            visit_count=t(_np(synapses, "visit_count")),
            frozen=t(_np(synapses, "frozen").astype(bool)),
            synapse_created_step=t(_np(synapses, "created_step")),
            lobe_id=t(lobe_id),
            lobe_names=[str(n) for n in lobes.column("name").to_pylist()],
            lobe_attention=t(_np(lobes, "attention")),
            neuron_lobe=t(neuron_lobe),
            memories=graph.memories,
        )

    def to_graph(self) -> BrainGraph:
        """Tensors back to columns (on the CPU), the inverse of ``from_graph``."""
        cpu = self.to("cpu")
        size = cpu.representation_size
        state = pa.FixedSizeListArray.from_arrays(
            pa.array(cpu.state.detach().numpy().ravel()), size
        ).cast(pa.list_(pa.float32()))
        seed = cpu.seed_features.detach().numpy()
        neuron_id = cpu.neuron_id.numpy()
        neurons = pa.Table.from_arrays(
            [
                pa.array(neuron_id),
                _strings(cpu.kind, NEURON_KINDS),
                _strings(cpu.neuron_type, cpu.neuron_type_names),
                state,
                pa.array(cpu.bias.detach().numpy()),
                pa.array(cpu.attention.detach().numpy()),
                pa.array(cpu.energy.detach().numpy()),
                pa.array(seed[:, 0]),
                pa.array(seed[:, 1]),
                pa.array(seed[:, 2]),
                pa.array(cpu.neuron_created_step.numpy()),
            ],
            schema=NEURON_SCHEMA,
        )
        edge_index = cpu.edge_index.numpy()
        synapses = pa.Table.from_arrays(
            [
                pa.array(neuron_id[edge_index[0]]),
                pa.array(neuron_id[edge_index[1]]),
                pa.array(cpu.synapse_id.numpy()),
                pa.array(cpu.weight.detach().numpy()),
                _strings(cpu.synapse_type, SYNAPSE_TYPES),
                pa.array(cpu.potential.detach().numpy()),
                pa.array(cpu.fatigue.detach().numpy()),
                pa.array(cpu.visit_count.numpy()),
                pa.array(cpu.frozen.numpy()),
                pa.array(cpu.synapse_created_step.numpy()),
            ],
            schema=SYNAPSE_SCHEMA,
        )
        lobes = pa.Table.from_arrays(
            [
                pa.array(cpu.lobe_id.numpy()),
                pa.array(cpu.lobe_names, type=pa.string()),
                pa.array(cpu.lobe_attention.detach().numpy()),
            ],
            schema=LOBE_SCHEMA,
        )
        member = cpu.neuron_lobe.numpy() >= 0
        memberships = pa.Table.from_arrays(
            [
                pa.array(neuron_id[member]),
                pa.array(cpu.lobe_id.numpy()[cpu.neuron_lobe.numpy()[member]]),
            ],
            schema=MEMBERSHIP_SCHEMA,
        )
        return BrainGraph(
            neurons=neurons,
            synapses=synapses,
            lobes=lobes,
            memberships=memberships,
            memories=self.memories,
        )


def _np(table: pa.Table, column: str) -> np.ndarray:
    return table.column(column).to_numpy()


def _codes(column: pa.ChunkedArray, names: tuple[str, ...], what: str) -> np.ndarray:
    codes = pc.index_in(column, value_set=pa.array(names))
    if codes.null_count:
        unknown = pc.unique(pc.filter(column, pc.is_null(codes))).to_pylist()
        raise StoreError(f"unknown {what}(s) {unknown}; expected one of {', '.join(names)}")
    return codes.to_numpy().astype(np.int64)


def _dictionary_codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    encoded = column.combine_chunks().dictionary_encode()
    return (
        encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64),
        [str(v) for v in encoded.dictionary.to_pylist()],
    )


def _rows_of(sorted_ids: np.ndarray, ids: np.ndarray, what: str) -> np.ndarray:
    """Row positions of ``ids`` in ``sorted_ids``; every id must be present."""
    rows = np.searchsorted(sorted_ids, ids)
    rows = np.minimum(rows, max(len(sorted_ids) - 1, 0))
    if len(ids) and (len(sorted_ids) == 0 or not np.array_equal(sorted_ids[rows], ids)):
        raise StoreError(f"a {what} refers to a neuron or lobe id that does not exist")
    return rows.astype(np.int64)


def _strings(codes: Tensor, names: tuple[str, ...] | list[str]) -> pa.Array:
    return pa.DictionaryArray.from_arrays(
        pa.array(codes.numpy().astype(np.int32)), pa.array(list(names), type=pa.string())
    ).cast(pa.string())
