"""ScriptedForward: the TorchScript inference forward gives BrainModel's outputs to the bit."""

from __future__ import annotations

import pytest
import torch

from marble_graph.config import config_from_mapping
from marble_graph.model import BrainModel, scripted_forward
from marble_graph.model.predictions import task_predictions
from marble_graph.model.scripted_forward import ScriptedForward
from marble_graph.seed import seed_brain_graph
from marble_graph.tensors import BrainTensors
from marble_graph.tensors.brain_tensors import TYPE_INHIBITORY, TYPE_MODULATORY
from tests.conftest import SMALL_SEED

BATCHES = (1, 5, 17, 5)  # the last one again: a prefix of the 17-example matrices


def _model(activation: str, linear_skip: bool, **core: object) -> BrainModel:
    config = config_from_mapping(
        {
            "seed": {**SMALL_SEED, "input_neurons": 3, "output_neurons": 2},
            "core": {
                "representation_size": 6,
                "activation": activation,
                "linear_skip": linear_skip,
                **core,
            },
        }
    )
    tensors = BrainTensors.from_graph(seed_brain_graph(config))
    # Every kind of synapse, and a trained-looking skip, so each term counts.
    kinds = torch.tensor([0, TYPE_INHIBITORY, TYPE_MODULATORY, 1])
    tensors.synapse_type = kinds.repeat(tensors.num_synapses)[: tensors.num_synapses]
    model = BrainModel(tensors, config.core, random_seed=3).eval()
    with torch.no_grad():
        model.input_skip.normal_(generator=torch.Generator().manual_seed(4))
    return model


@pytest.mark.parametrize("activation", ["tanh", "relu", "gelu", "sigmoid"])
@pytest.mark.parametrize("linear_skip", [False, True])
def test_scripted_outputs_equal_the_eager_model_to_the_last_bit(
    activation: str, linear_skip: bool
) -> None:
    model = _model(activation, linear_skip)
    scripted = ScriptedForward.build(model, reward=0.4, stress=0.1)
    assert scripted is not None
    generator = torch.Generator().manual_seed(0)
    # Several calls per size: TorchScript profiles its first runs and then runs an
    # optimised graph, and each must still compute exactly what the eager model does.
    for batch in BATCHES:
        features = torch.randn(batch, 3, generator=generator)
        with torch.inference_mode():
            expected = model(features, reward=0.4, stress=0.1)
            for _ in range(3):
                assert torch.equal(scripted(features), expected), (activation, batch)


@pytest.mark.parametrize("task", ["classification", "binary", "regression", ""])
def test_predictions_come_with_the_outputs_also_across_slices(
    task: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model("tanh", True)
    scripted = ScriptedForward.build(model, reward=0.0, stress=0.0)
    assert scripted is not None
    features = torch.randn(7, 3, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        outputs = model(features)
        expected = task_predictions(outputs, task)
        whole = scripted.predict(features, task)
        monkeypatch.setattr(model, "slice_size", lambda: 3)  # slices of 3, 3 and 1 rows
        sliced = scripted.predict(features, task)
    for got_outputs, got in (whole, sliced):
        assert torch.equal(got_outputs, outputs)
        assert got.keys() == expected.keys()
        for key in expected:
            assert torch.equal(got[key], expected[key]), key


def test_masked_low_energy_neurons_are_masked_in_the_scripted_forward_too() -> None:
    model = _model("tanh", False, energy_threshold=0.5)
    with torch.no_grad():
        model.energy.copy_(torch.linspace(0, 1, model.energy.numel()))  # half below it
    model._forget_derived()
    scripted = ScriptedForward.build(model, reward=0.0, stress=0.0)
    assert scripted is not None
    features = torch.randn(4, 3, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        assert torch.equal(scripted(features), model(features))


def test_without_torchscript_build_answers_none_and_logs_why(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unavailable(*_: object, **__: object) -> None:
        raise RuntimeError("no TorchScript in this build")

    monkeypatch.setattr(scripted_forward, "_compiled", [])
    monkeypatch.setattr(torch.jit, "script", unavailable)
    assert ScriptedForward.build(_model("tanh", False), reward=0.0, stress=0.0) is None
    assert "no TorchScript in this build" in caplog.text
