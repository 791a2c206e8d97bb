"""MARBLE's engine: brains persisted in a graph database, seeded from the Mandelbrot set.

The public surface is listed in ``__all__``; everything else is internal.
"""

# First, before any module loads torch: see _torch_environment's docstring.
import marble_graph._torch_environment  # noqa: F401

# isort: split
from marble_graph.brain_graph import BrainGraph, graph_hash
from marble_graph.config import MarbleConfig, load_config
from marble_graph.data_home import DataHome
from marble_graph.errors import (
    ConfigError,
    Conflict,
    MarbleError,
    NotFound,
    QueryRefused,
    StoreError,
    StoreLocked,
    ValidationFailed,
)
from marble_graph.notebook import Brain
from marble_graph.seed import seed_brain_graph
from marble_graph.service import BrainDetails, BrainInfo, BrainService
from marble_graph.version import __version__

__all__ = [
    "Brain",
    "BrainDetails",
    "BrainGraph",
    "BrainInfo",
    "BrainService",
    "ConfigError",
    "Conflict",
    "DataHome",
    "MarbleConfig",
    "MarbleError",
    "NotFound",
    "QueryRefused",
    "StoreError",
    "StoreLocked",
    "ValidationFailed",
    "__version__",
    "graph_hash",
    "load_config",
    "seed_brain_graph",
]
