"""``MarbleConv``: one round of MARBLE message passing (MARBLE_MODEL.md, B2).

Per edge e = s -> t with effective weight w_e::

    m_e   = w_e * V h_s
    a_e   = softmax over t's incoming edges of (q(h_t) . k(h_s)) / (sqrt(R) * temperature)
    agg_t = sum_e a_e m_e
    g_t   = 1 - exp(-|agg_t|)
    h_t  <- alpha h_t + (1 - alpha) (g_t act(MLP(LN(agg_t)) + b_t) + (1 - g_t) h_t)

States are node-major, h is [N, B, R]: the graph is shared by the batch, so
each gather or scatter moves one contiguous B x R block per edge and serves
every example at once.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
}


class MarbleConv(MessagePassing):
    """Attention-weighted, gated message passing with synapse weights on the edges."""

    def __init__(
        self,
        size: int,
        alpha: float = 0.5,
        temperature: float = 1.0,
        activation: str = "tanh",
        hidden: int | None = None,
        attention_size: int = 4,
    ) -> None:
        super().__init__(aggr="add", node_dim=0)
        hidden = hidden or 2 * size
        self.size = size
        self.alpha = alpha
        self.scale = 1.0 / (math.sqrt(size) * temperature)
        # Narrow queries and keys: scoring an edge then gathers attention_size
        # floats per example instead of R, which is most of a round's edge work.
        self.query = nn.Linear(size, attention_size, bias=False)
        self.key = nn.Linear(size, attention_size, bias=False)
        self.value = nn.Linear(size, size, bias=False)
        self.norm = nn.LayerNorm(size)
        self.mlp = nn.Sequential(
            nn.Linear(size, hidden), ACTIVATIONS[activation](), nn.Linear(hidden, size)
        )
        self.act = ACTIVATIONS[activation]()
        # An orthogonal V with gain 2 makes |agg| larger than |h| at the start, so
        # the gate 1 - exp(-|agg|) opens and inputs reach the outputs from the
        # first step (with a small V the gates stay shut and training stalls).
        nn.init.orthogonal_(self.value.weight, gain=2.0)

    def forward(
        self,
        h: Tensor,  # [N, B, R]
        edge_index: Tensor,  # [2, E]
        edge_weight: Tensor,  # [E] effective weights
        bias: Tensor,  # [N]
        active: Tensor | None = None,  # [N] bool; inactive neurons keep their state
    ) -> Tensor:
        # Attention per edge is an edge update (as in GATConv); the weighted sum of
        # source states runs as one fused gather-scale-scatter. V is linear, so it
        # moves off the edges: sum_e a_e w_e V h_s = V (sum_e a_e w_e h_s).
        attention = self.edge_updater(edge_index, q=self.query(h), k=self.key(h))  # [E, B]
        coefficient = attention * edge_weight.unsqueeze(-1)  # [E, B]
        agg = self.value(weighted_sum(h, coefficient, edge_index, h.shape[0]))  # [N, B, R]
        gate = 1.0 - torch.exp(-agg.abs())
        update = self.act(self.mlp(self.norm(agg)) + bias.view(-1, 1, 1))
        new = self.alpha * h + (1.0 - self.alpha) * (gate * update + (1.0 - gate) * h)
        if active is not None:
            new = torch.where(active.view(-1, 1, 1), new, h)
        return new

    def edge_update(
        self,
        q_i: Tensor,  # [E, B, A] query of the target
        k_j: Tensor,  # [E, B, A] key of the source
        index: Tensor,  # [E] target of each edge
        size_i: int | None,
    ) -> Tensor:  # [E, B]
        score = torch.einsum("eba,eba->eb", q_i, k_j) * self.scale  # q(h_t) . k(h_s) / (sqrt(R) T)
        return edge_softmax(score, index, size_i)  # over each target's in-edges


class _WeightedSum(torch.autograd.Function):
    """out[t] = sum over edges e = s -> t of c[e] * h[s], with hand-written backward.

    Large fresh tensors are the main cost on a CPU (allocation and page
    faults), so the backward reuses its gathered buffer in place and
    recomputes the source gather instead of keeping an [E, B, R] copy alive.
    """

    @staticmethod
    def forward(
        ctx: Any, h: Tensor, coefficient: Tensor, src: Tensor, dst: Tensor, num_nodes: int
    ) -> Tensor:
        messages = h.index_select(0, src)  # [E, B, R]
        messages.mul_(coefficient.unsqueeze(-1))
        ctx.save_for_backward(h, coefficient, src, dst)
        return h.new_zeros((num_nodes, *h.shape[1:])).index_add_(0, dst, messages)

    @staticmethod
    def backward(
        ctx: Any, grad_out: Tensor
    ) -> tuple[Tensor | None, Tensor | None, None, None, None]:
        h, coefficient, src, dst = ctx.saved_tensors
        grad = grad_out.index_select(0, dst)  # [E, B, R]
        grad_coefficient = None
        if ctx.needs_input_grad[1]:
            grad_coefficient = torch.einsum("ebr,ebr->eb", grad, h.index_select(0, src))
        grad_h = None
        if ctx.needs_input_grad[0]:
            grad.mul_(coefficient.unsqueeze(-1))
            grad_h = torch.zeros_like(h).index_add_(0, src, grad)
        return grad_h, grad_coefficient, None, None, None


def weighted_sum(h: Tensor, coefficient: Tensor, edge_index: Tensor, num_nodes: int) -> Tensor:
    """[N, B, R]: for each target, the sum of its sources' states times the edge coefficient."""
    return _WeightedSum.apply(h, coefficient, edge_index[0], edge_index[1], num_nodes)


def edge_softmax(score: Tensor, index: Tensor, num_nodes: int | None) -> Tensor:
    """Softmax of ``score`` [E, B] over the edges that share a target in ``index`` [E].

    Sums use row-wise ``index_add_`` on the node dimension, which moves whole
    batch rows instead of broadcasting the index to every element.
    """
    size = num_nodes if num_nodes is not None else int(index.max()) + 1
    peak = score.new_full((size, score.shape[1]), float("-inf"))
    # Only a shift for numerical safety, so it needs no gradient.
    peak.scatter_reduce_(0, index.unsqueeze(1).expand_as(score), score.detach(), "amax")
    shifted = (score - peak.index_select(0, index)).exp()
    total = shifted.new_zeros((size, score.shape[1])).index_add_(0, index, shifted)
    return shifted / total.index_select(0, index)
