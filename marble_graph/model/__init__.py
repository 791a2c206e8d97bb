"""The MARBLE forward pass: message passing over a brain's graph, and its readout."""

from marble_graph.model.brain_model import BrainModel
from marble_graph.model.conv import MarbleConv

__all__ = ["BrainModel", "MarbleConv"]
