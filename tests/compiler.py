"""Tests of the C kernels run where a C compiler is (marble_graph.model.c_library)."""

from __future__ import annotations

import pytest

from marble_graph.model.c_library import c_compiler

HAS_COMPILER = c_compiler() is not None


def needs_compiler(what: str) -> pytest.MarkDecorator:
    """Skip on a machine without a C compiler, where ``what`` cannot be built; with one,
    a kernel that fails to build fails its tests instead."""
    return pytest.mark.skipif(
        not HAS_COMPILER, reason=f"no C compiler: {what} cannot be built here"
    )
