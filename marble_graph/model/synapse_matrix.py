"""A brain's synapses as one sparse matrix per batch, and the products over it.

Message passing sums, for each target neuron t, a per-example coefficient
times each source's state: ``out[b, t] = sum over s -> t of c[b, e] h[b, s]``.
Done with a gather and a scatter, that materialises every edge's message
([E, B, R] floats, the main cost of a round). Seen as a matrix, it is a
sparse-times-dense product: one sparse matrix per example (nonzeros where
the synapses are, values the coefficients), laid out block-diagonally so the
whole batch is one CSR matrix ``[B*U, B*N]`` (U target rows per example, N
columns) with ``B*E`` nonzeros against the batch-major states ``[B*N, R]``.
The library kernels (MKL on a CPU, cuSPARSE on CUDA) walk each target's row
without writing any per-edge message, and the backward pass is the same two
products again:

    out    = A(c) @ h              (sparse x dense)
    dL/dh  = A(c)^T @ dL/dout      (the transposed structure)
    dL/dc  = (dL/dout @ h^T) sampled at A's nonzeros   (sampled dense x dense)

Attention scores ``q[b, t] . k[b, s]`` are such a sampled product too.

Nonzeros are kept in row order (by target, then source); ``edge_order``
maps that order back to the caller's edge ids.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

# PyTorch flags every CSR construction as beta; the operations used here
# (mm, sampled_addmm) are the stable core of it, so the warning is noise.
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
# Our matrices are valid by construction (SynapseMatrix.build), so the
# invariant checks stay off, PyTorch's default; it asks to be told so, which
# the TorchScript forward cannot do (its constructor takes no check_invariants).
warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")


@dataclass(frozen=True)
class SynapseMatrix:
    """The block-diagonal CSR structure of ``batch`` copies of one graph.

    Rows are the *targets* whose sums are wanted (all neurons, or a subset:
    a round of message passing only needs the neurons that can still reach
    an output), columns are all neurons: the matrix is ``[B*U, B*N]``.
    """

    num_nodes: int  # N: columns per block
    batch: int  # B
    targets: Tensor  # [U] neuron of each row of a block, ascending
    target_rows: Tensor  # [B*U] row of h (b*N + target) of each matrix row
    edge_order: Tensor  # [E'] caller's edge id of each nonzero of one block, in row order
    crow: Tensor  # [B*U + 1] row offsets
    col: Tensor  # [B*E'] source row (b*N + s) of each nonzero
    row: Tensor  # [B*E'] matrix row (b*U + u) of each nonzero
    crow_t: Tensor  # [B*N + 1] row offsets of the transpose
    col_t: Tensor  # [B*E'] column of each nonzero of the transpose (a matrix row)
    to_transpose: Tensor  # [B*E'] nonzero of A stored at each position of A^T
    # One block's structure, which every example shares (the fused attention
    # kernel walks it once per example): row offsets and source neurons.
    block_crow: Tensor  # [U + 1] int64
    block_col: Tensor  # [E'] int32
    _placeholders: dict[torch.dtype, Tensor] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def build(
        cls,
        edge_index: Tensor,
        num_nodes: int,
        batch: int,
        targets: Tensor | None = None,
        edge_ids: Tensor | None = None,
    ) -> SynapseMatrix:
        """Structure for ``edge_index`` [2, E] (source, target) repeated over ``batch`` examples.

        ``targets`` (ascending neuron ids, default all) picks the rows; edges
        into other neurons are left out. ``edge_ids`` [E] names the edges for
        ``block_values`` when ``edge_index`` is a selection of the caller's edges.
        """
        src, dst = edge_index[0].long(), edge_index[1].long()
        device = src.device
        if targets is None:
            targets = torch.arange(num_nodes, device=device)
        units = targets.numel()
        position = torch.full((num_nodes,), -1, dtype=torch.long, device=device)
        position[targets] = torch.arange(units, device=device)
        unit = position[dst]
        kept = (unit >= 0).nonzero().squeeze(1)
        order = kept[torch.argsort(unit[kept] * num_nodes + src[kept])]  # row order in a block
        block_src, block_unit = src[order], unit[order]
        count = order.numel()
        examples = torch.arange(batch, device=device).unsqueeze(1)  # [B, 1]
        row = (block_unit.unsqueeze(0) + examples * units).reshape(-1)  # [B*E']
        col = (block_src.unsqueeze(0) + examples * num_nodes).reshape(-1)
        transpose_block = torch.argsort(block_src * units + block_unit)  # [E']
        to_transpose = (transpose_block.unsqueeze(0) + examples * count).reshape(-1)
        # 32-bit indices where they fit: half the memory, and MKL's sparse
        # kernels take them as they are (64-bit ones are converted on every call,
        # which made the products about 1.7 times slower).
        index = torch.int32 if max(batch * num_nodes, batch * count) < 2**31 else torch.long
        return cls(
            num_nodes=num_nodes,
            batch=batch,
            targets=targets,
            target_rows=(targets.unsqueeze(0) + examples * num_nodes).reshape(-1),
            edge_order=order if edge_ids is None else edge_ids[order],
            crow=_row_offsets(row, batch * units).to(index),
            col=col.to(index),
            row=row.to(index),
            crow_t=_row_offsets(col[to_transpose], batch * num_nodes).to(index),
            col_t=row[to_transpose].to(index),
            to_transpose=to_transpose.to(index),
            block_crow=_row_offsets(block_unit, units),
            block_col=block_src.to(torch.int32),
        )

    def prefix(self, batch: int) -> SynapseMatrix:
        """The structure of the first ``batch`` examples, as views of this one's tensors.

        Blocks are laid out example by example in both the matrix and its
        transpose, so the structure for fewer examples is a prefix of every
        index tensor: no sort, no copy. A model builds the structure once for
        its largest batch and slices it for every smaller one (a server sees
        every batch size from 1 to ``max_batch_size``; a training run its last,
        partial batch).
        """
        if not 1 <= batch <= self.batch:
            raise ValueError(f"a prefix takes 1 to {self.batch} examples, got {batch}")
        if batch == self.batch:
            return self
        units, nonzeros = self.targets.numel(), self.edge_order.numel()
        return SynapseMatrix(
            num_nodes=self.num_nodes,
            batch=batch,
            targets=self.targets,
            target_rows=self.target_rows[: batch * units],
            edge_order=self.edge_order,
            crow=self.crow[: batch * units + 1],
            col=self.col[: batch * nonzeros],
            row=self.row[: batch * nonzeros],
            crow_t=self.crow_t[: batch * self.num_nodes + 1],
            col_t=self.col_t[: batch * nonzeros],
            to_transpose=self.to_transpose[: batch * nonzeros],
            block_crow=self.block_crow,
            block_col=self.block_col,
            _placeholders={
                dtype: zeros[: batch * nonzeros] for dtype, zeros in self._placeholders.items()
            },
        )

    @property
    def rows(self) -> int:
        return int(self.target_rows.numel())

    @property
    def columns(self) -> int:
        return self.batch * self.num_nodes

    def block_values(self, per_edge: Tensor) -> Tensor:
        """[E] values in the caller's edge order -> [E'] in one block's nonzero order."""
        return per_edge.index_select(0, self.edge_order)

    # -- differentiable products ---------------------------------------------------------

    def matmul(self, values: Tensor, dense: Tensor) -> Tensor:
        """[B*U, D]: A(values) @ dense, for ``values`` [B*E'] in nonzero order, dense [B*N, D]."""
        return _SparseTimesDense.apply(values, dense, self)

    def sampled_dot(self, left: Tensor, right: Tensor) -> Tensor:
        """[B*E']: left[row] . right[source] per nonzero (left [B*U, D], right [B*N, D])."""
        return _SampledDot.apply(left, right, self)

    def softmax_terms(self, score: Tensor) -> tuple[Tensor, Tensor]:
        """(exp(score - row max) [B*E'], each row's sum of them [B*U]): see ``softmax_terms``."""
        return softmax_terms(score, self.crow, self.row, self.rows, torch.finfo(score.dtype).tiny)

    # -- raw products (no autograd) ------------------------------------------------------

    def _times(self, values: Tensor, dense: Tensor) -> Tensor:
        return sparse_times_dense(self.crow, self.col, values, self.rows, self.columns, dense)

    def _transposed_times(self, values: Tensor, dense: Tensor) -> Tensor:
        flipped = values.index_select(0, self.to_transpose)
        return sparse_times_dense(self.crow_t, self.col_t, flipped, self.columns, self.rows, dense)

    def _sampled(self, left: Tensor, right: Tensor) -> Tensor:
        placeholder = self._zeros(left.dtype)
        return sampled_dot(self.crow, self.col, placeholder, self.rows, self.columns, left, right)

    def _zeros(self, dtype: torch.dtype) -> Tensor:
        """Placeholder values of the sampling pattern (beta=0: never read), made once."""
        if dtype not in self._placeholders:
            self._placeholders[dtype] = self.col.new_zeros(self.col.numel(), dtype=dtype)
        return self._placeholders[dtype]


# The products and the softmax over a matrix's rows, as plain functions of its
# index tensors: the autograd Functions below and the TorchScript inference
# forward (scripted_forward.py) both call these, so the two compute the same
# thing with the same kernels. TorchScript reads their annotations: no
# keyword-only tensor options (check_invariants keeps its default, off).


def sparse_times_dense(
    crow: Tensor, col: Tensor, values: Tensor, rows: int, columns: int, dense: Tensor
) -> Tensor:
    """[rows, D]: the CSR matrix (crow, col, values) of shape [rows, columns] times dense."""
    return torch.sparse.mm(torch.sparse_csr_tensor(crow, col, values, [rows, columns]), dense)


def sampled_dot(
    crow: Tensor,
    col: Tensor,
    placeholder: Tensor,
    rows: int,
    columns: int,
    left: Tensor,
    right: Tensor,
) -> Tensor:
    """[nnz]: left[row] . right[col] at each nonzero (``placeholder``: nnz values, unread)."""
    # The CPU kernel is several times slower on widths that are not a multiple
    # of 8 (4 is the default attention size); zero columns add nothing to a dot
    # product. (A literal: TorchScript reads no module-level numbers.)
    step, width = 8, left.shape[1]
    if width % step != 0:
        pad = [0, step - width % step]
        left, right = F.pad(left, pad), F.pad(right, pad)
    pattern = torch.sparse_csr_tensor(crow, col, placeholder, [rows, columns])
    return torch.sparse.sampled_addmm(pattern, left, right.t(), beta=0.0).values()


def softmax_terms(
    score: Tensor, crow: Tensor, row: Tensor, rows: int, tiny: float
) -> tuple[Tensor, Tensor]:
    """exp(score - its row's max) per nonzero, and each row's sum of them (at least ``tiny``).

    The max is a shift for safety, not differentiated; nonzeros are stored row
    by row, so it is a segmented reduction over crow's offsets (a row without
    nonzeros gets -inf, which nothing reads, and a sum of 0, clamped).
    """
    shift = torch.segment_reduce(score.detach(), "max", offsets=crow, unsafe=True)
    unnormalised = torch.exp(score - shift.index_select(0, row))
    total = score.new_zeros(rows).index_add(0, row, unnormalised)
    return unnormalised, total.clamp_min(tiny)


def _row_offsets(row: Tensor, rows: int) -> Tensor:
    offsets = torch.zeros(rows + 1, dtype=torch.long, device=row.device)
    torch.cumsum(torch.bincount(row, minlength=rows), 0, out=offsets[1:])
    return offsets


class _SparseTimesDense(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, values: Tensor, dense: Tensor, matrix: SynapseMatrix) -> Tensor:
        values, dense = values.contiguous(), dense.contiguous()
        ctx.save_for_backward(values, dense)
        ctx.matrix = matrix
        return matrix._times(values, dense)

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        values, dense = ctx.saved_tensors
        matrix: SynapseMatrix = ctx.matrix
        grad_out = grad_out.contiguous()
        grad_values = matrix._sampled(grad_out, dense) if ctx.needs_input_grad[0] else None
        grad_dense = None
        if ctx.needs_input_grad[1]:
            grad_dense = matrix._transposed_times(values, grad_out)
        return grad_values, grad_dense, None


class _SampledDot(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, left: Tensor, right: Tensor, matrix: SynapseMatrix) -> Tensor:
        left, right = left.contiguous(), right.contiguous()
        ctx.save_for_backward(left, right)
        ctx.matrix = matrix
        return matrix._sampled(left, right)

    @staticmethod
    def backward(ctx: Any, grad_values: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        left, right = ctx.saved_tensors
        matrix: SynapseMatrix = ctx.matrix
        grad_values = grad_values.contiguous()
        grad_left = grad_right = None
        if ctx.needs_input_grad[0]:
            grad_left = matrix._times(grad_values, right)
        if ctx.needs_input_grad[1]:
            grad_right = matrix._transposed_times(grad_values, left)
        return grad_left, grad_right, None
