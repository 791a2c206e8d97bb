"""MARBLE's version (one place; the package and the records it writes read it)."""

__version__ = "0.1.0"
