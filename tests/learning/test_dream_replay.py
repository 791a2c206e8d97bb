"""Dream replay through the Trainer: recording, scheduled dreams, and what they buy.

The gain test is bench/dream_replay.py made small: digits 0-4, then 5-9, on
a smaller grid with fewer epochs.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from marble_graph.config import MarbleConfig, config_from_mapping
from marble_graph.datasets import Dataset, load_dataset, split_dataset
from marble_graph.errors import ValidationFailed
from marble_graph.learning.losses import Objective
from marble_graph.learning.trainer import Trainer
from marble_graph.presets import preset_config
from marble_graph.seed import seed_brain_graph
from marble_graph.tensors import BrainTensors

CPU = torch.device("cpu")
DREAMS = {
    "record": True,
    "instant_capacity": 64,
    "long_term_capacity": 1000,
    "cycles": 8,
    "every_epochs": 1,
    "after_run": True,
}


def small_config(dreams: dict[str, Any], epochs: int = 4) -> MarbleConfig:
    user = config_from_mapping(
        {
            "dreams": dreams,
            "learning": {"epochs": epochs},
            "seed": {"width": 8, "height": 8, "output_fanin": 32, "input_fanout": 12},
        }
    )
    return preset_config("classification", 64, 10, user, n_rows=1797)


def digit_tasks() -> tuple[Dataset, Dataset, Dataset]:
    """Train rows of digits 0-4, of 5-9, and test rows of 0-4 (ten classes each)."""
    train, test = split_dataset(load_dataset("digits"), 0.25, random_state=0, stratify=True)
    return (
        train.subset(train.targets < 5),
        train.subset(train.targets >= 5),
        test.subset(test.targets < 5),
    )


def run(config: MarbleConfig, trainer: Trainer | None, task: Dataset) -> Trainer:
    """One training run, as brains/training.py runs it; the next run continues from it."""
    if trainer is None:
        tensors = BrainTensors.from_graph(seed_brain_graph(config))
        shared, experience, step = None, None, 0
    else:
        tensors, shared = trainer.result()
        experience, step = trainer.experience_state(), trainer.step
    objective = Objective.for_task("classification")
    following = Trainer(tensors, config, objective, shared, CPU, step=step, experience=experience)
    following.fit(task, None, config.learning.epochs)
    following.dream_after_run()
    return following


def test_dreams_between_tasks_keep_task_a() -> None:
    task_a, task_b, test_a = digit_tasks()
    scores = {}
    for label, dreams in {
        "with": DREAMS,
        "without": {**DREAMS, "every_epochs": 0, "after_run": False},
    }.items():
        config = small_config(dreams)
        after_b = run(config, run(config, None, task_a), task_b)
        scores[label] = after_b.evaluate(test_a)["accuracy"]
    # Without dreams task B overwrites A (close to 0); replay keeps most of it.
    assert scores["with"] - scores["without"] >= 0.3, scores


def test_recording_does_not_change_training() -> None:
    task_a, _, _ = digit_tasks()
    recorded = run(small_config({"record": True}, epochs=1), None, task_a)
    unrecorded = run(small_config({"record": False}, epochs=1), None, task_a)
    for a, b in zip(recorded.result()[1].values(), unrecorded.result()[1].values(), strict=True):
        assert torch.equal(a, b)
    assert recorded.buffers.long_term.size == 100  # the default long-term capacity
    assert unrecorded.experience_state() is None


def test_scheduled_dreams_are_in_the_epoch_metrics() -> None:
    task_a, _, _ = digit_tasks()
    config = small_config({**DREAMS, "every_epochs": 2, "cycles": 3}, epochs=2)
    objective = Objective.for_task("classification")
    trainer = Trainer(BrainTensors.from_graph(seed_brain_graph(config)), config, objective)
    history = trainer.fit(task_a, None, 2).history
    assert [h["dream_cycles"] for h in history] == [0, 3]
    assert history[0]["dream_loss"] is None and history[1]["dream_loss"] > 0


def test_a_dream_stops_when_asked_and_refuses_an_empty_buffer() -> None:
    task_a, _, _ = digit_tasks()
    config = small_config({"every_epochs": 0}, epochs=1)
    objective = Objective.for_task("classification")
    trainer = Trainer(BrainTensors.from_graph(seed_brain_graph(config)), config, objective)
    with pytest.raises(ValidationFailed, match="nothing to replay"):
        trainer.dream(1)
    trainer.fit(task_a, None, 1)
    cycles: list[int] = []
    result = trainer.dream(
        10, on_cycle=lambda done, _: cycles.append(done), should_stop=lambda: len(cycles) >= 2
    )
    assert result.status == "cancelled" and result.cycles == 2 and cycles == [1, 2]
