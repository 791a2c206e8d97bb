"""A brain as tensors on a device, and the conversions to and from the stores."""

from marble_graph.tensors.brain_tensors import BrainTensors

__all__ = ["BrainTensors"]
