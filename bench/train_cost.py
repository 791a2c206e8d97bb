"""Benchmark: what a whole ``marble train`` costs, and whether it beats a linear model.

Per built-in dataset (``--datasets`` to choose) one JSON line: ``seconds``
is the wall time of the real CLI's ``marble train`` process, from process
start to the committed version, on a brain made by ``marble brain create
NAME --dataset D`` in a fresh temp ``MARBLE_HOME``; ``ms_per_example`` is
the run's recorded training time (sum of its epochs' seconds) over epochs
run times training examples; ``marble`` is ``marble evaluate``'s score of the
committed version on the held-out split; ``baseline`` is scikit-learn's
LogisticRegression accuracy (Ridge MSE for regression) and ``mlp`` a
128-unit PyTorch MLP's, both fitted on the same training split the CLI uses
(``dataset.test_fraction``, ``dataset.split_random_state``, ``stratify``) and
scaled the same way (``Normalisation.fit`` on the training split, so MSE is
in standardised target units for all three). ``meets_target`` applies the
targets of issue 10.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from sklearn.linear_model import LogisticRegression, Ridge
from torch import nn

from marble_graph.config import MarbleConfig
from marble_graph.data_home import DataHome
from marble_graph.datasets import Dataset, load_dataset, split_dataset
from marble_graph.datasets.normalisation import Normalisation
from marble_graph.service import BrainService

DATASETS = ("digits", "wine", "breast_cancer", "diabetes")
MARBLE = str(Path(sys.executable).with_name("marble"))
# Issue 10's targets.
DIGITS_MS_PER_EXAMPLE = 0.8
DIGITS_ACCURACY = 0.97
SMALL_RUN_SECONDS = 15.0  # wine and breast_cancer whole runs
ACCURACY_MARGIN = 0.025
MSE_FACTOR = 1.05
MLP_EPOCHS = 100


def cli(home: Path, *args: str) -> str:
    """Run ``marble ARGS`` with ``MARBLE_HOME=home``; its stdout, or an error with stderr."""
    env = {**os.environ, "MARBLE_HOME": str(home)}
    done = subprocess.run([MARBLE, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"marble {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done.stdout


def splits(dataset: Dataset, config: MarbleConfig) -> tuple[Dataset, Dataset, Dataset]:
    """(train, fit, test) exactly as ``marble train`` makes them, scaled as it scales them."""
    train, test = split_dataset(
        dataset,
        config.dataset.test_fraction,
        config.dataset.split_random_state,
        config.dataset.stratify,
    )
    scaling = Normalisation.fit(train)
    train, test = scaling.apply(train), scaling.apply(test)
    fit = train
    fraction = config.learning.validation_fraction
    if fraction > 0 and train.n_rows >= 10:
        fit, _ = split_dataset(
            train, fraction, config.dataset.split_random_state, config.dataset.stratify
        )
    return train, fit, test


def linear_baseline(train: Dataset, test: Dataset) -> float:
    if train.task == "regression":
        ridge = Ridge(alpha=1.0).fit(train.features, train.targets)
        # Ridge answers [n] for a one-column target: shape it like the targets,
        # or the difference broadcasts to [n, n].
        predicted = ridge.predict(test.features).reshape(test.targets.shape)
        return float(((predicted - test.targets) ** 2).mean())
    labels = train.targets if train.task == "classification" else train.targets[:, 0]
    truth = test.targets if test.task == "classification" else test.targets[:, 0]
    model = LogisticRegression(max_iter=5000).fit(train.features, labels)
    return float((model.predict(test.features) == truth).mean())


def mlp_score(train: Dataset, test: Dataset) -> float:
    """A 128-unit ReLU MLP, Adam 1e-3, batch 64, fixed epochs, fitted on the training split."""
    torch.manual_seed(0)
    outputs = train.n_outputs
    model = nn.Sequential(nn.Linear(train.n_features, 128), nn.ReLU(), nn.Linear(128, outputs))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.from_numpy(train.features), torch.from_numpy(train.targets)
    loss_fn: Any = {
        "classification": nn.functional.cross_entropy,
        "binary": nn.functional.binary_cross_entropy_with_logits,
        "regression": nn.functional.mse_loss,
    }[train.task]
    generator = torch.Generator().manual_seed(0)
    for _ in range(MLP_EPOCHS):
        for batch in torch.randperm(len(x), generator=generator).split(64):
            loss = loss_fn(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        out = model(torch.from_numpy(test.features))
    truth = torch.from_numpy(test.targets)
    if train.task == "regression":
        return float(((out - truth) ** 2).mean())
    if train.task == "classification":
        return float((out.argmax(1) == truth).float().mean())
    return float(((out > 0).float() == truth).float().mean())


def meets_target(name: str, row: dict[str, Any]) -> bool:
    if row["metric"] == "mse":
        quality = row["marble"] <= MSE_FACTOR * row["baseline"]
    else:
        quality = row["marble"] >= row["baseline"] - ACCURACY_MARGIN
    if name == "digits":
        return (
            quality
            and row["ms_per_example"] <= DIGITS_MS_PER_EXAMPLE
            and row["marble"] >= DIGITS_ACCURACY
        )
    if name in ("wine", "breast_cancer"):
        return quality and row["seconds"] < SMALL_RUN_SECONDS
    return bool(quality)


def measure(name: str, epochs: int | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"train-cost-{name}-") as tmp:
        home = Path(tmp) / "home"
        cli(home, "brain", "create", name, "--dataset", name, "--format", "json")
        extra = ["--epochs", str(epochs)] if epochs else []
        started = time.perf_counter()
        trained = json.loads(
            cli(home, "train", name, "--dataset", name, "--format", "json", *extra)
        )
        seconds = time.perf_counter() - started
        scores = json.loads(cli(home, "evaluate", name, "--dataset", name, "--format", "json"))
        run_epochs = json.loads(
            cli(home, "runs", name, "--run", str(trained["run"]), "--format", "json")
        )
        with BrainService(MarbleConfig(), DataHome(home)) as service:
            config = service.brain_config(name)
    dataset = load_dataset(name)
    train, fit, test = splits(dataset, config)
    metric = "mse" if dataset.task == "regression" else "accuracy"
    train_seconds = sum(float(e["seconds"]) for e in run_epochs)
    row: dict[str, Any] = {
        "bench": "train_cost",
        "dataset": name,
        "seconds": round(seconds, 2),
        "train_seconds": round(train_seconds, 2),
        "epochs": len(run_epochs),
        "examples": fit.n_rows,
        "ms_per_example": round(1000 * train_seconds / (len(run_epochs) * fit.n_rows), 4),
        "metric": metric,
        "marble": round(float(scores[metric]), 4),
        "baseline": round(linear_baseline(train, test), 4),
        "mlp": round(mlp_score(train, test), 4),
    }
    row["meets_target"] = meets_target(name, row)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets",
        default=",".join(DATASETS),
        help=f"comma-separated subset of {', '.join(DATASETS)}",
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="override learning.epochs (default: the preset)"
    )
    args = parser.parse_args()
    chosen = [name.strip() for name in args.datasets.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset(s) {', '.join(unknown)}: choose from {', '.join(DATASETS)}")
    for name in chosen:
        print(json.dumps(measure(name, args.epochs)), flush=True)


if __name__ == "__main__":
    main()
