"""``marble dataset ...``: create, list, show, versions, diff, apply, revert, tag, export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pyarrow.parquet as pq
import typer

from marble_graph.cli.context import (
    FormatOption,
    check_format,
    err_console,
    print_json,
    print_table,
    state,
)
from marble_graph.datasets.ingest import detect_format
from marble_graph.datasets.row_files import WRITE_FORMATS, write_rows
from marble_graph.datasets.rowsets import RowDiff
from marble_graph.errors import ValidationFailed
from marble_graph.service import DatasetRef, DatasetVersionInfo

app = typer.Typer(
    help="Versioned datasets: create from files, list, diff, tag, export.", no_args_is_help=True
)

SpecArgument = Annotated[str, typer.Argument(help="NAME, NAME@VERSION or NAME@TAG.")]
EncoderOption = Annotated[
    list[str] | None,
    typer.Option(
        "--encoder",
        "-e",
        help="COLUMN=KIND[:OPTION=VALUE,...], e.g. review=text:width=128 or "
        "image=bytes:compress=true,vocabulary=build (kinds: numeric, vector, text, bytes, label).",
    ),
]


@app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The dataset (created on its first version).")],
    file: Annotated[Path, typer.Argument(help="A .csv, .jsonl, .parquet or .arrow file.")],
    source_format: Annotated[
        str | None, typer.Option("--source-format", help="csv, jsonl, parquet or arrow.")
    ] = None,
    inputs: Annotated[
        list[str] | None,
        typer.Option("--input", "-i", help="An input column (repeat; default: all but target)."),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", "-t", help="The target column (default: 'target', else last)."),
    ] = None,
    encoder: EncoderOption = None,
    parent: Annotated[
        str | None, typer.Option(help="The version this one derives from (number or tag).")
    ] = None,
    note: Annotated[str | None, typer.Option(help="A note kept with the version.")] = None,
    fmt: FormatOption = "table",
) -> None:
    """Record a file's rows as the next version of a dataset."""
    check_format(fmt, ("table", "json"))
    with state(ctx).service() as service, err_console.status(f"reading {file}"):
        info, created = service.create_dataset(
            name,
            file,
            fmt=source_format,
            input_columns=inputs or None,
            target_column=target,
            encoders=parse_encoders(encoder or []),
            parent=parent,
            note=note,
        )
    if fmt == "table":
        verb = "created" if created else "unchanged: the rows equal"
        err_console.print(f"{verb} dataset version {info.spec}")
    _print_version(info, fmt)


@app.command("list")
def list_datasets(ctx: typer.Context, fmt: FormatOption = "table") -> None:
    """List datasets with their number of versions."""
    check_format(fmt, ("table", "json"))
    with state(ctx).service() as service:
        rows = service.list_datasets()
    if fmt == "json":
        print_json(rows)
        return
    print_table(
        "datasets",
        ["name", "versions", "latest", "created"],
        [[r["name"], r["versions"], r["latest_version"], r["created_at"]] for r in rows],
    )


@app.command()
def versions(ctx: typer.Context, name: str, fmt: FormatOption = "table") -> None:
    """List a dataset's versions, oldest first."""
    check_format(fmt, ("table", "json"))
    with state(ctx).service() as service:
        infos = service.dataset_versions(name)
    if fmt == "json":
        print_json([i.to_dict() for i in infos])
        return
    print_table(
        f"dataset {name}",
        ["version", "rows", "features", "hash", "parent", "tags", "note"],
        [
            [
                i.version,
                i.n_rows,
                i.n_features,
                i.content_hash[:16],
                _parent(i),
                ", ".join(i.tags),
                i.note or "",
            ]
            for i in infos
        ],
    )


@app.command()
def show(
    ctx: typer.Context,
    spec: SpecArgument,
    fmt: FormatOption = "table",
) -> None:
    """Show one version: rows, columns and their encoders, hash, parent, tags."""
    check_format(fmt, ("table", "json"))
    dataset = DatasetRef.parse(spec)
    with state(ctx).service() as service:
        info = service.dataset_version(dataset.name, dataset.ref)
    _print_version(info, fmt)


@app.command()
def diff(
    ctx: typer.Context,
    name: str,
    a: Annotated[str, typer.Argument(help="From this version (number or tag).")],
    b: Annotated[str, typer.Argument(help="To this version (number or tag).")],
    out: Annotated[
        Path | None,
        typer.Option(help="Write the diff here (added/removed Parquet, diff.json) for `apply`."),
    ] = None,
    fmt: FormatOption = "table",
) -> None:
    """Rows added and removed (with multiplicity) from version A to version B."""
    check_format(fmt, ("table", "json"))
    with state(ctx).service() as service:
        changes, info_a, info_b = service.diff_datasets(name, a, b)
    summary = {
        "from": info_a.spec,
        "to": info_b.spec,
        "added": changes.n_added,
        "removed": changes.n_removed,
        "base_hash": changes.base_hash,
        "target_hash": changes.target_hash,
    }
    if out is not None:
        save_diff(changes, out, summary)
    if fmt == "json":
        print_json(summary)
        return
    print_table(
        f"{info_a.spec} -> {info_b.spec}",
        ["rows added", "rows removed"],
        [[changes.n_added, changes.n_removed]],
    )


@app.command()
def apply(
    ctx: typer.Context,
    name: str,
    diff_dir: Annotated[Path, typer.Argument(help="A directory written by `diff --out`.")],
    onto: Annotated[
        str | None, typer.Option(help="Apply onto this version (default: the latest).")
    ] = None,
    note: Annotated[str | None, typer.Option(help="A note kept with the version.")] = None,
    fmt: FormatOption = "table",
) -> None:
    """Make a new version: a saved diff applied onto a version of the dataset."""
    check_format(fmt, ("table", "json"))
    changes = load_diff(diff_dir)
    with state(ctx).service() as service:
        info, _ = service.apply_dataset_diff(name, changes, onto, note)
    _print_version(info, fmt)


@app.command()
def revert(
    ctx: typer.Context,
    name: str,
    ref: Annotated[str, typer.Argument(help="The version whose change to undo.")],
    note: Annotated[str | None, typer.Option(help="A note kept with the version.")] = None,
    fmt: FormatOption = "table",
) -> None:
    """Make a new version with the rows the given version's parent had."""
    check_format(fmt, ("table", "json"))
    with state(ctx).service() as service:
        info, _ = service.revert_dataset(name, ref, note)
    _print_version(info, fmt)


@app.command()
def tag(ctx: typer.Context, name: str, ref: str, tag_name: str) -> None:
    """Name version REF of the dataset with TAG_NAME."""
    with state(ctx).service() as service:
        info = service.tag_dataset(name, ref, tag_name)
    err_console.print(f"tagged {info.spec} as {tag_name!r}")


@app.command()
def untag(ctx: typer.Context, name: str, tag_name: str) -> None:
    """Remove a tag."""
    with state(ctx).service() as service:
        service.untag_dataset(name, tag_name)
    err_console.print(f"removed tag {tag_name!r} of dataset {name!r}")


@app.command("export")
def export_(
    ctx: typer.Context,
    spec: SpecArgument,
    path: Annotated[Path, typer.Argument(help="The file to write.")],
    out_format: Annotated[
        str | None,
        typer.Option("--format", "-f", help="csv, jsonl, parquet or arrow (default: by suffix)."),
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="Only the row-hash split 'train' or 'test'.")
    ] = None,
    test_fraction: Annotated[float, typer.Option(help="Test share of the row-hash split.")] = 0.25,
    num_shards: Annotated[int, typer.Option(help="Split the rows into this many shards.")] = 1,
    shard_index: Annotated[int, typer.Option(help="Which shard to write (0-based).")] = 0,
) -> None:
    """Write a version's rows (or one split, one shard of them) to a file."""
    dataset = DatasetRef.parse(spec)
    kind = out_format or detect_format(path.name)
    if kind not in WRITE_FORMATS:
        raise ValidationFailed(f"--format {kind!r}: expected one of {', '.join(WRITE_FORMATS)}")
    with state(ctx).service() as service:
        rows = service.dataset_rows(
            dataset.name,
            dataset.ref,
            split=split,
            test_fraction=test_fraction,
            num_shards=num_shards,
            shard_index=shard_index,
        )
    write_rows(rows, path, kind)
    err_console.print(f"wrote {rows.num_rows} rows to {path}")


@app.command()
def lineage(
    ctx: typer.Context,
    spec: SpecArgument,
    fmt: FormatOption = "table",
) -> None:
    """The brain versions trained on a dataset version."""
    check_format(fmt, ("table", "json"))
    dataset = DatasetRef.parse(spec)
    with state(ctx).service() as service:
        rows = service.brains_trained_on(dataset.name, dataset.ref)
    if fmt == "json":
        print_json(rows)
        return
    print_table(
        f"trained on {spec}",
        ["brain", "version", "graph hash"],
        [[r["brain"], r["version"], r["graph_hash"][:16]] for r in rows],
    )


# -- helpers ----------------------------------------------------------------------


def parse_encoders(items: list[str]) -> dict[str, dict[str, Any]]:
    """``COLUMN=KIND[:OPT=VAL,...]`` options to the encoders mapping ``create`` takes."""
    encoders: dict[str, dict[str, Any]] = {}
    for item in items:
        column, sep, rest = item.partition("=")
        if not sep or not column or not rest:
            raise ValidationFailed(f"--encoder {item!r}: expected COLUMN=KIND[:OPTION=VALUE,...]")
        kind, _, options = rest.partition(":")
        spec: dict[str, Any] = {"kind": kind}
        for option in filter(None, options.split(",")):
            key, eq, value = option.partition("=")
            if not eq:
                raise ValidationFailed(f"--encoder {item!r}: option {option!r} needs =VALUE")
            spec[key] = _option_value(value)
        encoders[column] = spec
    return encoders


def _option_value(text: str) -> Any:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        return text


def save_diff(changes: RowDiff, out: Path, summary: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(changes.added, out / "added.parquet")
    pq.write_table(changes.removed, out / "removed.parquet")
    (out / "diff.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def load_diff(directory: Path) -> RowDiff:
    try:
        summary = json.loads((directory / "diff.json").read_text(encoding="utf-8"))
        added = pq.read_table(directory / "added.parquet")
        removed = pq.read_table(directory / "removed.parquet")
    except (OSError, ValueError) as exc:
        raise ValidationFailed(
            f"{directory}: not a diff written by `marble dataset diff --out` ({exc})"
        ) from exc
    return RowDiff(summary["base_hash"], summary["target_hash"], added, removed)


def _parent(info: DatasetVersionInfo) -> str:
    return "" if info.parent is None else f"{info.parent[0]}@{info.parent[1]}"


def _print_version(info: DatasetVersionInfo, fmt: str) -> None:
    if fmt == "json":
        print_json(info.to_dict())
        return
    rows: list[list[Any]] = [
        ["rows", info.n_rows],
        ["features", info.n_features],
        ["content hash", info.content_hash],
        ["parent", _parent(info) or "-"],
        ["tags", ", ".join(info.tags) or "-"],
        ["note", info.note or "-"],
        ["created", info.created_at],
    ]
    rows += [[f"column {c['name']}", f"{c.get('role')} {c.get('type', '')}"] for c in info.columns]
    print_table(f"dataset {info.spec}", ["field", "value"], rows)
