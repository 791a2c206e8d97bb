"""Why LadybugDB is the default engine: the reproduction in bench/engine_rollback.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _reproduce(engine: str) -> dict[str, int]:
    child = subprocess.run(
        [sys.executable, "bench/engine_rollback.py", "--engine", engine],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    result: dict[str, int] = json.loads(child.stdout)
    return result


def test_kuzu_loses_committed_synapses_when_a_relationship_copy_rolls_back() -> None:
    result = _reproduce("kuzu")
    assert result["committed_before"] > 0
    assert result["lost"] == result["committed_before"]


def test_ladybug_keeps_committed_synapses_when_a_relationship_copy_rolls_back() -> None:
    result = _reproduce("ladybug")
    assert result["committed_before"] > 0
    assert result["lost"] == 0
