"""``marble memory ...``: a brain's memories: remember, recall, lookup, forget, list.

A remembered input is stored with its embedding (the brain's state for it);
a fact is a key and a JSON value. docs/memory.md explains both.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer

from marble_graph.cli.context import (
    FormatOption,
    check_format,
    json_option,
    print_json,
    print_table,
    state,
)
from marble_graph.errors import ValidationFailed
from marble_graph.service import MemoryRecord

app = typer.Typer(
    help="A brain's memories: remember inputs and facts, recall, look up, forget.",
    no_args_is_help=True,
)

BrainArg = Annotated[str, typer.Argument(help="The brain.")]
InputsOption = Annotated[
    str | None,
    typer.Option("--input", "-i", help="JSON: one input [..] or several [[..], ..]."),
]
ObjectsOption = Annotated[
    str | None,
    typer.Option(
        "--objects", help='JSON: raw objects encoded as the brain\'s dataset was, e.g. ["text"].'
    ),
]


@app.command()
def remember(
    ctx: typer.Context,
    name: BrainArg,
    input_: InputsOption = None,
    objects: ObjectsOption = None,
    key: Annotated[str | None, typer.Option("--key", "-k", help="The key of every row.")] = None,
    value: Annotated[
        str | None,
        typer.Option("--value", help="JSON value stored with every row (a bare word: a string)."),
    ] = None,
    fmt: FormatOption = "table",
) -> None:
    """Remember inputs (embedded by the current version) or, with neither, a fact (--key)."""
    check_format(fmt, ("table", "json"))
    inputs = json_option(input_, "--input")
    raw_objects = json_option(objects, "--objects")
    stored = _value_option(value)
    with state(ctx).compute_service() as service:
        ids = service.remember(name, inputs=inputs, objects=raw_objects, key=key, value=stored)
    if fmt == "json":
        print_json({"brain": name, "ids": ids})
    else:
        typer.echo(f"remembered {len(ids)} in {name}: ids {_id_list(ids)}")


@app.command()
def recall(
    ctx: typer.Context,
    name: BrainArg,
    input_: Annotated[
        str | None, typer.Option("--input", "-i", help="JSON: one input [..].")
    ] = None,
    obj: Annotated[
        str | None, typer.Option("--object", help="JSON: one raw object (as for --objects).")
    ] = None,
    embedding: Annotated[
        str | None, typer.Option("--embedding", help="JSON: an embedding [..] itself.")
    ] = None,
    k: Annotated[int, typer.Option("--k", "-n", help="How many memories (1..1000).")] = 10,
    exact: Annotated[
        bool, typer.Option(help="Scan every memory in the graph instead of the index.")
    ] = False,
    fmt: FormatOption = "table",
) -> None:
    """The k memories nearest one query by cosine similarity, nearest first."""
    check_format(fmt, ("table", "json"))
    features = json_option(input_, "--input")
    raw_object = json_option(obj, "--object")
    vector = json_option(embedding, "--embedding")
    with state(ctx).compute_service() as service:
        found = service.recall(
            name, features=features, obj=raw_object, embedding=vector, k=k, exact=exact
        )
    _print_memories(f"recalled from {name}", found, fmt, similarity=True)


@app.command()
def lookup(
    ctx: typer.Context,
    name: BrainArg,
    key: Annotated[str, typer.Argument(help="The key.")],
    fmt: FormatOption = "table",
) -> None:
    """The memories and facts stored under KEY, newest first."""
    check_format(fmt, ("table", "json"))
    with state(ctx).service() as service:
        found = service.lookup_memory(name, key)
    _print_memories(f"{name}: {key}", found, fmt)


@app.command()
def forget(
    ctx: typer.Context,
    name: BrainArg,
    older_than: Annotated[
        str | None,
        typer.Option(help="Forget memories created before this ISO time (UTC unless given)."),
    ] = None,
    keep_last: Annotated[
        int | None, typer.Option(help="Forget all but the newest N memories.")
    ] = None,
    fmt: FormatOption = "table",
) -> None:
    """Forget memories older than a time, or all but the newest N (give exactly one)."""
    check_format(fmt, ("table", "json"))
    before = None if older_than is None else _iso_time(older_than)
    with state(ctx).service() as service:
        removed = service.forget_memories(name, older_than=before, keep_last=keep_last)
    if fmt == "json":
        print_json({"brain": name, "removed": removed})
    else:
        typer.echo(f"forgot {removed} memories of {name}")


@app.command("list")
def list_memories(
    ctx: typer.Context,
    name: BrainArg,
    limit: Annotated[int, typer.Option(help="Memories per page (1..1000).")] = 50,
    before: Annotated[
        int | None, typer.Option(help="Only ids below this one (the next page).")
    ] = None,
    fmt: FormatOption = "table",
) -> None:
    """A page of the brain's memories, newest first."""
    check_format(fmt, ("table", "json"))
    with state(ctx).service() as service:
        page = service.list_memories(name, limit, before)
    if fmt == "json":
        print_json(
            {
                "brain": name,
                "total": page.total,
                "next_before": page.next_before,
                "memories": [m.as_dict() for m in page.memories],
            }
        )
        return
    _print_memories(f"memories of {name} ({page.total} in all)", page.memories, fmt)
    if page.next_before is not None:
        typer.echo(f"more: --before {page.next_before}")


def _print_memories(
    title: str, found: list[MemoryRecord], fmt: str, similarity: bool = False
) -> None:
    if fmt == "json":
        print_json([m.as_dict() for m in found])
        return
    columns = ["id", *(["similarity"] if similarity else []), "key", "value", "version", "created"]
    print_table(
        title,
        columns,
        [
            [
                m.id,
                *([round(m.similarity or 0.0, 4)] if similarity else []),
                m.key or "",
                json.dumps(m.value),
                m.brain_version,
                m.created_at.isoformat(timespec="seconds"),
            ]
            for m in found
        ],
    )


def _value_option(text: str | None) -> Any:
    """JSON, or a bare word taken as a string (``--value paris``)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _iso_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationFailed(
            f"--older-than {text!r}: expected an ISO time such as 2025-01-31T12:00:00"
        ) from exc


def _id_list(ids: list[int]) -> str:
    if len(ids) > 2 and ids[-1] - ids[0] == len(ids) - 1:
        return f"{ids[0]}..{ids[-1]}"
    return ", ".join(str(i) for i in ids)
