"""Benchmark: does MARBLE learn? Digits with the default classification preset.

Trains the preset brain on scikit-learn's bundled digits (stratified 75/25
split, random_state=0, features scaled from the training split as ``marble
train`` scales them) and, in the same run, a plain 128-unit PyTorch MLP on
the same scaled rows.
Prints one JSON object per model: test accuracy, seconds to 95% test
accuracy (checked after every epoch), total seconds, device. The acceptance
bar is at least 97% for MARBLE (issue 10; bench/train_cost.py times it).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any

import marble_graph  # noqa: F401  # isort: skip  (before torch: passive OpenMP waiting)

import torch
from torch import nn

from marble_graph.config import config_from_mapping
from marble_graph.datasets import Dataset, load_dataset, split_dataset
from marble_graph.datasets.normalisation import Normalisation
from marble_graph.devices import resolve_device
from marble_graph.learning.losses import Objective
from marble_graph.learning.trainer import Trainer
from marble_graph.presets import explicit_values, preset_config
from marble_graph.seed import seed_brain_graph
from marble_graph.tensors import BrainTensors

TARGET_ACCURACY = 0.97
MILESTONE = 0.95


def digits_splits() -> tuple[Dataset, Dataset, Dataset]:
    """Digits, and its training and test splits scaled from the training split, as
    `marble train` splits and scales them."""
    dataset = load_dataset("digits")
    train, test = split_dataset(dataset, 0.25, random_state=0, stratify=True)
    scaling = Normalisation.fit(train)
    return dataset, scaling.apply(train), scaling.apply(test)


def run_marble(
    device: torch.device, overrides: dict[str, Any], epochs: int | None
) -> dict[str, Any]:
    dataset, train, test = digits_splits()
    user = config_from_mapping(overrides) if overrides else None
    # As `marble brain create --dataset digits` does: the preset sized to the rows.
    config = preset_config(
        "classification", dataset.n_features, dataset.n_outputs, user, n_rows=dataset.n_rows
    )
    epochs = epochs or config.learning.epochs
    trainer = Trainer(
        BrainTensors.from_graph(seed_brain_graph(config)),
        config,
        Objective.for_task("classification"),
        device=device,
    )
    started = time.perf_counter()
    curve: list[float] = []
    to_milestone: list[float] = []

    def on_epoch(metrics: dict[str, Any]) -> None:
        # Test accuracy per epoch is only reported; selection uses validation loss.
        accuracy = trainer.evaluate(test)["accuracy"]
        curve.append(round(accuracy, 4))
        if accuracy >= MILESTONE and not to_milestone:
            to_milestone.append(time.perf_counter() - started)

    # As `marble train` does: hold out learning.validation_fraction of the training part.
    fraction = config.learning.validation_fraction
    fit, validation = split_dataset(train, fraction, random_state=0, stratify=True)
    result = trainer.fit(fit, validation, epochs, on_epoch)
    best_epoch = trainer.restore_best()
    total = time.perf_counter() - started
    accuracy = trainer.evaluate(test)["accuracy"]
    counts = {
        k: sum(h[k] for h in result.history)
        for k in ("shortcut", "concept", "split", "prune", "neurogenesis")
    }
    return {
        "bench": "learn_digits",
        "model": "marble",
        "device": str(device),
        "test_accuracy": round(accuracy, 4),
        "target_accuracy": TARGET_ACCURACY,
        "meets_target": accuracy >= TARGET_ACCURACY,
        "seconds_to_95": round(to_milestone[0], 2) if to_milestone else None,
        "total_seconds": round(total, 2),
        "epochs": epochs,
        "best_validation_epoch": best_epoch,
        "neurons": trainer.tensors.num_neurons,
        "synapses": trainer.tensors.num_synapses,
        "plasticity": counts,
        "accuracy_per_epoch": curve,
        "overrides": explicit_values(user) if user else {},
    }


def run_mlp(device: torch.device, epochs: int = 100) -> dict[str, Any]:
    _, train, test = digits_splits()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.from_numpy(train.features).to(device), torch.from_numpy(train.targets).to(device)
    xt, yt = torch.from_numpy(test.features).to(device), torch.from_numpy(test.targets).to(device)
    started, to_milestone = time.perf_counter(), None
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).to(device).split(64):
            loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            accuracy = float((model(xt).argmax(1) == yt).float().mean())
        if accuracy >= MILESTONE and to_milestone is None:
            to_milestone = time.perf_counter() - started
    return {
        "bench": "learn_digits",
        "model": "mlp128",
        "device": str(device),
        "test_accuracy": round(accuracy, 4),
        "seconds_to_95": round(to_milestone, 2) if to_milestone is not None else None,
        "total_seconds": round(time.perf_counter() - started, 2),
        "epochs": epochs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--epochs", type=int, default=None, help="default: the preset's")
    parser.add_argument(
        "--override",
        default="{}",
        help='JSON config overrides, e.g. {"core": {"representation_size": 32}}',
    )
    parser.add_argument("--skip-mlp", action="store_true")
    args = parser.parse_args()
    device = resolve_device(args.device)
    machine = {"machine": platform.machine(), "threads": torch.get_num_threads()}
    print(
        json.dumps({**run_marble(device, json.loads(args.override), args.epochs), **machine}),
        flush=True,
    )
    if not args.skip_mlp:
        print(json.dumps({**run_mlp(device), **machine}), flush=True)


if __name__ == "__main__":
    main()
