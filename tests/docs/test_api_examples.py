"""Every example of docs/api.md runs, in document order, against a real ``marble serve``.

```sh blocks run under ``bash -euo pipefail`` with ``MARBLE_URL`` and
``MARBLE_TOKEN`` (an admin token) set; ```graphql blocks are POSTed to
/graphql and must answer without errors. ```text and ```json blocks are
illustrations and are not run; any other fence tag fails the test, so an
example cannot drop out of the check by a typo in its tag.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import LiveServer, serve_marble

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
RUN = {"sh", "graphql"}
ILLUSTRATION = {"text", "json"}
# What the document holds today; deleting an example by accident fails the test.
MIN_SH_RUN = 6
MIN_GRAPHQL_RUN = 11
BLOCK_TIMEOUT_S = 120
_FENCE = re.compile(r"^```(\S*)\s*$")
_PLACEHOLDER_EXPORT = re.compile(r"^export (MARBLE_URL|MARBLE_TOKEN)=\S+(\s+#.*)?$")


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    line: int  # 1-based line of the opening fence

    def where(self) -> str:
        return f"docs/api.md:{self.line} ({self.lang})"


def fenced_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, in order."""
    blocks: list[Block] = []
    opened: tuple[str, int] | None = None
    body: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        fence = _FENCE.match(line)
        if opened is None:
            if fence:
                opened, body = (fence.group(1), number), []
        elif line.strip() == "```":
            blocks.append(Block(opened[0], "\n".join(body) + "\n", opened[1]))
            opened = None
        else:
            body.append(line)
    assert opened is None, f"docs/api.md:{opened[1]}: fence never closed"
    return blocks


def only_exports_placeholders(block: Block) -> bool:
    """The block that tells readers to set MARBLE_URL and MARBLE_TOKEN (placeholders)."""
    lines = [ln.strip() for ln in block.code.splitlines() if ln.strip()]
    return bool(lines) and all(_PLACEHOLDER_EXPORT.match(ln) for ln in lines)


@pytest.fixture(scope="module")
def doc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A fresh ``marble serve`` on loopback for the whole module (blocks share its state)."""
    with serve_marble(tmp_path_factory.mktemp("api-doc")) as (server, _):
        yield server


def test_document_has_only_known_fence_tags() -> None:
    blocks = fenced_blocks(API_DOC.read_text(encoding="utf-8"))
    unknown = [b.where() for b in blocks if b.lang not in RUN | ILLUSTRATION]
    assert not unknown, (
        f"untagged or unknown fences (tag them sh, graphql, text or json): {unknown}"
    )


def test_every_example_runs_in_order(doc_server: LiveServer) -> None:
    for tool in ("bash", "curl"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed; the documented examples need it")
    env = {
        **os.environ,
        "MARBLE_URL": doc_server.url,
        "MARBLE_TOKEN": doc_server.token,
        # python3 in the examples: the interpreter running the tests will do.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    ran = {"sh": 0, "graphql": 0}
    skipped_exports = 0
    blocks = fenced_blocks(API_DOC.read_text(encoding="utf-8"))
    with httpx.Client(base_url=doc_server.url, headers=doc_server.headers, timeout=60) as http:
        for block in blocks:
            if block.lang == "sh" and only_exports_placeholders(block):
                skipped_exports += 1  # the fixture sets both variables instead
            elif block.lang == "sh":
                _run_sh(block, env)
                ran["sh"] += 1
            elif block.lang == "graphql":
                _post_graphql(http, block)
                ran["graphql"] += 1
    assert skipped_exports == 1, "expected exactly one block exporting MARBLE_URL/MARBLE_TOKEN"
    assert ran["sh"] >= MIN_SH_RUN, ran
    assert ran["graphql"] >= MIN_GRAPHQL_RUN, ran


def _run_sh(block: Block, env: dict[str, str]) -> None:
    started = time.monotonic()
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.code],
        capture_output=True,
        text=True,
        env=env,
        timeout=BLOCK_TIMEOUT_S,
    )
    report = (
        f"{block.where()} exited {result.returncode} after {time.monotonic() - started:.1f}s\n"
        f"--- block\n{block.code}--- stdout\n{result.stdout[-4000:]}\n"
        f"--- stderr\n{result.stderr[-4000:]}"
    )
    assert result.returncode == 0, report
    if "/graphql" in block.code:
        # GraphQL answers its errors with HTTP 200, which curl -f lets through.
        body = json.loads(result.stdout)
        assert "errors" not in body and body.get("data") is not None, report


def _post_graphql(http: httpx.Client, block: Block) -> None:
    response = http.post("/graphql", json={"query": block.code})
    report = f"{block.where()} answered {response.status_code}\n{block.code}\n{response.text}"
    assert response.status_code == 200, report
    body = response.json()
    assert "errors" not in body, report
    data = body.get("data")
    assert data, report
    # A documented example asks for something that exists: no top-level field is null.
    assert all(value is not None for value in data.values()), report
