"""Datasets as a brain reads them: a stored version or a built-in / file dataset,
checked against the brain's input and output widths."""

from __future__ import annotations

from dataclasses import dataclass

from marble_graph.config import MarbleConfig
from marble_graph.dataset_versions import load_training_dataset, parse_spec, register_dataset
from marble_graph.datasets import Dataset, load_dataset, split_dataset
from marble_graph.errors import ValidationFailed
from marble_graph.store.home_stores import Stores
from marble_graph.store.metadata.dataset_records import DatasetLink
from marble_graph.tensors import BrainTensors


@dataclass(frozen=True)
class BrainDataset:
    """A dataset loaded for a brain, and the stored version it is (None until registered)."""

    dataset: Dataset
    link: DatasetLink | None

    def registered(self, stores: Stores) -> DatasetLink:
        """The stored version: this one's, or the built-in / file data recorded now."""
        return self.link or register_dataset(stores, self.dataset)


def load_any_dataset(stores: Stores, spec: str, config: MarbleConfig) -> BrainDataset:
    """``spec`` as a stored version (``name``, ``name@3``, ``name@tag``), else a built-in
    name or a file path read with the config's columns."""
    ref = parse_spec(stores, spec)
    if ref is not None:
        dataset, info = load_training_dataset(stores, ref)
        return BrainDataset(dataset, info.link)
    dataset = load_dataset(
        spec,
        feature_columns=config.dataset.feature_columns,
        target_column=config.dataset.target_column,
        random_seed=config.seed.random_seed,
    )
    return BrainDataset(dataset, None)


def load_dataset_for_brain(
    stores: Stores, spec: str, config: MarbleConfig, inputs: int, outputs: int
) -> BrainDataset:
    """Load ``spec`` as the brain's config reads it; its widths must match the brain's."""
    loaded = load_any_dataset(stores, spec, config)
    dataset = loaded.dataset
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
    return loaded


def load_for_brain(
    stores: Stores, spec: str, config: MarbleConfig, tensors: BrainTensors
) -> BrainDataset:
    """``load_dataset_for_brain`` with the widths read from the brain's tensors."""
    inputs, outputs = int(tensors.input_rows.numel()), int(tensors.output_rows.numel())
    return load_dataset_for_brain(stores, spec, config, inputs, outputs)


def split_for_brain(dataset: Dataset, config: MarbleConfig) -> tuple[Dataset, Dataset]:
    """(train, test) as the brain's config splits: its method, fraction and seed."""
    section = config.dataset
    return split_dataset(
        dataset,
        section.test_fraction,
        section.split_random_state,
        section.stratify,
        method=section.split,
    )
