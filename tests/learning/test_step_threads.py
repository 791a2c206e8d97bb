"""How a CPU training step uses the process's threads (trainer.SMALL_STEP_FLOATS)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import torch

from marble_graph.config import config_from_mapping
from marble_graph.datasets import load_dataset
from marble_graph.datasets.normalisation import Normalisation
from marble_graph.learning.losses import Objective
from marble_graph.learning.trainer import SMALL_STEP_FLOATS, Trainer
from marble_graph.model.c_library import kernel_threads
from marble_graph.seed.mandelbrot import seed_brain_graph
from marble_graph.tensors import BrainTensors


@pytest.fixture
def two_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def small_trainer() -> Trainer:
    """A 4x4 brain for wine (13 features, 3 classes)."""
    config = config_from_mapping(
        {"seed": {"width": 4, "height": 4, "input_neurons": 13, "output_neurons": 3}}
    )
    tensors = BrainTensors.from_graph(seed_brain_graph(config))
    objective = Objective.for_task("classification")
    return Trainer(tensors, config, objective, device=torch.device("cpu"))


def test_a_small_step_runs_torch_on_one_thread_and_the_kernels_on_all(two_threads: None) -> None:
    trainer = small_trainer()
    with trainer._step_threads(8):
        assert torch.get_num_threads() == 1
        assert kernel_threads.parts(8) == [(0, 4), (4, 8)]
    assert torch.get_num_threads() == 2
    assert kernel_threads.parts(8) == [(0, 4), (4, 8)]  # torch's count again


def test_a_large_step_keeps_torch_threads(two_threads: None) -> None:
    trainer = small_trainer()
    per_example = trainer.tensors.num_neurons * int(trainer.model.state.shape[1])
    with trainer._step_threads(SMALL_STEP_FLOATS // per_example + 1):
        assert torch.get_num_threads() == 2


def test_the_threads_come_back_when_the_step_fails(two_threads: None) -> None:
    trainer = small_trainer()
    with pytest.raises(RuntimeError), trainer._step_threads(8):
        raise RuntimeError("step failed")
    assert torch.get_num_threads() == 2


def test_a_kernel_split_set_on_one_thread_leaves_other_threads_alone(two_threads: None) -> None:
    seen: list[list[tuple[int, int]]] = []
    with kernel_threads.splitting_over(4):
        other = threading.Thread(target=lambda: seen.append(kernel_threads.parts(8)))
        other.start()
        other.join()
        assert kernel_threads.parts(8) == [(0, 2), (2, 4), (4, 6), (6, 8)]
    # The other thread never set a split: it follows its own torch count.
    assert len(seen[0]) != 4


def test_training_on_small_steps_learns_and_gives_the_threads_back(two_threads: None) -> None:
    wine = load_dataset("wine")
    wine = Normalisation.fit(wine).apply(wine)
    trainer = small_trainer()
    threads_in_steps: list[int] = []
    original = trainer._train_step

    def recording(features: torch.Tensor, targets: torch.Tensor) -> tuple[float, float]:
        threads_in_steps.append(torch.get_num_threads())
        return original(features, targets)

    trainer._train_step = recording  # type: ignore[method-assign]
    result = trainer.fit(wine, None, 8)
    assert set(threads_in_steps) == {1}
    assert torch.get_num_threads() == 2
    assert result.history[-1]["loss"] < 0.5 * result.history[0]["loss"]
