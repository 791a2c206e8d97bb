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
        # V is linear, so it moves off the edges: sum_e a_e w_e V h_s = V (sum_e a_e w_e h_s).
        agg = self.value(
            self.propagate(edge_index, q=self.query(h), k=self.key(h), h=h, weight=edge_weight)
        )  # [N, B, R]
        gate = 1.0 - torch.exp(-agg.abs())
        update = self.act(self.mlp(self.norm(agg)) + bias.view(-1, 1, 1))
        new = self.alpha * h + (1.0 - self.alpha) * (gate * update + (1.0 - gate) * h)
        if active is not None:
            new = torch.where(active.view(-1, 1, 1), new, h)
        return new

    def aggregate(
        self,
        inputs: Tensor,  # [E, B, R]
        index: Tensor,  # [E]
        ptr: Tensor | None = None,
        dim_size: int | None = None,
    ) -> Tensor:  # [N, B, R]
        # index_add_ along the node dimension moves whole [B, R] rows; the generic
        # scatter would broadcast the index to every element first.
        size = dim_size if dim_size is not None else int(index.max()) + 1
        out = inputs.new_zeros((size, *inputs.shape[1:]))
        return out.index_add_(0, index, inputs)

    def message(
        self,
        q_i: Tensor,  # [E, B, A] query of the target
        k_j: Tensor,  # [E, B, A] key of the source
        h_j: Tensor,  # [E, B, R] state of the source
        weight: Tensor,  # [E]
        index: Tensor,  # [E] target of each edge
        size_i: int | None,
    ) -> Tensor:
        score = (q_i * k_j).sum(dim=-1) * self.scale  # [E, B] = q(h_t) . k(h_s) / (sqrt(R) T)
        attention = edge_softmax(score, index, size_i)  # over each target's in-edges
        return (attention * weight.unsqueeze(-1)).unsqueeze(-1) * h_j  # [E, B, R]


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
