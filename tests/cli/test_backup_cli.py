"""``marble backup`` and ``marble restore``, in-process, against real homes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marble_graph.cli.app import app
from tests.cli.test_cli import TEST_CONFIG

runner = CliRunner()


@pytest.fixture
def marble(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run ``marble`` on the data home ``tmp_path/<home>`` with a small config."""
    config = tmp_path / "test.yaml"
    config.write_text(TEST_CONFIG)

    def invoke(home: str, *args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, ["--home", str(tmp_path / home), "--config", str(config), *args])

    return invoke


def _error_line(result) -> str:  # type: ignore[no-untyped-def]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return str(lines[0])


def test_backup_then_restore_gives_the_same_brains(marble, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert marble("a", "brain", "create", "b1").exit_code == 0
    assert marble("a", "brain", "create", "b2").exit_code == 0
    made = marble("a", "backup", str(tmp_path / "bk"), "-f", "json")
    assert made.exit_code == 0, made.output
    manifest = json.loads(made.stdout)
    assert [b["name"] for b in manifest["brains"]] == ["b1", "b2"]
    assert manifest["path"] == str(tmp_path / "bk") and manifest["bytes"] > 0
    restored = marble("b", "restore", str(tmp_path / "bk"))
    assert restored.exit_code == 0, restored.output
    assert "restored 2 brains (b1, b2)" in restored.stderr
    for name in ("b1", "b2"):
        original = marble("a", "brain", "hash", name).stdout
        assert marble("b", "brain", "hash", name).stdout == original
        assert original.strip() == next(
            b["graph_hash"] for b in manifest["brains"] if b["name"] == name
        )


def test_backup_refuses_a_non_empty_destination_in_one_line(marble, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marble("a", "brain", "create", "b1")
    (tmp_path / "bk").mkdir()
    (tmp_path / "bk" / "notes.txt").write_text("keep")
    refused = marble("a", "backup", str(tmp_path / "bk"))
    assert refused.exit_code == 1
    assert "is not empty" in _error_line(refused)
    assert [p.name for p in (tmp_path / "bk").iterdir()] == ["notes.txt"]


def test_restore_refuses_a_home_with_brains_and_a_missing_backup(marble, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marble("a", "brain", "create", "b1")
    assert marble("a", "backup", str(tmp_path / "bk")).exit_code == 0
    into_itself = marble("a", "restore", str(tmp_path / "bk"))
    assert into_itself.exit_code == 1
    assert "holds brains b1" in _error_line(into_itself)
    missing = marble("b", "restore", str(tmp_path / "nothing-here"))
    assert missing.exit_code == 3
    assert "does not exist" in _error_line(missing)


def test_backup_while_another_process_holds_the_home_points_to_the_rest_route(
    marble,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    marble("a", "brain", "create", "b1")
    # A stand-in for `marble serve`: a process holding the home open read-write.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from marble_graph.data_home import DataHome\n"
            "from marble_graph.service import BrainService\n"
            "from tests.conftest import small_config\n"
            f"with BrainService(small_config(), DataHome({str(tmp_path / 'a')!r})):\n"
            "    print('ready', flush=True)\n"
            "    sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        refused = marble("a", "backup", str(tmp_path / "bk"))
    finally:
        holder.communicate(input="", timeout=60)
    assert refused.exit_code == 4
    line = _error_line(refused)
    assert "POST /admin/backup" in line and str(tmp_path / "a") in line
    assert not (tmp_path / "bk").exists()
