"""An exponential moving average of the model's parameters (Polyak averaging).

The last steps of a run jitter around a minimum; their average generalises
better and moves less between epochs than the final iterate. Evaluation,
inference after training and the written-back version all use the average.
With ``decay = 0`` the average is the current parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn


class ParameterAverage:
    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model = model
        self.decay = decay
        self.updates = 0
        self.shadow: dict[str, Tensor] = {}
        self.reset()

    def reset(self) -> None:
        """Restart the average at the current parameters (after the structure changes)."""
        self.updates = 0
        self.shadow = {n: p.detach().clone() for n, p in self.model.named_parameters()}

    @torch.no_grad()
    def update(self) -> None:
        if self.decay <= 0:
            return
        self.updates += 1
        # Warm-up: early on the average must not be dominated by the initial values.
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for name, param in self.model.named_parameters():
            self.shadow[name].mul_(decay).add_(param.detach(), alpha=1 - decay)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Within the block the model holds the averaged parameters."""
        if self.decay <= 0:
            yield
            return
        params = dict(self.model.named_parameters())
        saved = {n: p.detach().clone() for n, p in params.items()}
        with torch.no_grad():
            for name, param in params.items():
                param.copy_(self.shadow[name])
        try:
            yield
        finally:
            with torch.no_grad():
                for name, param in params.items():
                    param.copy_(saved[name])
