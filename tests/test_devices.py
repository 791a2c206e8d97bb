"""One device resolution (``core.device``) for training, evaluation, inference and serving."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from marble_graph.config import with_overrides
from marble_graph.data_home import DataHome
from marble_graph.devices import resolve_device
from marble_graph.errors import ValidationFailed
from marble_graph.service import BrainService
from tests.conftest import small_config

NO_CUDA = not torch.cuda.is_available()


def test_auto_is_cuda_when_present_else_cpu() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(None, "auto").type == expected


def test_an_explicit_device_wins_over_the_configured_one() -> None:
    assert resolve_device("cpu", "cuda") == torch.device("cpu")


def test_a_malformed_device_is_refused_by_name() -> None:
    with pytest.raises(ValidationFailed, match=r"device 'gpu0': expected auto, cpu, cuda"):
        resolve_device("gpu0", "auto")


@pytest.mark.skipif(not NO_CUDA, reason="checks the refusal on a machine without CUDA")
def test_cuda_without_a_cuda_device_is_a_clear_error() -> None:
    with pytest.raises(ValidationFailed, match="no CUDA device"):
        resolve_device(None, "cuda")


@pytest.mark.skipif(not NO_CUDA, reason="checks the refusal on a machine without CUDA")
def test_every_operation_runs_on_core_device(tmp_path: object, engine: str) -> None:
    """With core.device: cuda on a CPU-only machine, train, evaluate, infer and the
    serving cache all refuse the same way: each went through the one resolution
    (before, inference and evaluation ran on the CPU whatever core.device said)."""
    config = small_config(engine)
    home = DataHome(tmp_path / "home")  # type: ignore[operator]
    with BrainService(config, home) as service:
        service.create_brain("b", with_overrides(config, {"seed.input_neurons": 1}))
    cuda = with_overrides(config, {"core.device": "cuda"})
    with BrainService(cuda, home) as service:
        assert service.device("cpu") == torch.device("cpu")
        calls = {
            "infer": lambda: service.infer("b", np.zeros((1, 1), np.float32)),
            "evaluate": lambda: service.evaluate("b", "sine"),
            "train": lambda: service.train("b", "sine", epochs=1),
            "serving cache": lambda: service.model_cache(),
        }
        for name, call in calls.items():
            with pytest.raises(ValidationFailed, match="no CUDA device"):
                call()
            assert service.get_brain("b").version == 1, name
        # An explicit device still wins.
        assert service.infer("b", np.zeros((1, 1), np.float32), device="cpu").version == 1
