"""Every Python example of the client README runs, in order, against a fresh live server.

The blocks share one namespace (like a reader's session) in a fresh interpreter, with
``MARBLE_URL`` and ``MARBLE_TOKEN`` pointing at a real ``marble serve`` on loopback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.client.conftest import serve_marble

README = Path(__file__).resolve().parents[2] / "clients" / "python" / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)

RUNNER = """
import json, sys
namespace = {"__name__": "__main__"}
for line, code in json.load(sys.stdin):
    print(f"--- README.md:{line}", flush=True)
    exec(compile(code, f"README.md:{line}", "exec"), namespace)
"""


def python_examples(text: str) -> list[tuple[int, str]]:
    """(line number, code) of each ```python block."""
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in BLOCK.finditer(text)]


def test_every_readme_example_runs_against_a_live_server(tmp_path: Path) -> None:
    examples = python_examples(README.read_text(encoding="utf-8"))
    assert len(examples) >= 10
    with serve_marble(tmp_path) as (server, tokens):
        env = {**os.environ, "MARBLE_URL": server.url, "MARBLE_TOKEN": tokens["admin"]}
        done = subprocess.run(
            [sys.executable, "-c", RUNNER],
            input=json.dumps(examples),
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    out = done.stdout
    assert out.count("--- README.md:") == len(examples)
    assert "wave 1 {" in out  # the created brain
    assert "cancelled" in out and "404 unknown brain 'no-such-brain'" in out
    assert "input width mismatch" in out and "QUERY_REFUSED" in out
    assert "True" in out  # the idempotent replay
    assert "100%" in done.stderr  # the progress bar
