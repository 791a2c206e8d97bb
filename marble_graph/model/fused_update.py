"""A round's gated update of its target neurons in one C kernel per pass (``fused_update.c``).

Per updated row: ``agg = V mean``, LayerNorm, the two-layer MLP with tanh,
the bias, the gate ``1 - exp(-|agg|)`` and the blend with the old state
(``gated_update`` in conv.py, the function this replaces). As PyTorch
operations that is about twenty passes over [B*U, R] or [B*U, 2R] floats
forward and more backward; the kernel keeps a row in registers from its
mean to its new state and saves what the backward pass needs in one
buffer per round (or, past ``_SAVE_LIMIT_BYTES``, lets the backward pass
recompute the row); the backward pass sums the weight gradients per
thread. Rows are split over torch's intra-op thread count.

Used where the fused attention is (training on a CPU, float32) when the
activation is tanh and the representation size and MLP width are multiples
of 8 up to 128; everything else runs ``gated_update``. The two agree to
float rounding (tests/model/test_fused_update.py).
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

import torch
from torch import Tensor

from marble_graph.model.c_library import kernel_threads, kernels_allowed, load_c_library

_MAX_WIDTH = 128  # the kernel's MAX_CHUNKS * 8
_INDEX, _FLOAT, _POINTER = ctypes.c_int64, ctypes.c_float, ctypes.c_void_p
# Saving a round's per-row values (4R + H + 8 floats a row: 416 bytes at R 16,
# three times what autograd already keeps of the round) spares the backward pass
# recomputing the row, which cost more than the forward pass: digits, 64 x 474
# rows, backward 3.5 ms instead of 10.4 on one thread. Rounds past this limit
# recompute, so their memory stays what it was (a round that updates a million
# neurons would need 400 MB per example).
_SAVE_LIMIT_BYTES = 64 << 20
_WEIGHTS = 10  # V, VT, norm weight, norm bias, W1, W1T, b1, W2, W2T, b2
_GRADS = 8  # bias, V, norm weight, norm bias, W1, b1, W2, b2


@functools.cache
def _library() -> ctypes.CDLL | None:
    """The built kernel with its functions' C signatures declared (once per process)."""
    library = load_c_library("fused_update.c")
    if library is not None:
        head = [_INDEX] * 5 + [_FLOAT] * 2 + [_POINTER] * 4
        library.marble_update_forward.argtypes = [*head, _POINTER, _POINTER]
        library.marble_update_backward.argtypes = [*head, *[_POINTER] * 5]
        library.marble_update_saved_width.argtypes = [_INDEX, _INDEX]
        library.marble_update_forward.restype = None
        library.marble_update_backward.restype = None
        library.marble_update_saved_width.restype = _INDEX
    return library


def fused_update_applies(h_rows: Tensor, weights: list[Tensor], activation: str) -> bool:
    """Whether ``fused_gated_update`` runs the kernel (else use ``gated_update``)."""
    size, hidden = h_rows.shape[-1], weights[3].shape[0]
    return (
        kernels_allowed()
        and activation == "tanh"
        and h_rows.device.type == "cpu"
        and h_rows.dtype == torch.float32
        and all(w.dtype == torch.float32 for w in weights)
        and size % 8 == 0
        and hidden % 8 == 0
        and max(size, hidden) <= _MAX_WIDTH
        and _library() is not None
    )


def fused_gated_update(
    h_rows: Tensor,  # [B*U, R]
    mean: Tensor,  # [B*U, R]
    bias_rows: Tensor,  # [U]
    weights: list[Tensor],  # MarbleConv.dense_weights(), in that order
    alpha: float,
    eps: float,
) -> Tensor:  # [B*U, R]
    """``gated_update`` with tanh, as one kernel (see module doc); differentiable."""
    # Without autograd there is no backward pass to save the rows for.
    save = torch.is_grad_enabled()
    return _FusedUpdate.apply(h_rows, mean, bias_rows, alpha, eps, save, *weights)


def _saved_buffer(library: ctypes.CDLL, h_rows: Tensor, hidden: int) -> Tensor:
    """Where the forward pass saves each row's values for the backward pass, or an
    empty tensor (the backward pass then recomputes them) when that would take more
    than ``_SAVE_LIMIT_BYTES``."""
    rows, size = h_rows.shape
    width = int(library.marble_update_saved_width(size, hidden))
    if rows * width * h_rows.element_size() > _SAVE_LIMIT_BYTES:
        return h_rows.new_empty(0)
    return h_rows.new_empty(rows, width)


def _pointer_or_null(saved: Tensor) -> int | None:
    """The kernel's ``saved`` argument: the buffer, or NULL when there is none."""
    return saved.data_ptr() if saved.numel() else None


def _pointers(tensors: list[Tensor]) -> Any:
    return (_POINTER * len(tensors))(*[t.data_ptr() for t in tensors])


def _kernel_weights(weights: tuple[Tensor, ...]) -> list[Tensor]:
    """The kernel's weight list: each matrix row-major and transposed (see fused_update.c)."""
    value, norm_weight, norm_bias, first_weight, first_bias, second_weight, second_bias = (
        w.detach().contiguous() for w in weights
    )
    return [
        value,
        value.t().contiguous(),
        norm_weight,
        norm_bias,
        first_weight,
        first_weight.t().contiguous(),
        first_bias,
        second_weight,
        second_weight.t().contiguous(),
        second_bias,
    ]


class _FusedUpdate(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        h_rows: Tensor,
        mean: Tensor,
        bias_rows: Tensor,
        alpha: float,
        eps: float,
        save: bool,
        *weights: Tensor,
    ) -> Tensor:
        library = _library()
        assert library is not None  # fused_update_applies() was asked first
        h_rows, mean, bias_rows = h_rows.contiguous(), mean.contiguous(), bias_rows.contiguous()
        kernel_weights = _kernel_weights(weights)
        out = torch.empty_like(h_rows)
        rows, size = h_rows.shape
        head = [bias_rows.numel(), size, weights[3].shape[0]]
        pointers = _pointers(kernel_weights)
        saved = _saved_buffer(library, h_rows, weights[3].shape[0]) if save else h_rows.new_empty(0)
        saved_pointer = _pointer_or_null(saved)

        def kernel(_part: int, first: int, last: int) -> int:
            library.marble_update_forward(
                first, last, *head, alpha, eps,
                h_rows.data_ptr(), mean.data_ptr(), bias_rows.data_ptr(), pointers,
                out.data_ptr(), saved_pointer,
            )  # fmt: skip
            return 0

        kernel_threads.run(kernel, kernel_threads.parts(rows))
        ctx.save_for_backward(h_rows, mean, bias_rows, saved, *weights)
        ctx.settings = (alpha, eps)
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        library = _library()
        assert library is not None
        h_rows, mean, bias_rows, saved, *weights = ctx.saved_tensors
        alpha, eps = ctx.settings
        grad_out = grad_out.contiguous()
        kernel_weights = _kernel_weights(tuple(weights))
        rows, size = h_rows.shape
        head = [bias_rows.numel(), size, weights[3].shape[0]]
        parts = kernel_threads.parts(rows)
        grad_h, grad_mean = torch.empty_like(h_rows), torch.empty_like(mean)
        # Each part sums its rows' parameter gradients into its own zeroed copies.
        sums = [bias_rows, *weights]
        per_part = [[torch.zeros_like(t) for t in sums] for _ in parts]
        part_pointers = [_pointers(grads) for grads in per_part]
        pointers = _pointers(kernel_weights)
        saved_pointer = _pointer_or_null(saved)

        def kernel(part: int, first: int, last: int) -> int:
            library.marble_update_backward(
                first, last, *head, alpha, eps,
                h_rows.data_ptr(), mean.data_ptr(), bias_rows.data_ptr(), pointers,
                grad_out.data_ptr(), grad_h.data_ptr(), grad_mean.data_ptr(),
                part_pointers[part], saved_pointer,
            )  # fmt: skip
            return 0

        kernel_threads.run(kernel, parts)
        totals = [torch.stack(column).sum(0) for column in zip(*per_part, strict=True)]
        return (grad_h, grad_mean, totals[0], None, None, None, *totals[1:])
