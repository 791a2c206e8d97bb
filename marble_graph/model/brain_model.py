"""``BrainModel``: a brain's learnable state plus the shared message-passing layer.

Per-neuron and per-synapse parameters (``state``, ``bias``, ``weight``) are
the brain's own and are written back to the graph store. The shared layer
(attention, MLP, readout) is small and stored beside each version as a blob.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from marble_graph.config import CoreConfig
from marble_graph.model.conv import MarbleConv
from marble_graph.model.synapse_matrix import SynapseMatrix
from marble_graph.tensors.brain_tensors import (
    TYPE_EXCITATORY,
    TYPE_INHIBITORY,
    TYPE_MODULATORY,
    BrainTensors,
)

_CACHED_BATCH_SIZES = 8  # views of the largest batch's matrices, kept per batch size
# A batch's synapse matrix holds batch x synapses nonzeros (about 40 bytes each
# with its transpose); larger batches run in slices of at most this many.
_MAX_NONZEROS = 1 << 22


class BrainModel(nn.Module):
    """The forward pass (docs/model.md): inputs in, one scalar per output neuron out."""

    # Graph structure, registered as buffers so they follow .to(device).
    edge_index: Tensor  # [2, E]
    synapse_type: Tensor  # [E]
    frozen: Tensor  # [E] bool
    energy: Tensor  # [N]
    input_rows: Tensor  # [I]
    output_rows: Tensor  # [O]

    def __init__(self, tensors: BrainTensors, core: CoreConfig, random_seed: int) -> None:
        super().__init__()
        self.core = core
        # Derived from the structure, which only changes in restructure() (or moves
        # with .to()): the synapse matrices of the largest batch seen, views of them
        # per smaller batch size (SynapseMatrix.prefix), and the active-neuron mask.
        self._largest: list[SynapseMatrix] = []
        self._matrices: dict[int, list[SynapseMatrix]] = {}
        self._active: tuple[Tensor, bool] | None = None
        self._any_frozen: bool | None = None
        self.state = nn.Parameter(tensors.state.detach().clone())  # [N, R]
        self.bias = nn.Parameter(tensors.bias.detach().clone())  # [N]
        self.weight = nn.Parameter(tensors.weight.detach().clone())  # [E]
        self.register_buffer("edge_index", tensors.edge_index.clone())
        self.register_buffer("synapse_type", tensors.synapse_type.clone())
        self.register_buffer("frozen", tensors.frozen.clone())
        self.register_buffer("energy", tensors.energy.clone())
        self.register_buffer("input_rows", tensors.input_rows)
        self.register_buffer("output_rows", tensors.output_rows)
        size = tensors.representation_size
        # The shared layer starts from the brain's seed, so the same brain gives
        # the same untrained model in every process.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(random_seed)
            self.conv = MarbleConv(
                size,
                alpha=core.message_alpha,
                temperature=core.attention_temperature,
                activation=core.activation,
                attention_size=core.attention_size,
            )
            # One independent linear readout per output neuron: identical
            # readouts would start every output at the same function.
            readout = nn.Linear(size, int(self.output_rows.numel()))
            self.readout_weight = nn.Parameter(readout.weight.detach().clone())  # [O, R]
            self.readout_bias = nn.Parameter(readout.bias.detach().clone())  # [O]
        # Inputs straight to outputs (core.linear_skip). Zero at start, so the
        # brain starts as it would without it; registered either way so every
        # version's shared blob has the same keys.
        inputs, outputs = int(self.input_rows.numel()), int(self.output_rows.numel())
        self.input_skip = nn.Parameter(torch.zeros(inputs, outputs, dtype=self.state.dtype))
        self.to(tensors.device)

    # -- the brain's own parameters versus the shared layer ---------------------------

    def shared_state(self) -> dict[str, Tensor]:
        """Parameters that are not graph properties (stored as a version blob)."""
        own = {"state", "bias", "weight"}
        return {
            name: value.detach().cpu().clone()
            for name, value in self.state_dict().items()
            if name not in own and not self._is_graph_buffer(name)
        }

    def load_shared_state(self, shared: dict[str, Tensor]) -> None:
        current = self.state_dict()
        # Versions stored before the skip existed load with it at zero (no skip).
        shared = {"input_skip": torch.zeros_like(self.input_skip), **shared}
        missing = sorted(set(self.shared_state()) - set(shared))
        if missing:
            raise ValueError(f"shared parameters missing: {', '.join(missing)}")
        for name, value in shared.items():
            current[name] = value.to(self.state.device)
        self.load_state_dict(current)

    @staticmethod
    def _is_graph_buffer(name: str) -> bool:
        return name in {
            "edge_index",
            "synapse_type",
            "frozen",
            "energy",
            "input_rows",
            "output_rows",
        }

    def restructure(self, tensors: BrainTensors) -> None:
        """Adopt a new graph structure: fresh parameters and buffers from ``tensors``."""
        self.state = nn.Parameter(tensors.state.detach().clone())
        self.bias = nn.Parameter(tensors.bias.detach().clone())
        self.weight = nn.Parameter(tensors.weight.detach().clone())
        self.edge_index = tensors.edge_index.clone()
        self.synapse_type = tensors.synapse_type.clone()
        self.frozen = tensors.frozen.clone()
        self.energy = tensors.energy.clone()
        self.input_rows = tensors.input_rows
        self.output_rows = tensors.output_rows
        self._forget_derived()

    def _forget_derived(self) -> None:
        self._largest = []
        self._matrices.clear()
        self._active = None
        self._any_frozen = None

    def any_frozen(self) -> bool:
        """Whether any synapse is frozen (computed once per structure)."""
        if self._any_frozen is None:
            self._any_frozen = bool(self.frozen.any())
        return self._any_frozen

    def _apply(self, fn: Any, recurse: bool = True) -> BrainModel:  # .to(), .cuda(), ...
        self._forget_derived()
        return super()._apply(fn, recurse)

    def active_neurons(self) -> tuple[Tensor, bool]:
        """[N] bool mask of neurons at or above the energy threshold, and whether all are."""
        if self._active is None:
            active = self.energy >= self.core.energy_threshold
            self._active = (active, bool(active.all()))  # one device sync per structure
        return self._active

    def sync_to(self, tensors: BrainTensors) -> None:
        """Copy learned per-neuron and per-synapse values into ``tensors``."""
        tensors.state = self.state.detach().clone()
        tensors.bias = self.bias.detach().clone()
        tensors.weight = self.weight.detach().clone()

    # -- forward -------------------------------------------------------------------

    def effective_weight(self, reward: float = 0.0, stress: float = 0.0) -> Tensor:
        """Synapse-type semantics: excitatory |w|, inhibitory -|w|, modulatory w(1+r-s)."""
        weight = torch.where(self.frozen, self.weight.detach(), self.weight)  # [E]
        magnitude = weight.abs()
        kind = self.synapse_type
        weight = torch.where(kind == TYPE_EXCITATORY, magnitude, weight)
        weight = torch.where(kind == TYPE_INHIBITORY, -magnitude, weight)
        return torch.where(kind == TYPE_MODULATORY, weight * (1.0 + reward - stress), weight)

    def forward(
        self,
        features: Tensor,  # [B, I]
        edge_mask: Tensor | None = None,  # [E] bool: route only these edges
        reward: float = 0.0,
        stress: float = 0.0,
    ) -> Tensor:  # [B, O]
        slice_size = self.slice_size()
        if features.shape[0] > slice_size:
            return torch.cat(
                [
                    self.forward(part, edge_mask, reward, stress)
                    for part in features.split(slice_size)
                ]
            )
        h = self._final_states(features, edge_mask, reward, stress)
        skip = self.input_skip if self.core.linear_skip else None
        return read_out(h, features, self.output_rows, self.readout_weight, self.readout_bias, skip)

    def embed(
        self,
        features: Tensor,  # [B, I]
        reward: float = 0.0,
        stress: float = 0.0,
    ) -> Tensor:  # [B, O*R]
        """The brain's state for each input: its output neurons' final states, concatenated.

        These are the states the readout reads (the same message passing as
        ``forward``), in output-neuron id order; reshape to [B, O, R] for one
        state per output neuron.
        """
        slice_size = self.slice_size()
        if features.shape[0] > slice_size:
            return torch.cat(
                [self.embed(part, reward, stress) for part in features.split(slice_size)]
            )
        h = self._final_states(features, None, reward, stress)  # [B*N, R]
        out_state = output_states(h, features.shape[0], self.output_rows)  # [B, O, R]
        return out_state.reshape(features.shape[0], -1)

    def activations(
        self,
        features: Tensor,  # [B, I]
        reward: float = 0.0,
        stress: float = 0.0,
    ) -> tuple[Tensor, Tensor]:  # [B, N, R], [B, O]
        """Every neuron's final state for each input, and the outputs read from them.

        Unlike ``forward`` and ``embed``, which update in each round only the
        neurons that can still reach an output, every round here updates every
        (active) neuron that receives synapses, as docs/model.md defines the K
        rounds: a hidden neuron's state is its own after the last round, not
        where the pruned rounds left it. The output neurons' states, and so the
        outputs, are those of ``forward`` and ``embed``. Rows are neurons in id
        order (``BrainTensors`` rows).
        """
        slice_size = self.slice_size()
        if features.shape[0] > slice_size:
            parts = [self.activations(part, reward, stress) for part in features.split(slice_size)]
            return torch.cat([s for s, _ in parts]), torch.cat([o for _, o in parts])
        batch = features.shape[0]
        h = first_states(features, self.state, self.input_rows)  # [B*N, R]
        synapses = self._every_receiver_matrix(batch)
        if synapses.rows:
            effective = self.effective_weight(reward, stress)  # [E]
            for _ in range(self.core.message_passing_iterations):
                h = self.conv(h, synapses, effective, self.bias)
        skip = self.input_skip if self.core.linear_skip else None
        outputs = read_out(
            h, features, self.output_rows, self.readout_weight, self.readout_bias, skip
        )
        return h.view(batch, -1, h.shape[1]), outputs

    def _every_receiver_matrix(self, batch: int) -> SynapseMatrix:
        """The synapse matrix of a round that updates every active neuron with an active
        source; built per call, not cached: activations are asked for one input at a time."""
        active, all_active = self.active_neurons()
        edge_ids: Tensor | None = None
        edge_index = self.edge_index
        if not all_active:
            edge_ids = active[edge_index[0]].nonzero().squeeze(1)
            edge_index = edge_index[:, edge_ids]
        targets = _receivers(edge_index, active).nonzero().squeeze(1)
        return SynapseMatrix.build(edge_index, self.state.shape[0], batch, targets, edge_ids)

    def _final_states(
        self, features: Tensor, edge_mask: Tensor | None, reward: float, stress: float
    ) -> Tensor:  # [B*N, R]
        """Every neuron's state after the K rounds of message passing (one slice of a batch)."""
        h = first_states(features, self.state, self.input_rows)
        effective = self.effective_weight(reward, stress)  # [E]
        for synapses in self._round_matrices(features.shape[0], edge_mask):
            if synapses.rows:  # a round with nothing that reaches an output is skipped
                h = self.conv(h, synapses, effective, self.bias)
        return h

    def slice_size(self) -> int:
        """Most examples one forward pass takes at once (larger batches run in slices)."""
        return max(1, _MAX_NONZEROS // max(1, int(self.edge_index.shape[1])))

    def _round_matrices(self, batch: int, edge_mask: Tensor | None) -> list[SynapseMatrix]:
        """One synapse matrix per round, its rows the neurons that round must update.

        A masked neuron neither sends messages, nor is attended to, nor changes.
        """
        if edge_mask is None:
            if batch in self._matrices:
                return self._matrices[batch]
            if self._largest and self._largest[0].batch >= batch:
                return self._remember(batch, [m.prefix(batch) for m in self._largest])
        active, all_active = self.active_neurons()
        edge_ids: Tensor | None = None
        edge_index = self.edge_index
        if edge_mask is not None or not all_active:
            keep = active[edge_index[0]]  # [E]
            if edge_mask is not None:
                keep = keep & edge_mask
            edge_ids = keep.nonzero().squeeze(1)
            edge_index = edge_index[:, edge_ids]
        num_neurons = self.state.shape[0]
        matrices = [
            SynapseMatrix.build(edge_index, num_neurons, batch, targets, edge_ids)
            for targets in self._round_targets(edge_index, active)
        ]
        if edge_mask is None:
            self._largest = matrices
            self._matrices.clear()  # views of the previous largest: rebuilt from these
            self._remember(batch, matrices)
        return matrices

    def _remember(self, batch: int, matrices: list[SynapseMatrix]) -> list[SynapseMatrix]:
        if len(self._matrices) >= _CACHED_BATCH_SIZES:
            self._matrices.pop(next(iter(self._matrices)))
        self._matrices[batch] = matrices
        return matrices

    def _round_targets(self, edge_index: Tensor, active: Tensor) -> list[Tensor]:
        """Per round, the neurons whose update can still reach an output (ascending ids).

        Only the output neurons' last states are read, so the last round needs
        only them, the round before also their sources, and so on back: with
        K = 3 the last round updates a handful of rows instead of every neuron,
        and the outputs are exactly those of updating everyone. A neuron with
        no (active) incoming synapse, or below the energy threshold, keeps its
        state and is never updated.
        """
        src, dst = edge_index
        receiving = _receivers(edge_index, active)
        needed = torch.zeros_like(receiving)
        needed[self.output_rows] = True
        rounds: list[Tensor] = []
        for _ in range(self.core.message_passing_iterations):  # from the last round back
            updated = needed & receiving
            rounds.append(updated.nonzero().squeeze(1))
            needed = needed.index_fill(0, src[updated[dst]], True)
        rounds.reverse()
        return rounds


def _receivers(edge_index: Tensor, active: Tensor) -> Tensor:  # [N] bool
    """Active neurons with at least one incoming synapse in ``edge_index``: the ones a
    round can update (every other neuron keeps its state)."""
    receiving = torch.zeros_like(active)
    receiving[edge_index[1]] = True
    return receiving & active


# The forward's first and last steps as plain functions of tensors: the
# TorchScript inference forward (scripted_forward.py) runs these too.


def first_states(features: Tensor, state: Tensor, input_rows: Tensor) -> Tensor:
    """[B*N, R] batch-major states: input neuron i at x_i * e_i, every other at its e."""
    batch, num_neurons, size = features.shape[0], state.shape[0], state.shape[1]
    scale = torch.ones(batch, num_neurons, device=features.device, dtype=state.dtype)
    scale = scale.index_copy(1, input_rows, features.to(state.dtype))
    return (scale.unsqueeze(-1) * state.unsqueeze(0)).view(batch * num_neurons, size)


def output_states(h: Tensor, batch: int, output_rows: Tensor) -> Tensor:  # [B, O, R]
    """The output neurons' states out of batch-major states ``h`` [B*N, R]."""
    return h.view(batch, -1, h.shape[1]).index_select(1, output_rows)


def read_out(
    h: Tensor,  # [B*N, R]
    features: Tensor,  # [B, I]
    output_rows: Tensor,  # [O]
    readout_weight: Tensor,  # [O, R]
    readout_bias: Tensor,  # [O]
    input_skip: Tensor | None,  # [I, O] (core.linear_skip) or None
) -> Tensor:  # [B, O]
    """One linear readout per output neuron of its last state, plus the linear skip."""
    out_state = output_states(h, features.shape[0], output_rows)  # [B, O, R]
    out = (out_state * readout_weight).sum(dim=-1) + readout_bias
    if input_skip is not None:
        out = out + features.to(h.dtype) @ input_skip  # [B, I] @ [I, O]
    return out
