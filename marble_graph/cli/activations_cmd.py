"""``marble activations NAME --input [..]``: every neuron's final state for one input.

``--format json`` prints the whole answer (the REST route's fields); the
table shows the outputs and the ``--top`` neurons whose states have the
largest norm, the ones the input moved most to read first.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
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
from marble_graph.service import NeuronActivations

DEFAULT_TOP = 20


def activations(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The brain.")],
    input_: Annotated[
        str | None, typer.Option("--input", "-i", help="JSON: one input row [..].")
    ] = None,
    obj: Annotated[
        str | None,
        typer.Option("--object", help="JSON: one raw object, encoded as the brain's dataset was."),
    ] = None,
    top: Annotated[
        int, typer.Option("--top", "-n", help="Neurons to list in the table, strongest first.")
    ] = DEFAULT_TOP,
    version: Annotated[
        str | None,
        typer.Option("--version", help="Run this retained version (number or tag)."),
    ] = None,
    fmt: FormatOption = "table",
) -> None:
    """Every neuron's final state for one input, with the brain's outputs, from the current
    version or --version (changes nothing)."""
    check_format(fmt, ("table", "json"))
    if top < 1:
        raise ValidationFailed(f"--top must be at least 1, got {top}")
    features = json_option(input_, "--input")
    raw_object = json_option(obj, "--object")
    with state(ctx).compute_service() as service:
        found = service.activations(name, features, obj=raw_object, version=version)
    if fmt == "json":
        print_json(_as_json(found))
    else:
        _print_summary(found, top)


def _as_json(found: NeuronActivations) -> dict[str, Any]:
    """The answer with the REST route's field names."""
    probabilities = found.probabilities
    return {
        "brain": found.brain,
        "version": found.version,
        "representation_size": found.representation_size,
        "neurons": found.neuron_ids.tolist(),
        "kinds": found.kinds,
        "states": found.states.tolist(),
        "outputs": found.outputs.tolist(),
        "probabilities": None if probabilities is None else probabilities.tolist(),
    }


def _print_summary(found: NeuronActivations, top: int) -> None:
    kinds = np.asarray(found.kinds)
    names, counts = np.unique(kinds, return_counts=True)
    by_kind = ", ".join(f"{count} {kind}" for kind, count in zip(names, counts, strict=True))
    typer.echo(
        f"{found.brain} v{found.version}: {len(kinds)} neurons ({by_kind}), "
        f"{found.representation_size} values per state"
    )
    typer.echo(f"outputs: {[round(v, 4) for v in found.outputs.tolist()]}")
    if found.probabilities is not None:
        typer.echo(f"probabilities: {[round(v, 4) for v in found.probabilities.tolist()]}")
    norms = np.linalg.norm(found.states, axis=1)  # [N]
    strongest = np.argsort(-norms, kind="stable")[:top]
    print_table(
        f"the {len(strongest)} neurons with the largest state norm",
        ["neuron", "kind", "norm", "state"],
        [
            [
                int(found.neuron_ids[row]),
                found.kinds[row],
                round(float(norms[row]), 4),
                [round(v, 3) for v in found.states[row].tolist()],
            ]
            for row in strongest
        ],
    )
