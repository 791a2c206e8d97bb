"""``MarbleConv``: one round of MARBLE message passing (docs/model.md, the forward pass).

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
edges' coefficients costs, not E x B x R floats. Training on a CPU does the
attention and the weighted sum in one C kernel instead (``fused_attention``):
one pass over each target's synapses, nothing stored per edge.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from marble_graph.model.fused_attention import attention_mean, fused_attention_applies
from marble_graph.model.fused_update import fused_gated_update, fused_update_applies
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

    def query_weight(self) -> Tensor:
        """Query weights [A, R] scaled by 1 / (sqrt(R) T): the scale goes on the weights,
        not on the [B*E] scores."""
        return self.query.weight * self.scale

    def dense_weights(self) -> list[Tensor]:
        """The weights ``gated_update`` takes, in its order."""
        first, second = cast(nn.Linear, self.mlp[0]), cast(nn.Linear, self.mlp[2])
        return [
            self.value.weight,
            self.norm.weight,
            self.norm.bias,
            first.weight,
            first.bias,
            second.weight,
            second.bias,
        ]

    def forward(
        self,
        h: Tensor,  # [B*N, R]
        synapses: SynapseMatrix,
        effective: Tensor,  # [E] effective synapse weights, in the caller's edge order
        bias: Tensor,  # [N]
    ) -> Tensor:  # [B*N, R]: the matrix's target neurons updated, every other row as it was
        everyone = synapses.rows == h.shape[0]
        h_rows = h if everyone else h.index_select(0, synapses.target_rows)  # [B*U, R]
        # Narrow queries and keys [B*U, A], [B*N, A].
        queries, keys = F.linear(h_rows, self.query_weight()), self.key(h)
        weight = synapses.block_values(effective)  # [E']
        if fused_attention_applies(h, synapses):  # training on a CPU: one C kernel
            mean = attention_mean(queries, keys, h, weight, synapses)
        else:
            # The sampled product pads A to its fast width itself. The softmax's
            # normaliser is per target, so it divides the sum once per neuron
            # instead of once per edge.
            score = synapses.sampled_dot(queries, keys)
            unnormalised, total = synapses.softmax_terms(score)  # [B*E'], [B*U]
            summed = synapses.matmul(unnormalised * weight.repeat(synapses.batch), h)
            mean = summed / total.unsqueeze(-1)  # [B*U, R]
        bias_rows, weights = bias.index_select(0, synapses.targets), self.dense_weights()
        if fused_update_applies(h_rows, weights, self.activation):  # training on a CPU
            new_rows = fused_gated_update(
                h_rows, mean, bias_rows, weights, self.alpha, self.norm.eps
            )
        else:
            new_rows = gated_update(
                h_rows,
                mean,
                bias_rows,
                weights,
                synapses.batch,
                self.alpha,
                self.activation,
                self.norm.eps,
            )
        return new_rows if everyone else h.index_copy(0, synapses.target_rows, new_rows)


def gated_update(
    h_rows: Tensor,  # [B*U, R] the updated neurons' states
    mean: Tensor,  # [B*U, R] sum_e a_e w_e h_s per target (attention a_e sums to 1)
    bias_rows: Tensor,  # [U] the targets' biases
    weights: list[Tensor],  # MarbleConv.dense_weights(), in that order
    batch: int,
    alpha: float,
    activation: str,
    eps: float,
) -> Tensor:  # [B*U, R] the targets' new states
    """agg = V mean, then h + (1 - alpha) g (act(MLP(LN(agg)) + b) - h).

    A plain function of tensors, so the TorchScript inference forward
    (scripted_forward.py) runs exactly this code too.
    """
    value, norm_weight, norm_bias, first_weight, first_bias, second_weight, second_bias = weights
    agg = F.linear(mean, value)  # [B*U, R]
    size = agg.shape[-1]
    normed = F.layer_norm(agg, [size], norm_weight, norm_bias, eps).view(batch, -1, size)
    bias_rows = bias_rows.view(1, -1, 1)
    if activation == "tanh":
        # tanh(z) = 2 sigmoid(2z) - 1, and PyTorch's CPU tanh costs about four
        # sigmoids. The factors fold into the linear maps around each activation
        # (2 W1, 2 b1; then 4 W2, 2 (b2 - W2 1)), so the function and its gradients
        # are the same and the [B, U, hidden] tensor gets one cheap pass.
        half_open = torch.sigmoid(F.linear(normed, 2 * first_weight, 2 * first_bias))
        doubled = F.linear(half_open, 4 * second_weight, 2 * (second_bias - second_weight.sum(1)))
        update = torch.sigmoid(doubled + 2 * bias_rows).mul(2).sub_(1)
    else:
        hidden = _activate(F.linear(normed, first_weight, first_bias), activation)
        update = _activate(F.linear(hidden, second_weight, second_bias) + bias_rows, activation)
    update = update.view_as(agg)
    # alpha h + (1 - alpha)(g u + (1 - g) h) = h + (1 - alpha) g (u - h), with
    # g = 1 - exp(-|agg|) = -expm1(-|agg|): five passes over [B*U, R] instead of eleven.
    closed = torch.expm1(-agg.abs())  # -g
    return torch.addcmul(h_rows, closed, update - h_rows, value=-(1.0 - alpha))


def _activate(x: Tensor, activation: str) -> Tensor:
    """The activation named by core.activation (tanh is folded into sigmoids above)."""
    if activation == "relu":
        return torch.relu(x)
    if activation == "gelu":
        return F.gelu(x)
    if activation == "sigmoid":
        return torch.sigmoid(x)
    return torch.tanh(x)
