"""``marble dream``: replay a brain's recorded experiences and commit a new version."""

from __future__ import annotations

from typing import Annotated

import typer

from marble_graph.cli.context import (
    FormatOption,
    check_format,
    print_json,
    print_table,
    state,
    step_progress,
)


def dream(
    ctx: typer.Context,
    brain: Annotated[str, typer.Argument(help="The brain that dreams.")],
    cycles: Annotated[
        int | None,
        typer.Option(help="Replay steps, 1..100000 (default: the brain's dreams.cycles)."),
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="cpu, cuda or cuda:N (default: core.device).")
    ] = None,
    fmt: FormatOption = "table",
) -> None:
    """Replay batches sampled by salience from the brain's experience buffers through its
    learning step; the result is committed as a new version (Ctrl-C writes nothing)."""
    check_format(fmt, ("table", "json"))
    with state(ctx).compute_service() as service:
        planned = cycles if cycles is not None else service.brain_config(brain).dreams.cycles
        with step_progress(fmt) as progress:
            task = progress.add_task(f"{brain} dreaming", total=planned, status="")

            def on_cycle(done: int, loss: float) -> None:
                progress.update(task, completed=done, status=f"loss {loss:.4f}")

            summary = service.dream(brain, planned, device=device, on_cycle=on_cycle)
    result = summary.as_dict()
    if fmt == "json":
        print_json({"brain": brain, **result})
    else:
        rows = [[k, v] for k, v in result.items() if v is not None]
        print_table(f"dream of {brain}", ["field", "value"], rows)
    if summary.state != "completed":
        raise typer.Exit(1)
