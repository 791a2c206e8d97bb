"""``marble token create --brains`` and ``marble token list``: tokens limited to named brains."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from marble_graph.cli.app import app
from marble_graph.data_home import DataHome
from marble_graph.store.metadata import MetadataStore
from marble_graph.tokens import TokenStore

runner = CliRunner()


def _token_cli(home: Path, *args: str) -> Result:
    # Token commands open only the SQL metadata store of the data home: no config needed.
    return runner.invoke(app, ["--home", str(home), "token", *args])


def test_token_create_with_brains_stores_the_limit_and_the_token_verifies(tmp_path: Path) -> None:
    home = tmp_path / "home"
    created = _token_cli(
        home, "create", "ci", "--scopes", "read,infer", "--brains", "alpha, beta", "-f", "json"
    )
    assert created.exit_code == 0, created.output
    shown = json.loads(created.stdout)
    assert shown["brains"] == ["alpha", "beta"]
    assert shown["scopes"] == ["read", "infer"]
    store = TokenStore(MetadataStore(DataHome(home).metadata_url))
    info = store.verify(shown["token"])
    assert info is not None and info.brains == ("alpha", "beta")
    assert info.may_use("alpha") and not info.may_use("gamma")


def test_token_create_without_brains_may_use_every_brain(tmp_path: Path) -> None:
    created = _token_cli(tmp_path / "home", "create", "all", "-f", "json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["brains"] is None


def test_token_create_accepts_a_brain_that_does_not_exist_yet(tmp_path: Path) -> None:
    created = _token_cli(tmp_path / "home", "create", "later", "--brains", "not-created-yet")
    assert created.exit_code == 0, created.output
    assert "brains not-created-yet only" in created.stderr
    assert created.stdout.strip().startswith("marble_")


def test_token_create_refuses_an_invalid_brain_name_and_creates_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    refused = _token_cli(home, "create", "bad", "--brains", "ok,9starts-with-digit")
    assert refused.exit_code != 0
    assert "invalid brain name '9starts-with-digit'" in refused.stderr
    empty = _token_cli(home, "create", "bad", "--brains", " , ")
    assert empty.exit_code != 0 and "no brains given" in empty.stderr
    assert json.loads(_token_cli(home, "list", "-f", "json").stdout) == []


def test_token_list_shows_each_tokens_brains(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _token_cli(home, "create", "limited", "--brains", "alpha").exit_code == 0
    assert _token_cli(home, "create", "unlimited").exit_code == 0
    listed = json.loads(_token_cli(home, "list", "-f", "json").stdout)
    assert {t["name"]: t["brains"] for t in listed} == {"limited": ["alpha"], "unlimited": None}
    table = _token_cli(home, "list")
    assert table.exit_code == 0, table.output
    limited_row = next(line for line in table.stdout.splitlines() if "limited" in line)
    assert "alpha" in limited_row
    unlimited_row = next(line for line in table.stdout.splitlines() if "unlimited" in line)
    assert "(all)" in unlimited_row


def test_token_create_help_says_unknown_brains_are_allowed() -> None:
    shown = runner.invoke(app, ["token", "create", "--help"], terminal_width=200)
    assert shown.exit_code == 0
    assert "--brains" in shown.stdout and "not created yet" in shown.stdout
