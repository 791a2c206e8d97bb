"""``marble config ...``: show, validate, schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from marble_graph.cli.context import check_format, err_console, print_json, state
from marble_graph.config import config_json_schema, config_to_yaml, load_config, write_config_schema

app = typer.Typer(help="Show, validate and export the configuration schema.", no_args_is_help=True)


@app.command()
def show(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", "-f", help="yaml or json.")] = "yaml",
) -> None:
    """Print the effective configuration (defaults merged with the config file)."""
    check_format(fmt, ("yaml", "json"))
    config = state(ctx).config()
    if fmt == "json":
        print_json(config.model_dump(mode="json"))
    else:
        typer.echo(config_to_yaml(config), nl=False)


@app.command()
def validate(file: Annotated[Path, typer.Argument(help="The YAML file to check.")]) -> None:
    """Check a config file; print every fault with its line and key path."""
    load_config(file)
    typer.echo(f"{file}: valid")


@app.command()
def schema(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write it; '-' for stdout.")
    ] = Path("schema/config.schema.json"),
) -> None:
    """Write the JSON Schema of the config, generated from the models."""
    if str(output) == "-":
        typer.echo(json.dumps(config_json_schema(), indent=2, sort_keys=True))
        return
    write_config_schema(output)
    err_console.print(f"wrote {output}")
