"""Every name a benchmark imports from MARBLE exists (bench/ is not type-checked).

Benchmarks import inside functions too (each size of bench/scale.py runs in a
fresh process), so this walks every ``import`` statement of every script
rather than importing the modules: a moved function fails here, not in the
middle of a long benchmark run.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(BENCH.glob("*.py"))


def _our_imports(script: Path) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(script.read_text(), str(script))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("marble"):
            found += [(node.module or "", alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name, None) for a in node.names if a.name.startswith("marble")]
    return found


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_every_marble_name_a_benchmark_imports_exists(script: Path) -> None:
    for module_name, name in _our_imports(script):
        module = importlib.import_module(module_name)
        if name is not None and not hasattr(module, name):
            importlib.import_module(f"{module_name}.{name}")  # a submodule, or ImportError
