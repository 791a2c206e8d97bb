"""A round's attention-weighted mean in one C kernel per pass (``fused_attention.c``).

For every target row of a synapse matrix and every example,

    mean[b, u] = sum_e softmax_e(query[b, u] . key[b, s_e]) weight_e state[b, s_e]

over the row's synapses e = s_e -> u: what ``MarbleConv`` otherwise computes
as a sampled product, a segmented softmax and a sparse product
(``SynapseMatrix``), about a dozen passes over B x E' coefficients forward
and twice that backward. The kernel walks each row's synapses once, keeps
the coefficients in registers and stores nothing per synapse: the backward
pass recomputes the attention from the row's saved max and sum. Examples are
independent, so the batch is split over torch's intra-op thread count, one
kernel call per part, each on its own thread (ctypes lets go of the GIL).

Used for training on the CPU (autograd on, float32, representation size a
multiple of 8 up to 128) when the kernel could be built (``c_library``).
Everything else, and every pass without autograd, runs the PyTorch
operations, so inference stays equal to the last bit to the TorchScript
forward; the two paths agree to float rounding (tests/model/test_fused_attention.py).
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

import torch
from torch import Tensor

from marble_graph.model.c_library import kernel_threads, kernels_allowed, load_c_library
from marble_graph.model.synapse_matrix import SynapseMatrix

_MAX_SIZE = 128  # the kernel's MAX_CHUNKS * 8
_INDEX = ctypes.c_int64
_POINTER = ctypes.c_void_p


@functools.cache
def _library() -> ctypes.CDLL | None:
    """The built kernel with its functions' C signatures declared (once per process)."""
    library = load_c_library("fused_attention.c")
    if library is not None:
        library.marble_attend_forward.argtypes = [_INDEX] * 6 + [_POINTER] * 9
        library.marble_attend_backward.argtypes = [_INDEX] * 6 + [_POINTER] * 14
        library.marble_attend_forward.restype = ctypes.c_int
        library.marble_attend_backward.restype = ctypes.c_int
    return library


def fused_attention_applies(states: Tensor, synapses: SynapseMatrix) -> bool:
    """Whether ``attention_mean`` runs the kernel for these states (else use PyTorch's ops)."""
    size = states.shape[-1]
    return (
        kernels_allowed()
        and states.device.type == "cpu"
        and states.dtype == torch.float32
        and size % 8 == 0
        and size <= _MAX_SIZE
        and synapses.block_col.numel() < 2**31
        and _library() is not None
    )


def attention_mean(
    queries: Tensor,  # [B*U, A] the rows' queries (temperature folded in)
    keys: Tensor,  # [B*N, A]
    states: Tensor,  # [B*N, R]
    weight: Tensor,  # [E'] each nonzero's synapse weight, in the matrix's nonzero order
    synapses: SynapseMatrix,
) -> Tensor:  # [B*U, R]
    """The attention-weighted mean of each row's sources (see module doc); differentiable."""
    return _FusedAttention.apply(queries, keys, states, weight, synapses)


def _pointer(tensor: Tensor) -> _POINTER:
    return _POINTER(tensor.data_ptr())


class _FusedAttention(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        queries: Tensor,
        keys: Tensor,
        states: Tensor,
        weight: Tensor,
        synapses: SynapseMatrix,
    ) -> Tensor:
        library = _library()
        assert library is not None  # fused_attention_applies() was asked first
        queries, keys, states = queries.contiguous(), keys.contiguous(), states.contiguous()
        weight = weight.contiguous()
        rows, size = synapses.rows, states.shape[1]
        mean = states.new_empty(rows, size)
        row_max, row_total = states.new_empty(rows), states.new_empty(rows)
        shape = _shape(synapses, size, queries.shape[1])
        fixed = _forward_pointers(synapses, weight, queries, keys, states, mean, row_max, row_total)

        def kernel(_part: int, first: int, last: int) -> int:
            return int(library.marble_attend_forward(first, last, *shape, *fixed))

        kernel_threads.run(kernel, kernel_threads.parts(synapses.batch))
        ctx.save_for_backward(queries, keys, states, weight, mean, row_max, row_total)
        ctx.synapses = synapses
        return mean

    @staticmethod
    def backward(ctx: Any, grad_mean: Tensor) -> tuple[Tensor | None, ...]:
        library = _library()
        assert library is not None
        queries, keys, states, weight, mean, row_max, row_total = ctx.saved_tensors
        synapses: SynapseMatrix = ctx.synapses
        grad_mean = grad_mean.contiguous()
        grad_queries, grad_keys = torch.empty_like(queries), torch.empty_like(keys)
        grad_states = torch.empty_like(states)
        parts = kernel_threads.parts(synapses.batch)
        # Each part sums its examples' weight gradients into its own row.
        grad_weights = weight.new_zeros(len(parts), weight.numel())
        shape = _shape(synapses, states.shape[1], queries.shape[1])
        fixed = _forward_pointers(synapses, weight, queries, keys, states, mean, row_max, row_total)
        fixed += [_pointer(t) for t in (grad_mean, grad_queries, grad_keys, grad_states)]

        def kernel(part: int, first: int, last: int) -> int:
            own = _pointer(grad_weights[part])
            return int(library.marble_attend_backward(first, last, *shape, *fixed, own))

        kernel_threads.run(kernel, parts)
        return grad_queries, grad_keys, grad_states, grad_weights.sum(0), None


def _forward_pointers(synapses: SynapseMatrix, *tensors: Tensor) -> list[_POINTER]:
    """The structure's pointers, then ``tensors``': the arguments both kernels start with
    (weight, queries, keys, states, mean, row max, row total, in that order)."""
    return [_pointer(t) for t in (synapses.block_crow, synapses.block_col, *tensors)]


def _shape(synapses: SynapseMatrix, size: int, width: int) -> list[int]:
    """units, nodes, size, width: the kernels' dimension arguments after first and last."""
    return [int(synapses.targets.numel()), synapses.num_nodes, size, width]
