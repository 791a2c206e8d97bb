"""The ``marble`` command: global options and the top-level commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from marble_graph.cli import brain, config_cmd, dataset_cmd, memory_cmd, token_cmd, version_cmd
from marble_graph.cli.activations_cmd import activations
from marble_graph.cli.backup_cmd import backup, restore
from marble_graph.cli.context import (
    CliState,
    MarbleGroup,
    check_format,
    err_console,
    print_json,
    print_table,
    state,
)
from marble_graph.cli.dream_cmd import dream
from marble_graph.cli.serve import serve
from marble_graph.cli.train import evaluate, infer_command, runs, train
from marble_graph.errors import ValidationFailed

app = typer.Typer(
    cls=MarbleGroup,
    help="MARBLE: a persistent brain-graph engine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(brain.app, name="brain")
app.add_typer(config_cmd.app, name="config")
app.add_typer(dataset_cmd.app, name="dataset")
app.add_typer(memory_cmd.app, name="memory")
app.add_typer(token_cmd.app, name="token")
app.add_typer(version_cmd.app, name="version")
app.command()(train)
app.command()(dream)
app.command("infer")(infer_command)
app.command()(activations)
app.command()(evaluate)
app.command()(runs)
app.command()(serve)
app.command()(backup)
app.command()(restore)


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(help="Data directory (default: $MARBLE_HOME, else storage.home)."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="marble.yaml to use (default: $MARBLE_CONFIG, ./marble.yaml)."
        ),
    ] = None,
) -> None:
    """MARBLE: a persistent brain-graph engine."""
    ctx.obj = CliState(home_option=home, config_option=config)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the data directory and both stores (safe to run again)."""
    cli = state(ctx)
    config = cli.config()
    home = cli.home(config)
    existed = home.exists()
    with cli.service() as service:
        brains = service.list_brains()
    verb = "using existing" if existed else "initialised"
    err_console.print(
        f"{verb} MARBLE home {home.root} "
        f"(graph: {config.storage.graph_engine}, brains: {len(brains)})"
    )


@app.command()
def query(
    ctx: typer.Context,
    cypher: Annotated[str, typer.Argument(help="A read-only Cypher query.")],
    limit: Annotated[
        int | None, typer.Option(help="Maximum rows (default: storage.query_row_limit).")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Query parameter NAME=JSON_VALUE (repeatable)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Explore the graph with read-only Cypher; writes are refused."""
    check_format(fmt, ("table", "json"))
    if limit is not None and limit < 1:
        raise ValidationFailed(f"--limit must be at least 1, got {limit}")
    params = _parse_params(param or [])
    with state(ctx).service() as service:
        result = service.query(cypher, params, limit)
    if fmt == "json":
        print_json({"columns": result.columns, "rows": result.rows, "truncated": result.truncated})
    else:
        print_table(None, result.columns, result.rows)
        if result.truncated:
            err_console.print(f"(truncated at {len(result.rows)} rows; raise --limit)")


def _parse_params(items: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise ValidationFailed(f"--param {item!r}: expected NAME=VALUE")
        try:
            params[name] = json.loads(raw)
        except json.JSONDecodeError:
            params[name] = raw  # a bare word is a string
    return params


def main() -> None:
    """Console-script entry point."""
    app()
