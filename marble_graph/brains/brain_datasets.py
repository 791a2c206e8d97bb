"""Datasets as a brain reads them: its config's columns, its input and output widths."""

from __future__ import annotations

from marble_graph.config import MarbleConfig
from marble_graph.datasets import Dataset, load_dataset
from marble_graph.errors import ValidationFailed
from marble_graph.tensors import BrainTensors


def load_dataset_for_brain(spec: str, config: MarbleConfig, inputs: int, outputs: int) -> Dataset:
    """Load ``spec`` as the brain's config reads it; its widths must match the brain's."""
    dataset = load_dataset(
        spec,
        feature_columns=config.dataset.feature_columns,
        target_column=config.dataset.target_column,
        random_seed=config.seed.random_seed,
    )
    if dataset.n_features != inputs:
        raise ValidationFailed(
            f"input width mismatch: the brain has {inputs} input neurons, "
            f"dataset {dataset.name!r} has {dataset.n_features} features"
        )
    if dataset.n_outputs != outputs:
        raise ValidationFailed(
            f"output width mismatch: the brain has {outputs} output neurons, "
            f"dataset {dataset.name!r} needs {dataset.n_outputs}"
        )
    return dataset


def load_for_brain(spec: str, config: MarbleConfig, tensors: BrainTensors) -> Dataset:
    """``load_dataset_for_brain`` with the widths read from the brain's tensors."""
    inputs, outputs = int(tensors.input_rows.numel()), int(tensors.output_rows.numel())
    return load_dataset_for_brain(spec, config, inputs, outputs)
