"""``marble train``, ``marble infer`` and ``marble runs``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from marble_graph.cli.context import (
    FormatOption,
    check_format,
    console,
    err_console,
    print_json,
    print_table,
    state,
    step_progress,
)
from marble_graph.errors import ValidationFailed
from marble_graph.threads import rebalance_threads


def train(
    ctx: typer.Context,
    brain: Annotated[str, typer.Argument(help="The brain to train.")],
    dataset: Annotated[
        str,
        typer.Option(
            "--dataset",
            "-d",
            help="digits, sine, wine, breast_cancer, diabetes, or a .csv/.jsonl file.",
        ),
    ] = "digits",
    epochs: Annotated[int | None, typer.Option(help="Epochs (default: learning.epochs).")] = None,
    device: Annotated[
        str | None, typer.Option(help="cpu, cuda or cuda:N (default: core.device).")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the latest interrupted run.")
    ] = False,
    if_untrained: Annotated[
        bool, typer.Option("--if-untrained", help="Do nothing if the brain was trained before.")
    ] = False,
    fmt: FormatOption = "table",
) -> None:
    """Train a brain on a dataset and write the result back as a new version."""
    check_format(fmt, ("table", "json"))
    if epochs is not None and epochs < 1:
        raise ValidationFailed(f"--epochs must be at least 1, got {epochs}")
    with state(ctx).compute_service() as service:
        if if_untrained and service.list_runs(brain, state="completed"):
            err_console.print(f"brain {brain!r} is already trained; nothing to do")
            return
        planned = epochs or service.brain_config(brain).learning.epochs
        with step_progress(fmt) as progress:
            task = progress.add_task(f"training {brain}", total=planned, status="")

            def on_epoch(metrics: dict[str, Any]) -> None:
                progress.update(task, completed=metrics["epoch"], status=_epoch_status(metrics))
                # On the training thread, where torch's intra-op size applies: give
                # cores to MARBLE processes started since, take back those that ended.
                rebalance_threads()

            summary = service.train(
                brain,
                dataset,
                epochs=epochs,
                device=device,
                resume=resume,
                on_epoch=on_epoch,
            )
    result = {
        "run": summary.run_id,
        "state": summary.state,
        "version": summary.version,
        "epochs": summary.epochs,
        "test": summary.test,
        "baseline": summary.baseline,
        "reason": summary.reason,
    }
    if fmt == "json":
        print_json({**result, "history": summary.history})
        return
    rows = [
        [k, json.dumps(v) if isinstance(v, dict) else v] for k, v in result.items() if v is not None
    ]
    print_table(f"run {summary.run_id} of {brain}", ["field", "value"], rows)
    if summary.state != "completed":
        raise typer.Exit(1)


def infer_command(
    ctx: typer.Context,
    brain: Annotated[str, typer.Argument(help="The brain to ask.")],
    input_: Annotated[
        str | None,
        typer.Option("--input", "-i", help="JSON: one example [..] or a batch [[..], ..]."),
    ] = None,
    input_file: Annotated[
        Path | None, typer.Option("--input-file", help="A JSON file holding the same.")
    ] = None,
    device: Annotated[str | None, typer.Option(help="cpu or cuda.")] = None,
    version: Annotated[
        str | None,
        typer.Option("--version", help="Serve this retained version (number or tag)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="json or table.")] = "json",
) -> None:
    """Run inference with the brain's current version, or --version (changes nothing)."""
    check_format(fmt, ("table", "json"))
    if (input_ is None) == (input_file is None):
        raise ValidationFailed("give exactly one of --input JSON or --input-file PATH")
    source = "--input" if input_ is not None else str(input_file)
    try:
        text = input_ if input_ is not None else Path(str(input_file)).read_text(encoding="utf-8")
        values = json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        raise ValidationFailed(f"{source}: not valid JSON ({exc})") from exc
    try:
        features = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(
            f"{source}: expected a list of numbers or a list of lists ({exc})"
        ) from exc
    with state(ctx).compute_service() as service:
        result = service.infer(brain, features, device, version)
    payload: dict[str, Any] = {
        "brain": brain,
        "version": result.version,
        "outputs": result.outputs.tolist(),
    }
    if result.labels is not None:
        payload["labels"] = result.labels.tolist()
    if fmt == "json":
        print_json(payload)
    else:
        labels = payload.get("labels", [None] * len(payload["outputs"]))
        print_table(
            f"{brain} v{result.version}",
            ["row", "label", "outputs"],
            [
                [i, label, [round(v, 4) for v in out]]
                for i, (label, out) in enumerate(zip(labels, payload["outputs"], strict=True))
            ],
        )


def evaluate(
    ctx: typer.Context,
    brain: Annotated[str, typer.Argument(help="The brain to score.")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="As for train.")] = "digits",
    split: Annotated[str, typer.Option(help="test (the split training held out) or all.")] = "test",
    fmt: FormatOption = "table",
) -> None:
    """Score the brain's current version on a dataset (changes nothing)."""
    check_format(fmt, ("table", "json"))
    with state(ctx).compute_service() as service:
        metrics = service.evaluate(brain, dataset, split=split)
    if fmt == "json":
        print_json(metrics)
    else:
        print_table(
            f"{brain} on {dataset} ({split})",
            ["metric", "value"],
            [[k, round(v, 5)] for k, v in metrics.items()],
        )


def runs(
    ctx: typer.Context,
    brain: Annotated[str, typer.Argument(help="The brain whose runs to list.")],
    run: Annotated[int | None, typer.Option(help="Show this run's per-epoch metrics.")] = None,
    fmt: FormatOption = "table",
) -> None:
    """List a brain's training runs, or one run's per-epoch metrics."""
    check_format(fmt, ("table", "json"))
    with state(ctx).service() as service:
        rows = service.list_runs(brain) if run is None else service.run_epochs(run)
    if fmt == "json":
        print_json(rows)
        return
    if not rows:
        console.print("no runs yet")
        return
    columns = list(rows[0])
    print_table(None, columns, [[_short(r.get(c)) for c in columns] for r in rows])


def _epoch_status(metrics: dict[str, Any]) -> str:
    parts = [f"loss {metrics['loss']:.4f}"]
    for key in ("val_accuracy", "val_mse"):
        if key in metrics:
            parts.append(f"{key.removeprefix('val_')} {metrics[key]:.4f}")
    parts.append(f"lr×{metrics['lr_factor']:.2f}")
    return "  ".join(parts)


def _short(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, dict):
        return json.dumps({k: round(v, 5) if isinstance(v, float) else v for k, v in value.items()})
    return value
