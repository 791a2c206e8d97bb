"""The in-process ``marble`` command with a home and a small config in a temp dir."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from marble_graph.cli.app import app

Marble = Callable[..., Result]
runner = CliRunner()
# The server tests' 6x6 sine brain: small, and it learns in one epoch.
SIX_BY_SIX = (
    "seed:\n  width: 6\n  height: 6\n  output_fanin: 16\n  random_seed: 7\n"
    "learning:\n  epochs: 1\ndataset:\n  stratify: false\nlogging:\n  level: WARNING\n"
)


def marble_in(tmp_path: Path, config_text: str) -> Marble:
    """Run ``marble`` with ``--home`` and ``--config`` under ``tmp_path``."""
    config = tmp_path / "small.yaml"
    config.write_text(config_text)

    def invoke(*args: str) -> Result:
        return runner.invoke(
            app, ["--home", str(tmp_path / "home"), "--config", str(config), *args]
        )

    return invoke


@pytest.fixture
def marble(tmp_path: Path) -> Marble:
    return marble_in(tmp_path, SIX_BY_SIX)


def json_of(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
