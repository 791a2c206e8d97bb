"""What every CLI command shares: resolved config and home, the service, output, errors."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from marble_graph.config import MarbleConfig, load_config
from marble_graph.data_home import DataHome
from marble_graph.errors import MarbleError, NotFound, StoreLocked, ValidationFailed
from marble_graph.logs import configure_logging
from marble_graph.service import BrainService
from marble_graph.threads import share_cores

FormatOption = Annotated[str, typer.Option("--format", "-f", help="Output format: table or json.")]

console = Console()
err_console = Console(stderr=True)


def json_option(text: str | None, option: str) -> Any:
    """The JSON an option carries (None when it was not given); bad JSON names the option."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"{option}: not valid JSON ({exc})") from exc


def exit_code_for(error: MarbleError) -> int:
    """Exit status by error family: 2 bad input, 3 not found, 4 locked, 1 otherwise."""
    if isinstance(error, ValidationFailed):
        return 2
    if isinstance(error, NotFound):
        return 3
    if isinstance(error, StoreLocked):
        return 4
    return 1


class MarbleGroup(TyperGroup):
    """Root command group: turns engine errors into clean messages, never tracebacks."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except MarbleError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exit_code_for(exc)) from exc


@dataclass
class CliState:
    home_option: Path | None
    config_option: Path | None

    def config_path(self) -> Path | None:
        if self.config_option is not None:
            return self.config_option
        if os.environ.get("MARBLE_CONFIG"):
            return Path(os.environ["MARBLE_CONFIG"])
        default = Path("marble.yaml")
        return default if default.exists() else None

    def config(self) -> MarbleConfig:
        return load_config(self.config_path())

    def home(self, config: MarbleConfig) -> DataHome:
        return DataHome.resolve(self.home_option, config.storage.home)

    @contextmanager
    def service(self) -> Iterator[BrainService]:
        config = self.config()
        configure_logging(config.logging)
        with BrainService(config, self.home(config)) as service:
            yield service

    @contextmanager
    def compute_service(self) -> Iterator[BrainService]:
        """The service for a command that runs the model: torch's threads are sized first."""
        share_cores(self.config().core.threads)
        with self.service() as service:
            yield service


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def print_table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    console.print(table)


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def check_format(fmt: str, allowed: tuple[str, ...]) -> str:
    if fmt not in allowed:
        raise ValidationFailed(f"--format {fmt!r}: expected one of {', '.join(allowed)}")
    return fmt


def step_progress(fmt: str) -> Progress:
    """A progress bar on stderr for counted steps (epochs, dream cycles): description,
    bar, done/total, a ``status`` field and the time taken; it clears itself when the
    result goes to stdout as JSON."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    )
    return Progress(*columns, console=err_console, transient=fmt == "json")
