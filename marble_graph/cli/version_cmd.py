"""``marble version ...``: a brain's history: list, show, diff, tag, untag, rollback.

A version is named by its number or by a tag (``marble version tag B 3 best``).
Retention (``versions.keep``) keeps the snapshots of each brain's most recent
versions, tagged ones and the current one; the others stay listed as collected.
"""

from __future__ import annotations

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

app = typer.Typer(
    help="A brain's versions: list, show, compare, tag and roll back.", no_args_is_help=True
)

BrainArg = Annotated[str, typer.Argument(help="The brain.")]
RefArg = Annotated[str, typer.Argument(help="A version number or tag.")]


@app.command("list")
def list_versions(ctx: typer.Context, name: BrainArg, fmt: FormatOption = "table") -> None:
    """List a brain's committed versions with their tags; collected ones are marked."""
    check_format(fmt, ("table", "json"))
    with state(ctx).service() as service:
        versions = service.list_versions(name)
    if fmt == "json":
        print_json(versions)
        return
    print_table(
        f"versions of {name}",
        ["version", "tags", "neurons", "synapses", "graph hash", "note", "committed", "kept"],
        [
            [
                ("* " if v["current"] else "") + str(v["version"]),
                ", ".join(v["tags"]),
                v["neuron_count"],
                v["synapse_count"],
                v["graph_hash"][:16],
                v["note"] or "",
                v["committed_at"],
                "collected" if v["collected"] else "yes",
            ]
            for v in versions
        ],
    )
    console.print("* the current version")


@app.command()
def show(ctx: typer.Context, name: BrainArg, ref: RefArg, fmt: FormatOption = "table") -> None:
    """Show one version: hashes, counts, note, tags, metrics."""
    check_format(fmt, ("table", "json"))
    with state(ctx).service() as service:
        record = service.show_version(name, ref)
    _print_record(name, record, fmt)


@app.command()
def diff(
    ctx: typer.Context,
    name: BrainArg,
    a: Annotated[str, typer.Argument(help="The version compared from (number or tag).")],
    b: Annotated[str, typer.Argument(help="The version compared to (number or tag).")],
    fmt: FormatOption = "table",
) -> None:
    """Compare two versions: neurons and synapses added and removed, weight changes."""
    check_format(fmt, ("table", "json"))
    with state(ctx).service() as service:
        result = service.diff_versions(name, a, b)
    if fmt == "json":
        print_json(result)
        return
    first, second = result["a"]["version"], result["b"]["version"]
    neurons, synapses, weights = result["neurons"], result["synapses"], result["weights"]
    rows: list[list[Any]] = [
        ["neurons", f"{result['a']['neuron_count']} -> {result['b']['neuron_count']}"],
        ["  added", neurons["added"]],
        ["  removed", neurons["removed"]],
        ["synapses", f"{result['a']['synapse_count']} -> {result['b']['synapse_count']}"],
        ["  added", synapses["added"]],
        ["  removed", synapses["removed"]],
        ["  in both", synapses["common"]],
        ["weights changed", f"{weights['changed']} of {weights['compared']}"],
        ["  mean |change|", f"{weights['mean_abs_change']:.6g}"],
        ["  max |change|", f"{weights['max_abs_change']:.6g}"],
        ["  mean change", f"{weights['mean_change']:.6g}"],
        ["  rms change", f"{weights['rms_change']:.6g}"],
    ]
    print_table(f"{name}: version {first} -> {second}", ["", "value"], rows)


@app.command()
def tag(
    ctx: typer.Context,
    name: BrainArg,
    ref: RefArg,
    tag_: Annotated[str, typer.Argument(metavar="TAG", help="The tag: starts with a letter.")],
    fmt: FormatOption = "table",
) -> None:
    """Name a version by a tag; a tagged version is never collected by retention."""
    check_format(fmt, ("table", "json"))
    with state(ctx).service() as service:
        record = service.tag_version(name, ref, tag_)
    if fmt == "json":
        print_json(record)
        return
    err_console.print(f"tagged version {record['version']} of brain {name!r} as {tag_!r}")


@app.command()
def untag(
    ctx: typer.Context,
    name: BrainArg,
    tag_: Annotated[str, typer.Argument(metavar="TAG", help="The tag to remove.")],
    fmt: FormatOption = "table",
) -> None:
    """Remove a tag (the version it named may then be collected by retention)."""
    check_format(fmt, ("table", "json"))
    with state(ctx).service() as service:
        record = service.untag_version(name, tag_)
    if fmt == "json":
        print_json(record)
        return
    err_console.print(f"removed tag {tag_!r} from version {record['version']} of brain {name!r}")


@app.command()
def rollback(ctx: typer.Context, name: BrainArg, ref: RefArg, fmt: FormatOption = "table") -> None:
    """Make an earlier version current again, as a new version identical to it."""
    check_format(fmt, ("table", "json"))
    with state(ctx).service() as service, err_console.status(f"rolling {name!r} back to {ref}"):
        before = service.get_brain(name).version
        info = service.rollback(name, ref)
    if fmt == "json":
        print_json(info.as_dict())
        return
    if info.version == before:
        err_console.print(f"version {before} of brain {name!r} is already current; nothing changed")
    else:
        err_console.print(
            f"brain {name!r} rolled back to version {ref}: now at version {info.version} "
            f"(graph hash {info.graph_hash[:16]})"
        )


def _print_record(name: str, record: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        print_json(record)
        return
    rows: list[list[Any]] = [
        ["version", record["version"]],
        ["current", record["current"]],
        ["tags", ", ".join(record["tags"])],
        ["parent version", record["parent_version"]],
        ["neurons", record["neuron_count"]],
        ["synapses", record["synapse_count"]],
        ["graph hash", record["graph_hash"]],
        ["note", record["note"] or ""],
        ["run", record["run_id"]],
        ["committed", record["committed_at"]],
        [
            "snapshot",
            f"collected {record['collected_at']}" if record["collected"] else "kept",
        ],
        *[[f"metrics.{key}", value] for key, value in sorted(record["metrics"].items())],
    ]
    print_table(f"{name} version {record['version']}", ["field", "value"], rows)
