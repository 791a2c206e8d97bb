"""Lobes: k-means groups of neurons whose attention steers per-lobe learning rates.

k-means on the neuron states groups neurons into lobes; a lobe's attention is
the EMA of its members' gradient magnitudes; lobes whose attention falls in the
weakest quantile get a learning-rate boost so that neglected regions of the
brain keep learning (docs/model.md, Lobes). Everything is tensor ops on the
device of the inputs; the only loops run over k-means iterations and over the
k centroids of the k-means++ initialisation.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "kmeans_lobes",
    "lobe_boost",
    "lobe_gradient_magnitude",
    "update_lobe_attention",
]


def kmeans_lobes(state: Tensor, count: int, iterations: int, generator: torch.Generator) -> Tensor:
    """[N] int64 lobe of each neuron, 0..k-1 with ``k = min(count, N)``.

    k-means++ initialisation drawn from ``generator`` (which must live on the
    device of ``state``), then up to ``iterations`` Lloyd steps; a cluster that
    loses all its members keeps its previous centroid. Same seed, same lobes.
    """
    points = state.detach().to(torch.float32)  # [N, R]
    num_points = int(points.shape[0])
    k = min(count, num_points)
    if k <= 0:
        return torch.zeros(num_points, dtype=torch.long, device=state.device)

    centroids = _kmeans_plus_plus(points, k, generator)  # [k, R]
    assignment = _nearest(points, centroids)  # [N]
    for _ in range(iterations):
        sums = torch.zeros_like(centroids).index_add_(0, assignment, points)  # [k, R]
        members = torch.bincount(assignment, minlength=k)  # [k]
        means = sums / members.clamp_min(1).unsqueeze(1).to(points.dtype)
        centroids = torch.where((members > 0).unsqueeze(1), means, centroids)
        updated = _nearest(points, centroids)
        # Converged: more iterations would reproduce the same assignment.
        if torch.equal(updated, assignment):
            break
        assignment = updated
    return assignment


def _kmeans_plus_plus(points: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """[k, R] initial centroids: each next one drawn with probability ~ squared distance."""
    num_points = int(points.shape[0])
    device = points.device
    first = torch.randint(num_points, (1,), generator=generator, device=device)
    chosen = [first]
    closest = _squared_distance(points, points[first])  # [N] to the nearest chosen centroid
    for _ in range(k - 1):
        # All remaining points coincide with a centroid: any of them is as good as another.
        weights = torch.where(closest.sum() > 0, closest, torch.ones_like(closest))
        pick = torch.multinomial(weights, 1, generator=generator)  # [1]
        chosen.append(pick)
        closest = torch.minimum(closest, _squared_distance(points, points[pick]))
    return points[torch.cat(chosen)].clone()


def _squared_distance(points: Tensor, centre: Tensor) -> Tensor:
    """[N] squared distance of every point to ``centre`` ([1, R])."""
    return ((points - centre) ** 2).sum(dim=1)


def _nearest(points: Tensor, centroids: Tensor) -> Tensor:
    """[N] index of the nearest centroid (first one on ties)."""
    return torch.cdist(points, centroids).argmin(dim=1)


def lobe_gradient_magnitude(
    neuron_grad: Tensor | None, neuron_lobe: Tensor, num_lobes: int
) -> Tensor:
    """[L] mean L2 norm of the members' gradient rows; 0 for empty lobes or no gradient."""
    device = neuron_lobe.device
    magnitude = torch.zeros(num_lobes, dtype=torch.float32, device=device)
    if neuron_grad is None or num_lobes == 0:
        return magnitude
    norms = neuron_grad.detach().to(torch.float32).norm(dim=1)  # [N]
    member = neuron_lobe >= 0  # [N]; -1 means "in no lobe"
    lobe = neuron_lobe[member]
    magnitude.index_add_(0, lobe, norms[member])
    members = torch.bincount(lobe, minlength=num_lobes)  # [L]
    return magnitude / members.clamp_min(1).to(magnitude.dtype)


def update_lobe_attention(attention: Tensor, magnitude: Tensor, ema: float) -> Tensor:
    """[L] exponential moving average ``attention * ema + magnitude * (1 - ema)``."""
    return attention * ema + magnitude * (1.0 - ema)


def lobe_boost(attention: Tensor, neuron_lobe: Tensor, quantile: float, boost: float) -> Tensor:
    """[N] float32 learning-rate multiplier: ``boost`` in weak lobes, 1.0 elsewhere.

    A lobe is weak when its attention is <= the ``quantile`` of all lobe
    attentions; neurons in no lobe (-1) are never boosted.
    """
    multiplier = torch.ones(neuron_lobe.shape, dtype=torch.float32, device=neuron_lobe.device)
    if attention.numel() == 0:
        return multiplier
    scores = attention.detach().to(torch.float32)  # [L]
    weak = scores <= torch.quantile(scores, quantile)  # [L]
    member = neuron_lobe >= 0
    boosted = member & weak[neuron_lobe.clamp_min(0)]  # [N]
    return multiplier.masked_fill_(boosted, boost)
