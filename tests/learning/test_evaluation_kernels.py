"""A trainer's validation runs the C kernels; its predict, inference and serving do not."""

from __future__ import annotations

import pytest
import torch

from marble_graph.config import config_from_mapping
from marble_graph.datasets import load_dataset
from marble_graph.datasets.normalisation import Normalisation
from marble_graph.learning.losses import Objective
from marble_graph.learning.trainer import Trainer
from marble_graph.model import fused_attention, fused_update
from marble_graph.model.c_library import kernels_allowed, kernels_without_grad
from marble_graph.seed.mandelbrot import seed_brain_graph
from marble_graph.tensors import BrainTensors
from tests.compiler import needs_compiler


def test_kernels_are_allowed_without_grad_only_inside_the_block() -> None:
    with torch.no_grad():
        assert not kernels_allowed()
        with kernels_without_grad():
            assert kernels_allowed()
        assert not kernels_allowed()
    assert kernels_allowed()  # training: autograd on


@needs_compiler("the kernels")
def test_validation_runs_the_kernels_and_scores_as_the_pytorch_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wine = load_dataset("wine")
    wine = Normalisation.fit(wine).apply(wine)
    config = config_from_mapping(
        {"seed": {"width": 6, "height": 6, "input_neurons": 13, "output_neurons": 3}}
    )
    tensors = BrainTensors.from_graph(seed_brain_graph(config))
    trainer = Trainer(
        tensors, config, Objective.for_task("classification"), device=torch.device("cpu")
    )
    trainer.fit(wine, None, 2)

    calls: list[str] = []
    real_attention, real_update = fused_attention.attention_mean, fused_update.fused_gated_update

    def counted_attention(*args: object) -> torch.Tensor:
        calls.append("attention")
        return real_attention(*args)  # type: ignore[arg-type]

    def counted_update(*args: object) -> torch.Tensor:
        calls.append("update")
        return real_update(*args)  # type: ignore[arg-type]

    monkeypatch.setattr("marble_graph.model.conv.attention_mean", counted_attention)
    monkeypatch.setattr("marble_graph.model.conv.fused_gated_update", counted_update)
    validated = trainer._validate(wine)
    assert "attention" in calls and "update" in calls

    calls.clear()
    evaluated = trainer.evaluate(wine)  # the PyTorch operations, as serving runs them
    assert calls == []
    assert validated["accuracy"] == evaluated["accuracy"]
    assert validated["loss"] == pytest.approx(evaluated["loss"], rel=1e-5)
