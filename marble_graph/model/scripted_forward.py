"""``ScriptedForward``: a brain's inference forward as one TorchScript call.

Why. A server answers requests on its event-loop thread and runs forward
passes on another. Each PyTorch operation called from Python releases the
GIL while it computes and must take it back before Python can go on, and a
thread that wants the GIL waits until the holder lets go, up to the
interpreter's switch interval (5 ms). A forward pass of a few hundred small
operations then spends most of its time waiting for the event loop: a batch
of 32 rows that took 19 ms alone took 1.35 s beside a thread running
Python. TorchScript runs the whole pass in its interpreter without the GIL,
so the event loop and the forward thread actually run side by side (the
same batch: 0.1 s beside that thread; in the server at concurrency 64,
docs/performance.md, Serving). ``torch.jit.script`` is deprecated in favour
of ``torch.compile`` and ``torch.export``, but neither runs a graph with
sparse CSR products without Python or a C++ toolchain; when scripting fails
(a PyTorch without it), ``ScriptedForward.build`` answers None and callers
use the eager ``BrainModel``.

What. The same computation as ``BrainModel.forward`` in eval mode, built
from the same functions (``first_states``, ``sampled_dot``,
``softmax_terms``, ``sparse_times_dense``, ``gated_update``, ``read_out``)
over the same synapse matrices, so outputs are equal to the last bit (the
tests compare them). Only the per-round orchestration is written twice:
here and in ``MarbleConv.forward``. Parameters are read once, when built:
a serving model never changes.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from marble_graph.model.brain_model import BrainModel, first_states, read_out
from marble_graph.model.conv import gated_update
from marble_graph.model.predictions import join_predictions, task_predictions
from marble_graph.model.synapse_matrix import (
    SynapseMatrix,
    sampled_dot,
    softmax_terms,
    sparse_times_dense,
)

log = logging.getLogger(__name__)


def _round(
    h: Tensor,  # [B*N, R]
    structure: list[Tensor],  # _structure(): the round's synapse matrix
    shape: list[int],  # batch, rows, columns, 1 if every row is updated
    effective: Tensor,  # [E] effective synapse weights
    bias: Tensor,  # [N]
    query_weight: Tensor,
    key_weight: Tensor,
    dense: list[Tensor],
    alpha: float,
    activation: str,
    eps: float,
    tiny: float,
) -> Tensor:
    """One round of message passing: MarbleConv.forward without autograd."""
    targets, target_rows, edge_order, crow, col, row, placeholder = structure
    batch, rows, columns, everyone = shape
    h_rows = h if everyone == 1 else h.index_select(0, target_rows)
    queries, keys = F.linear(h_rows, query_weight), F.linear(h, key_weight)
    score = sampled_dot(crow, col, placeholder, rows, columns, queries, keys)
    unnormalised, total = softmax_terms(score, crow, row, rows, tiny)
    edge_weight = effective.index_select(0, edge_order).repeat(batch)
    summed = sparse_times_dense(crow, col, unnormalised * edge_weight, rows, columns, h)
    mean = summed / total.unsqueeze(-1)
    bias_rows = bias.index_select(0, targets)
    new_rows = gated_update(h_rows, mean, bias_rows, dense, batch, alpha, activation, eps)
    return new_rows if everyone == 1 else h.index_copy(0, target_rows, new_rows)


def _predict(
    features: Tensor,
    task: str,
    state: Tensor,
    input_rows: Tensor,
    structures: list[list[Tensor]],
    shapes: list[list[int]],
    effective: Tensor,
    bias: Tensor,
    query_weight: Tensor,
    key_weight: Tensor,
    dense: list[Tensor],
    alpha: float,
    activation: str,
    eps: float,
    tiny: float,
    output_rows: Tensor,
    readout_weight: Tensor,
    readout_bias: Tensor,
    input_skip: Tensor | None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The outputs [B, O] and what the task adds to them (probabilities, labels)."""
    h = first_states(features, state, input_rows)
    for index in range(len(structures)):
        h = _round(
            h,
            structures[index],
            shapes[index],
            effective,
            bias,
            query_weight,
            key_weight,
            dense,
            alpha,
            activation,
            eps,
            tiny,
        )
    outputs = read_out(h, features, output_rows, readout_weight, readout_bias, input_skip)
    return outputs, task_predictions(outputs, task)


_compiled: list[Callable[..., tuple[Tensor, dict[str, Tensor]]] | None] = []  # [] until tried


def _script() -> Callable[..., tuple[Tensor, dict[str, Tensor]]] | None:
    """The scripted ``_predict``, compiled once per process (about 0.1 s); None if it fails."""
    if not _compiled:
        try:
            with warnings.catch_warnings():
                # Deprecated, still the only GIL-free way to run this graph (see above).
                warnings.simplefilter("ignore", DeprecationWarning)
                _compiled.append(torch.jit.script(_predict))
        except Exception as exc:  # TorchScript missing or unable: the eager model serves
            log.warning("TorchScript unavailable, serving with the eager model: %s", exc)
            _compiled.append(None)
    return _compiled[0]


class ScriptedForward:
    """``model``'s outputs [B, O] for features [B, I], and the task's probabilities and
    labels, computed in one TorchScript call."""

    def __init__(
        self,
        model: BrainModel,
        compiled: Callable[..., tuple[Tensor, dict[str, Tensor]]],
        reward: float,
        stress: float,
    ) -> None:
        self.model = model
        self._compiled = compiled
        conv = model.conv
        with torch.no_grad():
            effective = model.effective_weight(reward, stress)
            self._weights: dict[str, Any] = {
                "state": model.state.detach(),
                "input_rows": model.input_rows,
                "effective": effective,
                "bias": model.bias.detach(),
                "query_weight": conv.query_weight(),
                "key_weight": conv.key.weight.detach(),
                "dense": [w.detach() for w in conv.dense_weights()],
                "alpha": float(conv.alpha),
                "activation": conv.activation,
                "eps": float(conv.norm.eps),
                "tiny": float(torch.finfo(model.state.dtype).tiny),
                "output_rows": model.output_rows,
                "readout_weight": model.readout_weight.detach(),
                "readout_bias": model.readout_bias.detach(),
                "input_skip": model.input_skip.detach() if model.core.linear_skip else None,
            }

    @classmethod
    def build(cls, model: BrainModel, reward: float, stress: float) -> ScriptedForward | None:
        """The scripted forward of ``model`` (eval, no autograd); None without TorchScript."""
        compiled = _script()
        return None if compiled is None else cls(model, compiled, reward, stress)

    def __call__(self, features: Tensor) -> Tensor:
        """The outputs [B, O], as ``BrainModel.forward`` computes them."""
        return self.predict(features, "")[0]

    def predict(self, features: Tensor, task: str) -> tuple[Tensor, dict[str, Tensor]]:
        """The outputs [B, O] and ``task_predictions`` of them ("" or regression: none)."""
        slice_size = self.model.slice_size()
        if features.shape[0] > slice_size:
            return join_predictions(
                [self.predict(part, task) for part in features.split(slice_size)]
            )
        matrices = [m for m in self.model._round_matrices(features.shape[0], None) if m.rows]
        return self._compiled(
            features,
            task,
            structures=[_structure(m, self._weights["state"].dtype) for m in matrices],
            shapes=[[m.batch, m.rows, m.columns, int(m.rows == m.columns)] for m in matrices],
            **self._weights,
        )


def _structure(matrix: SynapseMatrix, dtype: torch.dtype) -> list[Tensor]:
    """What ``_round`` reads of a synapse matrix, in its order."""
    return [
        matrix.targets,
        matrix.target_rows,
        matrix.edge_order,
        matrix.crow,
        matrix.col,
        matrix.row,
        matrix._zeros(dtype),
    ]
