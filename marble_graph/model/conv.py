"""``MarbleConv``: one round of MARBLE message passing (docs/learning.md, the forward pass).

Per edge e = s -> t with effective weight w_e::

    m_e   = w_e * V h_s
    a_e   = softmax over t's incoming edges of (q(h_t) . k(h_s)) / (sqrt(R) * temperature)
    agg_t = sum_e a_e m_e
    g_t   = 1 - exp(-|agg_t|)
    h_t  <- alpha h_t + (1 - alpha) (g_t act(MLP(LN(agg_t)) + b_t) + (1 - g_t) h_t)

States are batch-major, h is [B*N, R] (example b's neuron n at row b*N + n),
and the edge work is two sparse products over the synapse matrix
(``SynapseMatrix``): the attention scores are a sampled product of queries
and keys, and the weighted sum is a sparse-times-dense product. Neither
writes a per-edge message, so a round costs about what one pass over the
edges' coefficients costs, not E x B x R floats.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from marble_graph.model.synapse_matrix import SynapseMatrix

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
}


class MarbleConv(nn.Module):
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
        super().__init__()
        hidden = hidden or 2 * size
        self.size = size
        self.alpha = alpha
        self.scale = 1.0 / (math.sqrt(size) * temperature)
        # Narrow queries and keys: scoring an edge reads attention_size floats per
        # example instead of R.
        self.query = nn.Linear(size, attention_size, bias=False)
        self.key = nn.Linear(size, attention_size, bias=False)
        self.value = nn.Linear(size, size, bias=False)
        self.norm = nn.LayerNorm(size)
        self.mlp = nn.Sequential(
            nn.Linear(size, hidden), ACTIVATIONS[activation](), nn.Linear(hidden, size)
        )
        self.act = ACTIVATIONS[activation]()
        self.activation = activation
        # An orthogonal V with gain 2 makes |agg| larger than |h| at the start, so
        # the gate 1 - exp(-|agg|) opens and inputs reach the outputs from the
        # first step (with a small V the gates stay shut and training stalls).
        nn.init.orthogonal_(self.value.weight, gain=2.0)

    def _queries_and_keys(self, h_rows: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """Queries of the updated rows [B*U, A] (scaled by 1 / (sqrt(R) T)), keys [B*N, A].

        The scale goes on the query weights, not on the [B*E] scores. The sampled
        product pads A to its fast width itself (SynapseMatrix._sampled).
        """
        return F.linear(h_rows, self.query.weight * self.scale), self.key(h)

    def _update(self, normed: Tensor, bias: Tensor) -> Tensor:  # [B, U, R]
        """act(MLP(normed) + b_t), for ``normed`` = LN(agg) [B, U, R] and ``bias`` [U]."""
        first, second = cast(nn.Linear, self.mlp[0]), cast(nn.Linear, self.mlp[2])
        if self.activation != "tanh":
            return self.act(self.mlp(normed) + bias.view(1, -1, 1))
        # tanh(z) = 2 sigmoid(2z) - 1, and PyTorch's CPU tanh costs about four
        # sigmoids. The factors fold into the linear maps around each activation
        # (2 W1, 2 b1; then 4 W2, 2 (b2 - W2 1)), so the function and its gradients
        # are the same and the [B, U, hidden] tensor gets one cheap pass.
        half_open = torch.sigmoid(F.linear(normed, 2 * first.weight, 2 * first.bias))
        doubled = F.linear(half_open, 4 * second.weight, 2 * (second.bias - second.weight.sum(1)))
        return torch.sigmoid(doubled + 2 * bias.view(1, -1, 1)).mul(2).sub_(1)

    def forward(
        self,
        h: Tensor,  # [B*N, R]
        synapses: SynapseMatrix,
        edge_weight: Tensor,  # [B*E'] effective weights, in the matrix's nonzero order
        bias: Tensor,  # [N]
    ) -> Tensor:  # [B*N, R]: the matrix's target neurons updated, every other row as it was
        everyone = synapses.rows == h.shape[0]
        h_rows = h if everyone else h.index_select(0, synapses.target_rows)  # [B*U, R]
        score = synapses.sampled_dot(*self._queries_and_keys(h_rows, h))  # [B*E']
        # The softmax's normaliser is per target, so it divides the sum once per
        # neuron instead of once per edge; V is linear, so it moves off the edges:
        # sum_e a_e w_e V h_s = V (sum_e exp_e w_e h_s) / sum_e exp_e.
        unnormalised = torch.exp(score - synapses.row_max(score).index_select(0, synapses.row))
        total = synapses.row_sum(unnormalised).clamp_min(torch.finfo(h.dtype).tiny)  # [B*U]
        summed = synapses.matmul(unnormalised * edge_weight, h)  # [B*U, R]
        agg = self.value(summed / total.unsqueeze(-1))  # [B*U, R]
        normed = self.norm(agg).view(synapses.batch, -1, self.size)  # [B, U, R]
        update = self._update(normed, bias.index_select(0, synapses.targets)).view_as(agg)
        # alpha h + (1 - alpha)(g u + (1 - g) h) = h + (1 - alpha) g (u - h), with
        # g = 1 - exp(-|agg|) = -expm1(-|agg|): five passes over [B*U, R] instead of eleven.
        closed = torch.expm1(-agg.abs())  # -g
        new_rows = torch.addcmul(h_rows, closed, update - h_rows, value=-(1.0 - self.alpha))
        return new_rows if everyone else h.index_copy(0, synapses.target_rows, new_rows)
