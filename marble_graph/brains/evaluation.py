"""Scoring a brain's current version on a dataset (changes nothing)."""

from __future__ import annotations

import torch

from marble_graph.brains.brain_datasets import load_for_brain, split_for_brain
from marble_graph.brains.serving import ServingModel
from marble_graph.errors import ValidationFailed
from marble_graph.learning.losses import Objective
from marble_graph.store.home_stores import Stores


def evaluate_brain(
    stores: Stores,
    name: str,
    dataset_spec: str,
    *,
    split: str = "test",
    device: torch.device,
) -> dict[str, float]:
    """Score the current version on a dataset's ``test`` split (as training held it out),
    or on ``all`` of it. Changes nothing."""
    if split not in ("test", "all"):
        raise ValidationFailed(f"split {split!r}: expected test or all")
    serving = ServingModel.load(stores, name, device)
    config = serving.loaded.config
    dataset = load_for_brain(stores, dataset_spec, config, serving.loaded.tensors).dataset
    if split == "test":
        _, dataset = split_for_brain(dataset, config)
    objective = Objective.for_task(dataset.task, config.learning.loss)
    # Scored in the space the brain trained in (regression MSE in standardised
    # target units), the same units as the training run's test metrics.
    outputs = serving.forward(dataset.features)
    scaled = serving.normalisation.apply(dataset)
    return objective.evaluate(outputs.cpu(), objective.targets(scaled, "cpu"))
