"""One device resolution for training, evaluation, inference and the server.

``core.device`` (default ``auto``) is the one setting; a caller may pass an
explicit device (``marble train --device cuda``) that wins over it. ``auto``
means CUDA when this process can use it, else the CPU; asking for CUDA on a
machine without it is an error that says so, not a crash deep in torch.
"""

from __future__ import annotations

import torch

from marble_graph.config.brain_sections import DEVICE_PATTERN
from marble_graph.errors import ValidationFailed


def resolve_device(requested: str | torch.device | None, configured: str = "auto") -> torch.device:
    """The device to run on: ``requested`` when given, else ``configured`` (core.device)."""
    if isinstance(requested, torch.device):
        return requested
    name = requested or configured
    if not DEVICE_PATTERN.match(name):
        raise ValidationFailed(f"device {name!r}: expected auto, cpu, cuda or cuda:N")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValidationFailed(
                f"device {name!r}: this machine has no CUDA device torch can use"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValidationFailed(
                f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
    return device
