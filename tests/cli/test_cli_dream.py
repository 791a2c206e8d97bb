"""``marble dream`` in-process: a new version from replay, bad cycles and empty buffers refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Marble, marble_in
from tests.cli.test_cli_train import SMALL


@pytest.fixture
def marble(tmp_path: Path) -> Marble:
    return marble_in(tmp_path, SMALL)


def test_dream_commits_a_version_and_refuses_bad_cycles(marble) -> None:  # type: ignore[no-untyped-def]
    assert marble("brain", "create", "wave", "--dataset", "sine").exit_code == 0
    nothing = marble("dream", "wave", "--cycles", "3")
    assert nothing.exit_code != 0 and "no experiences to replay" in nothing.stderr
    assert marble("train", "wave", "--dataset", "sine").exit_code == 0
    dreamt = marble("dream", "wave", "--cycles", "3", "-f", "json")
    assert dreamt.exit_code == 0, dreamt.output
    summary = json.loads(dreamt.stdout)
    assert (summary["state"], summary["version"], summary["cycles"]) == ("completed", 3, 3)
    out_of_range = marble("dream", "wave", "--cycles", "0")
    assert (
        out_of_range.exit_code == 2 and "cycles: expected 1..100000, got 0" in out_of_range.stderr
    )
