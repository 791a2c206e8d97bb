"""What a brain is trained to do: the loss and the evaluation metric for a task."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from marble_graph.datasets import Dataset
from marble_graph.errors import ValidationFailed

_DEFAULT_LOSS = {"classification": "cross_entropy", "binary": "bce", "regression": "mse"}
_ALLOWED = {
    "classification": {"cross_entropy"},
    "binary": {"bce", "mse"},
    "regression": {"mse"},
}


@dataclass(frozen=True)
class Objective:
    task: str
    loss_name: str

    @classmethod
    def for_task(cls, task: str, configured_loss: str = "auto") -> Objective:
        """Pick the loss for ``task``; refuse a configured loss that cannot fit it."""
        loss = _DEFAULT_LOSS[task] if configured_loss == "auto" else configured_loss
        if loss not in _ALLOWED[task]:
            allowed = ", ".join(sorted(_ALLOWED[task]))
            raise ValidationFailed(
                f"learning.loss = {configured_loss!r} does not fit a {task} dataset "
                f"(use auto or one of: {allowed})"
            )
        return cls(task=task, loss_name=loss)

    def targets(self, dataset: Dataset, device: torch.device | str) -> Tensor:
        """Targets as tensors: class indices [n] or values [n, k]."""
        return torch.from_numpy(dataset.targets).to(device)

    def loss(self, outputs: Tensor, targets: Tensor, label_smoothing: float = 0.0) -> Tensor:
        if self.loss_name == "cross_entropy":
            return F.cross_entropy(outputs, targets, label_smoothing=label_smoothing)
        if self.loss_name == "bce":
            return F.binary_cross_entropy_with_logits(outputs, targets)
        return F.mse_loss(outputs, targets)

    @torch.no_grad()
    def evaluate(self, outputs: Tensor, targets: Tensor) -> dict[str, float]:
        """Loss plus accuracy (classification, binary) or MSE (regression)."""
        if outputs.shape[0] == 0:
            return {}
        metrics = {"loss": float(self.loss(outputs, targets))}
        if self.task == "classification":
            metrics["accuracy"] = float((outputs.argmax(dim=1) == targets).float().mean())
        elif self.task == "binary":
            metrics["accuracy"] = float(((outputs > 0).float() == targets).float().mean())
        else:
            metrics["mse"] = float(F.mse_loss(outputs, targets))
        return metrics
