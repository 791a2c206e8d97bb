"""Benchmark: does dream replay keep an old task alive while a brain learns a new one?

Digits in two tasks, one after the other: task A is the digits 0-4, task B
5-9, both with the ten output classes. A brain of the classification preset
trains on A, then on B, as two training runs of ``marble train`` (a fresh
Trainer per run, the brain, its shared layer and its experience buffers
carried from one run to the next). Run 1 dreams as a user would configure it:
``dreams.after_run`` (between the tasks) and ``dreams.every_epochs`` (during
B); run 2 is the same brain, seeds and epochs with no dream at all. Both
record experiences. Task A's held-out accuracy after B is the score.

Prints ONE JSON line: task_a_with_dreams, task_a_without_dreams, gain (their
difference, in accuracy units; the acceptance bar is 0.15), epochs, cycles,
seconds.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import marble_graph  # noqa: F401  # isort: skip  (before torch: passive OpenMP waiting)

import torch

from marble_graph.config import MarbleConfig, config_from_mapping
from marble_graph.datasets import Dataset, load_dataset, split_dataset
from marble_graph.datasets.normalisation import Normalisation
from marble_graph.devices import resolve_device
from marble_graph.learning.losses import Objective
from marble_graph.learning.trainer import Trainer
from marble_graph.presets import preset_config
from marble_graph.seed import seed_brain_graph
from marble_graph.tensors import BrainTensors

REQUIRED_GAIN = 0.15
# Dreams as a user would configure them for learning tasks in sequence: the
# default buffers (an instant buffer of 10, a long-term one of 100, so a dream
# replays a small sample of the past), one dream at the end of each run
# (between the tasks) and one after every epoch of the next.
DREAMS = {
    "record": True,
    "instant_capacity": 10,
    "long_term_capacity": 100,
    "sampling": "linear",
    "cycles": 10,
    "every_epochs": 1,
    "after_run": True,
}
NO_DREAMS = {**DREAMS, "every_epochs": 0, "after_run": False}


def digit_tasks() -> tuple[tuple[Dataset, Dataset], tuple[Dataset, Dataset]]:
    """(train, test) of task A (digits 0-4) and of task B (5-9), ten classes each,
    split and scaled as ``marble train`` would (scaling fitted on A's training rows)."""
    dataset = load_dataset("digits")
    train, test = split_dataset(dataset, 0.25, random_state=0, stratify=True)
    scaling = Normalisation.fit(train.subset(train.targets < 5))
    train, test = scaling.apply(train), scaling.apply(test)
    task_a = (train.subset(train.targets < 5), test.subset(test.targets < 5))
    task_b = (train.subset(train.targets >= 5), test.subset(test.targets >= 5))
    return task_a, task_b


def brain_config(dreams: dict[str, Any], epochs: int) -> MarbleConfig:
    """The classification preset for digits, with these dream settings and epochs."""
    user = config_from_mapping({"dreams": dreams, "learning": {"epochs": epochs}})
    return preset_config("classification", 64, 10, user, n_rows=1797)


def train_run(
    config: MarbleConfig,
    tensors: BrainTensors,
    shared: dict[str, torch.Tensor] | None,
    experience: dict[str, torch.Tensor] | None,
    step: int,
    task: Dataset,
    device: torch.device,
) -> tuple[BrainTensors, dict[str, torch.Tensor], dict[str, torch.Tensor] | None, int]:
    """One training run as ``marble train`` runs it: fit with a validation split, restore
    the best epoch, dream after the run when configured; returns what the version keeps."""
    trainer = Trainer(
        tensors,
        config,
        Objective.for_task("classification"),
        shared,
        device,
        step=step,
        experience=experience,
    )
    fit, validation = split_dataset(
        task, config.learning.validation_fraction, random_state=0, stratify=True
    )
    trainer.fit(fit, validation, config.learning.epochs)
    trainer.restore_best()
    trainer.dream_after_run()
    tensors, shared_state = trainer.result()
    return tensors, shared_state, trainer.experience_state(), trainer.step


def task_a_after_b(dreams: dict[str, Any], epochs: int, device: torch.device) -> float:
    """Train A then B with ``dreams``; task A's test accuracy at the end."""
    (train_a, test_a), (train_b, _) = digit_tasks()
    config = brain_config(dreams, epochs)
    tensors = BrainTensors.from_graph(seed_brain_graph(config))
    tensors, shared, experience, step = train_run(config, tensors, None, None, 0, train_a, device)
    tensors, shared, experience, step = train_run(
        config, tensors, shared, experience, step, train_b, device
    )
    evaluator = Trainer(tensors, config, Objective.for_task("classification"), shared, device)
    return evaluator.evaluate(test_a)["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--epochs", type=int, default=8, help="epochs of each task's run")
    args = parser.parse_args()
    device = resolve_device(args.device)
    started = time.perf_counter()
    with_dreams = task_a_after_b(DREAMS, args.epochs, device)
    without_dreams = task_a_after_b(NO_DREAMS, args.epochs, device)
    gain = with_dreams - without_dreams
    print(
        json.dumps(
            {
                "bench": "dream_replay",
                "task_a_with_dreams": round(with_dreams, 4),
                "task_a_without_dreams": round(without_dreams, 4),
                "gain": round(gain, 4),
                "required_gain": REQUIRED_GAIN,
                "meets_target": gain >= REQUIRED_GAIN,
                "epochs": args.epochs,
                "cycles": DREAMS["cycles"],
                "dreams": DREAMS,
                "device": str(device),
                "seconds": round(time.perf_counter() - started, 2),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
