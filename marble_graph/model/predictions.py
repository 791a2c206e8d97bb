"""What inference returns besides a brain's raw outputs: probabilities and labels."""

from __future__ import annotations

import torch
from torch import Tensor


def task_predictions(outputs: Tensor, task: str) -> dict[str, Tensor]:
    """Probabilities and labels of ``outputs`` [B, O] for ``task``; none for regression.

    A plain function of tensors: the TorchScript serving forward
    (scripted_forward.py) runs it too.
    """
    if task == "classification":
        return {"probabilities": outputs.softmax(dim=1), "label": outputs.argmax(dim=1)}
    if task == "binary":
        probability = torch.sigmoid(outputs)
        return {"probabilities": probability, "label": (probability > 0.5).long().squeeze(-1)}
    return {}


def join_predictions(
    parts: list[tuple[Tensor, dict[str, Tensor]]],
) -> tuple[Tensor, dict[str, Tensor]]:
    """The (outputs, predictions) of consecutive slices of rows, as one for all the rows."""
    outputs = torch.cat([part_outputs for part_outputs, _ in parts])
    return outputs, {key: torch.cat([extra[key] for _, extra in parts]) for key in parts[0][1]}
