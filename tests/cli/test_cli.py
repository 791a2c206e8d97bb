"""The ``marble`` command line, run in-process (CliRunner) and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marble_graph.cli.app import app
from marble_graph.config import config_from_mapping
from marble_graph.data_home import DataHome
from marble_graph.seed import seed_brain_graph
from marble_graph.service import BrainService
from tests.conftest import SMALL_SEED

runner = CliRunner()
TEST_CONFIG = (
    "seed:\n"
    + "".join(f"  {key}: {value}\n" for key, value in SMALL_SEED.items())
    + "core:\n  representation_size: 4\nlogging:\n  level: WARNING\n"
)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "test.yaml"
    path.write_text(TEST_CONFIG)
    return path


@pytest.fixture
def marble(tmp_path: Path, config_file: Path):  # type: ignore[no-untyped-def]
    home = tmp_path / "home"

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, ["--home", str(home), "--config", str(config_file), *args])

    return invoke


def _json(result) -> object:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_create_show_and_query_agree_with_the_seed(marble, config_file: Path) -> None:  # type: ignore[no-untyped-def]
    created = marble("brain", "create", "b1", "--config", str(config_file), "--format", "json")
    expected = seed_brain_graph(
        config_from_mapping({"seed": SMALL_SEED, "core": {"representation_size": 4}})
    )
    assert _json(created)["neuron_count"] == expected.neuron_count
    shown = _json(marble("brain", "show", "b1", "--format", "json"))
    assert shown["neuron_count"] == expected.neuron_count
    assert shown["synapse_count"] == expected.synapse_count
    assert shown["neurons_by_kind"] == expected.neuron_counts_by_kind()
    counted = _json(marble("query", "MATCH (n:Neuron) RETURN count(*)", "--format", "json"))
    assert counted["rows"] == [[expected.neuron_count]]


def test_query_write_is_refused_and_changes_nothing(marble) -> None:  # type: ignore[no-untyped-def]
    marble("brain", "create", "b1")
    before = marble("brain", "hash", "b1").stdout
    refused = marble("query", "CREATE (:Neuron {id: 1})")
    assert refused.exit_code == 2
    assert "read-only" in refused.stderr and "CREATE" in refused.stderr
    assert marble("brain", "hash", "b1").stdout == before
    counted = _json(marble("query", "MATCH (n:Neuron) RETURN count(*) AS c", "-f", "json"))
    assert (
        counted["rows"][0][0] == _json(marble("brain", "show", "b1", "-f", "json"))["neuron_count"]
    )


def test_query_limit_and_params(marble) -> None:  # type: ignore[no-untyped-def]
    marble("brain", "create", "b1")
    result = _json(
        marble(
            "query",
            "MATCH (n:Neuron) WHERE n.kind = $kind RETURN n.id ORDER BY n.id",
            "--param",
            "kind=input",
            "--limit",
            "2",
            "-f",
            "json",
        )
    )
    assert result == {"columns": ["n.id"], "rows": [[0], [1]], "truncated": True}


def test_query_engine_failure_and_timeout_print_one_error_line(marble, config_file: Path) -> None:  # type: ignore[no-untyped-def]
    config_file.write_text(TEST_CONFIG + "storage:\n  query_timeout_s: 1\n")
    marble("brain", "create", "b1")
    failed = marble("query", "RETURN no_such_fn(1)")
    assert failed.exit_code == 2
    assert failed.stderr.startswith("error: query failed: ") and "NO_SUCH_FN" in failed.stderr
    timed_out = marble("query", "MATCH (a:Neuron)-[*1..30]->(b:Neuron) RETURN count(*)")
    assert timed_out.exit_code == 2
    assert timed_out.stderr.startswith("error: query timed out: ")
    assert "storage.query_timeout_s" in timed_out.stderr
    assert [len(f.stderr.strip().splitlines()) for f in (failed, timed_out)] == [1, 1]


def test_same_seed_same_hash_other_seed_other_hash(marble) -> None:  # type: ignore[no-untyped-def]
    marble("brain", "create", "a")
    marble("brain", "create", "b")
    marble("brain", "create", "c", "--seed", "12345")
    hashes = {n: marble("brain", "hash", n).stdout.strip() for n in "abc"}
    assert hashes["a"] == hashes["b"] != hashes["c"]


@pytest.mark.parametrize("target", ["b1.json", "b1-parquet"])
def test_export_delete_import_round_trip(marble, tmp_path: Path, target: str) -> None:  # type: ignore[no-untyped-def]
    marble("brain", "create", "b1")
    before = marble("brain", "hash", "b1").stdout
    path = str(tmp_path / target)
    assert marble("brain", "export", "b1", path).exit_code == 0
    assert marble("brain", "delete", "b1", "--yes").exit_code == 0
    assert _json(marble("brain", "list", "-f", "json")) == []
    assert marble("brain", "import", path).exit_code == 0
    assert marble("brain", "hash", "b1").stdout == before


def test_duplicate_and_unknown_brains_name_the_brain(marble) -> None:  # type: ignore[no-untyped-def]
    marble("brain", "create", "b1")
    duplicate = marble("brain", "create", "b1")
    assert duplicate.exit_code == 1
    assert "brain 'b1' already exists" in duplicate.stderr
    unknown = marble("brain", "show", "nope")
    assert unknown.exit_code == 3
    assert "unknown brain 'nope'" in unknown.stderr


def test_delete_without_yes_is_refused_when_not_interactive(marble) -> None:  # type: ignore[no-untyped-def]
    marble("brain", "create", "b1")
    refused = marble("brain", "delete", "b1")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert [b["name"] for b in _json(marble("brain", "list", "-f", "json"))] == ["b1"]


def test_init_twice_reuses_the_home(marble) -> None:  # type: ignore[no-untyped-def]
    assert "initialised" in marble("init").stderr
    assert "using existing" in marble("init").stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("seed:\n  width: 30\n    height: 3\n", r"bad\.yaml:3:\d+: invalid YAML"),
        ("seed:\n  widht: 30\n", r"bad\.yaml:2: unknown key 'seed\.widht'"),
        (
            "seed:\n  width: 5000\n",
            r"bad\.yaml:2: seed\.width = 5000 is out of range: must be between 2 and 4096",
        ),
    ],
)
def test_config_faults_name_file_line_and_key(tmp_path: Path, content: str, expected: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    result = runner.invoke(app, ["config", "validate", str(bad)])
    assert result.exit_code == 2
    assert __import__("re").search(expected, result.stderr), result.stderr
    created = runner.invoke(
        app, ["--home", str(tmp_path / "h"), "brain", "create", "x", "-c", str(bad)]
    )
    assert created.exit_code == 2
    assert not (tmp_path / "h").exists()


def test_config_show_and_schema(tmp_path: Path, config_file: Path) -> None:
    shown = runner.invoke(app, ["--config", str(config_file), "config", "show", "-f", "json"])
    assert json.loads(shown.stdout)["seed"]["width"] == SMALL_SEED["width"]
    out = tmp_path / "schema.json"
    assert runner.invoke(app, ["config", "schema", "--output", str(out)]).exit_code == 0
    assert "seed" in json.loads(out.read_text())["properties"]


def _commands(group, prefix: list[str]):  # type: ignore[no-untyped-def]
    import typer.main

    command = typer.main.get_command(group) if prefix == [] else group
    yield prefix
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, [*prefix, name])


def test_every_command_has_help() -> None:
    paths = list(_commands(app, []))
    assert ["brain", "create"] in paths and ["query"] in paths and ["config", "schema"] in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Usage" in result.stdout


def test_cli_says_when_another_process_holds_the_database(
    tmp_path: Path, config_file: Path
) -> None:
    home = DataHome(tmp_path / "home")
    config = config_from_mapping({"seed": SMALL_SEED})
    with BrainService(config, home):
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "marble_graph.cli",
                "--home",
                str(home.root),
                "--config",
                str(config_file),
                "brain",
                "list",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert child.returncode == 4, child.stderr
    assert "is held by process" in child.stderr
    assert "Traceback" not in child.stderr
