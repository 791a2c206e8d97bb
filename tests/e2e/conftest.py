"""A real ``marble serve`` on loopback: a subprocess with its own temp home and a token."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from marble_graph.config import MarbleConfig, config_to_yaml
from tests.server.conftest import server_config

MARBLE = str(Path(sys.executable).with_name("marble"))
START_TIMEOUT_S = 60.0


@dataclass
class LiveServer:
    url: str
    token: str
    home: Path
    config: Path
    process: subprocess.Popen[str]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def marble(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the CLI against this server's home and config."""
        return subprocess.run(
            [MARBLE, "--home", str(self.home), "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve_marble(
    root: Path, scopes: tuple[str, ...] = ("admin",), marble_config: MarbleConfig | None = None
) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    """A real ``marble serve`` on a free loopback port with a fresh home under ``root``,
    configured by ``marble_config`` (default: the server tests' small config), and one
    token per scope (made with the CLI, as a user would). ``LiveServer.token`` is the
    first scope's."""
    home, config = root / "marble-data", root / "marble.yaml"
    config.write_text(config_to_yaml(marble_config or server_config()), encoding="utf-8")
    base = [MARBLE, "--home", str(home), "--config", str(config)]
    tokens = {}
    for scope in scopes:
        created = subprocess.run(
            [*base, "token", "create", f"{scope}-token", "--scopes", scope, "-f", "json"],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        tokens[scope] = json.loads(created.stdout)["token"]
    port, log_path = free_port(), root / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*base, "serve", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "MARBLE_DEV_MODE": "true"},
        )
        server = LiveServer(f"http://127.0.0.1:{port}", tokens[scopes[0]], home, config, process)
        try:
            _wait_ready(server, log_path)
            yield server, tokens
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover - only on a hung server
                process.kill()
                process.wait()


# One server for the module: starting ``marble serve`` (and the CLI that makes its
# token) costs a process start-up each; the tests use brain names and tokens of
# their own, so neither depends on what the other did.
@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serve_marble(tmp_path_factory.mktemp("e2e")) as (server, _):
        yield server


def _wait_ready(server: LiveServer, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            if httpx.get(server.url + "/ready", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not ready in {START_TIMEOUT_S}s:\n{log.read_text()}")
