"""The Mandelbrot seed that every brain starts from."""

from marble_graph.seed.mandelbrot import escape_counts, seed_brain_graph

__all__ = ["escape_counts", "seed_brain_graph"]
