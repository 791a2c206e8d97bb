"""``marble brain ...``: create, list, show, delete, export, import, hash, repair."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from marble_graph.cli.context import (
    FormatOption,
    check_format,
    console,
    err_console,
    print_json,
    print_table,
    state,
)
from marble_graph.config import load_config, with_overrides
from marble_graph.errors import ValidationFailed
from marble_graph.service import BrainDetails

app = typer.Typer(help="Create, inspect, delete, export and import brains.", no_args_is_help=True)


@app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the new brain.")],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML config for this brain's seed.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Override seed.random_seed.")] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            "-d",
            help="Size the brain for this dataset and start from its task's preset.",
        ),
    ] = None,
    exist_ok: Annotated[
        bool, typer.Option("--exist-ok", help="Reuse the brain if it already exists.")
    ] = False,
    fmt: FormatOption = "table",
) -> None:
    """Seed a new brain from the Mandelbrot grid and persist it."""
    check_format(fmt, ("table", "json"))
    cli = state(ctx)
    brain_config = load_config(config) if config is not None else cli.config()
    if seed is not None:
        brain_config = with_overrides(brain_config, {"seed.random_seed": seed})
    with cli.service() as service:
        existed = exist_ok and any(b.name == name for b in service.list_brains())
        with err_console.status(f"creating brain {name!r}") as status:
            if dataset is None:
                service.create_brain(
                    name, brain_config, exist_ok=exist_ok, progress=lambda m: status.update(m)
                )
            else:
                service.create_brain_for_dataset(
                    name,
                    dataset,
                    brain_config,
                    exist_ok=exist_ok,
                    progress=lambda m: status.update(m),
                )
        details = service.show_brain(name)
    if fmt == "table":
        verb = "reused existing" if existed else "created"
        err_console.print(f"{verb} brain {name!r}")
    _print_details(details, fmt)


@app.command("list")
def list_brains(ctx: typer.Context, fmt: FormatOption = "table") -> None:
    """List committed brains."""
    check_format(fmt, ("table", "json"))
    with state(ctx).service() as service:
        brains = service.list_brains()
    if fmt == "json":
        print_json([b.as_dict() for b in brains])
        return
    print_table(
        "brains",
        ["name", "version", "neurons", "synapses", "graph hash", "created"],
        [
            [b.name, b.version, b.neuron_count, b.synapse_count, b.graph_hash[:16], b.created_at]
            for b in brains
        ],
    )


@app.command()
def show(ctx: typer.Context, name: str, fmt: FormatOption = "table") -> None:
    """Show a brain: counts by neuron kind and synapse type, version, hashes, config."""
    check_format(fmt, ("table", "json"))
    with state(ctx).service() as service:
        details = service.show_brain(name)
    _print_details(details, fmt)


@app.command("hash")
def hash_(ctx: typer.Context, name: str) -> None:
    """Recompute a brain's graph hash from the graph store and print it."""
    with state(ctx).service() as service:
        digest = service.stored_graph_hash(name)
    typer.echo(digest)


@app.command()
def repair(ctx: typer.Context, name: str, fmt: FormatOption = "table") -> None:
    """Rebuild a damaged brain's current version from its snapshot (a no-op when intact)."""
    check_format(fmt, ("table", "json"))
    with state(ctx).service() as service, err_console.status(f"checking brain {name!r}"):
        report = service.repair_brain(name)
    if fmt == "json":
        print_json(dataclasses.asdict(report))
        return
    verb = "repaired" if report.repaired else "checked"
    err_console.print(f"{verb} brain {name!r} version {report.version}: {report.detail}")


@app.command()
def delete(
    ctx: typer.Context,
    name: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a brain from both stores."""
    if not yes:
        if not sys.stdin.isatty():
            raise ValidationFailed(f"refusing to delete brain {name!r} without --yes")
        typer.confirm(f"Delete brain {name!r} and all its versions?", abort=True)
    with state(ctx).service() as service:
        service.delete_brain(name)
    err_console.print(f"deleted brain {name!r}")


@app.command("export")
def export_(
    ctx: typer.Context,
    name: str,
    path: Annotated[Path, typer.Argument(help="Target: a .json file or a new directory.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="auto (by suffix), json or parquet.")
    ] = "auto",
) -> None:
    """Export a brain's current version, trained layer and memories included, to JSON or
    Parquet."""
    with state(ctx).service() as service, err_console.status(f"exporting {name!r}"):
        written = service.export_brain(name, path, fmt)
    err_console.print(f"exported brain {name!r} to {written}")


@app.command("import")
def import_(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="An export: a .json file or Parquet directory.")],
    name: Annotated[str | None, typer.Option("--name", help="Name for the imported brain.")] = None,
    fmt: FormatOption = "table",
) -> None:
    """Import a brain export (graph, config, shared layer, metrics, memories), verified by
    its hashes."""
    check_format(fmt, ("table", "json"))
    with state(ctx).service() as service:
        with err_console.status(f"importing {path}") as status:
            info = service.import_brain(path, name, progress=lambda m: status.update(m))
        details = service.show_brain(info.name)
    if fmt == "table":
        err_console.print(f"imported brain {info.name!r} from {path}")
    _print_details(details, fmt)


def _print_details(details: BrainDetails, fmt: str) -> None:
    if fmt == "json":
        print_json(details.as_dict())
        return
    info = details.info
    rows: list[list[Any]] = [
        ["name", info.name],
        ["version", info.version],
        ["neurons", info.neuron_count],
        *[[f"  {kind}", count] for kind, count in details.neurons_by_kind.items()],
        ["synapses", info.synapse_count],
        *[[f"  {kind}", count] for kind, count in details.synapses_by_type.items()],
        ["graph hash", info.graph_hash],
        ["config hash", info.config_hash],
        ["random seed", info.random_seed],
        ["created", info.created_at],
    ]
    if info.damage:
        rows.append(["DAMAGED", f"{info.damage}; run `marble brain repair {info.name}`"])
    print_table(f"brain {info.name}", ["field", "value"], rows)
    console.print("config: use --format json to see the full config")
