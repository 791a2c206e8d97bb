"""Neuron activations: every neuron's final state for one input, with the brain's answer.

The explorer draws them as a heatmap (one row per neuron, one column per
component of its state); every interface (CLI, REST, GraphQL, SDK) serves
them from here. One forward pass of the brain's current version (or of a
retained version asked for by number or tag, as inference serves) computes
the states and the outputs together (``ServingModel.activations``), with the
signals and feature scaling inference uses, so the states are those behind
the prediction shown beside them. docs/model.md (Activations) describes what
a state is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from marble_graph.brain_graph import NEURON_KINDS
from marble_graph.brains import object_inference
from marble_graph.brains.serving import ModelCache, ServingModel
from marble_graph.errors import ValidationFailed
from marble_graph.store.home_stores import Stores
from marble_graph.store.metadata.version_history import VersionRef

# Index -> name of BrainTensors.kind, for one vectorised lookup of every neuron's kind.
_KIND_NAMES = np.asarray(NEURON_KINDS)


@dataclass(frozen=True)
class NeuronActivations:
    """Every neuron's final state for one input of a brain version, and its outputs."""

    brain: str
    version: int
    neuron_ids: np.ndarray  # [N] int64, ascending: the graph's neuron ids
    kinds: list[str]  # [N] "input", "hidden", "output" (or "concept"), same order
    states: np.ndarray  # [N, R] float32, same order
    outputs: np.ndarray  # [O] float32: logits, or regression values in the target's units
    probabilities: np.ndarray | None  # [O] float32 for classification and binary brains
    representation_size: int


def neuron_activations(
    stores: Stores,
    models: ModelCache,
    name: str,
    *,
    inputs: Sequence[float] | np.ndarray | None = None,
    obj: object | None = None,
    version: VersionRef | None = None,
) -> NeuronActivations:
    """Every neuron's final state for one input of ``name``'s current version, or of
    exactly ``version`` (a number or a tag) while retention keeps it.

    The input is one row of numbers as wide as the brain's inputs
    (``inputs``), or one raw object (``obj``) encoded as the version's
    training data was. Deterministic; changes nothing.
    """
    if (inputs is None) == (obj is None):
        given = "both" if inputs is not None else "neither"
        raise ValidationFailed(
            f"activations take one input: inputs (a row of numbers) or an object, got {given}"
        )
    model = models.get(name, version)
    features = _one_row(model, inputs) if inputs is not None else _object_row(stores, model, obj)
    states, inference = model.activations(features)
    tensors = model.loaded.tensors
    kinds = _KIND_NAMES[tensors.kind.cpu().numpy()]
    probabilities = inference.probabilities
    return NeuronActivations(
        brain=name,
        version=inference.version,
        neuron_ids=tensors.neuron_id.cpu().numpy().astype(np.int64, copy=False),
        kinds=kinds.tolist(),
        states=states[0],
        outputs=inference.outputs[0].astype(np.float32, copy=False),
        probabilities=None if probabilities is None else probabilities[0].astype(np.float32),
        representation_size=tensors.representation_size,
    )


def _one_row(model: ServingModel, inputs: Sequence[float] | np.ndarray) -> np.ndarray:
    """``inputs`` as one row [1, I] (float64: ``check_features`` then reports overflow and
    non-finite values by column), with errors that name the brain's width."""
    try:
        values = np.asarray(inputs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"inputs: not a list of numbers: {exc}") from exc
    if values.ndim == 2 and values.shape[0] == 1:
        values = values[0]
    if values.ndim != 1 or values.size == 0:
        raise ValidationFailed(
            f"inputs: expected one row of {model.input_width} numbers, got shape {values.shape}"
        )
    if values.shape[0] != model.input_width:
        raise ValidationFailed(
            f"inputs width mismatch: {values.shape[0]} values; brain {model.name!r} reads "
            f"{model.input_width} inputs"
        )
    return values[None, :]


def _object_row(stores: Stores, model: ServingModel, obj: object) -> np.ndarray:
    """One raw object encoded as the data of the version serving ``model`` was."""
    encoding = object_inference.version_encoding(stores, model.name, model.version)
    table = object_inference.objects_table(encoding, [obj])
    return np.asarray(encoding.encode_inputs(table), dtype=np.float64)
