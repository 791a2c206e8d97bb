"""core.linear_skip: a zero-initialised linear map from the inputs straight to the outputs."""

from __future__ import annotations

import torch

from marble_graph.config import CoreConfig
from marble_graph.model import BrainModel
from marble_graph.presets import preset_config
from marble_graph.seed import seed_brain_graph
from marble_graph.service import BrainService
from marble_graph.tensors import BrainTensors
from tests.conftest import small_config

SKIP = CoreConfig(linear_skip=True)


def _brain(inputs: int = 3, outputs: int = 2) -> BrainTensors:
    config = small_config(input_neurons=inputs, output_neurons=outputs)
    return BrainTensors.from_graph(seed_brain_graph(config))


def test_the_skip_starts_at_zero_so_a_new_brain_answers_as_without_it() -> None:
    tensors, x = _brain(), torch.rand(4, 3)
    with_skip = BrainModel(tensors, SKIP, random_seed=5)
    assert with_skip.input_skip.shape == (3, 2)
    assert torch.count_nonzero(with_skip.input_skip) == 0
    with torch.no_grad():
        assert torch.allclose(
            with_skip(x), BrainModel(tensors, CoreConfig(), random_seed=5)(x), atol=1e-6
        )


def test_an_enabled_skip_adds_the_features_times_its_matrix_to_the_outputs() -> None:
    model, x = BrainModel(_brain(), SKIP, random_seed=1), torch.rand(4, 3)
    with torch.no_grad():
        before = model(x)
        model.input_skip.copy_(torch.tensor([[1.0, -2.0], [0.5, 0.0], [0.0, 3.0]]))
        after = model(x)
    assert torch.allclose(after - before, x @ model.input_skip, atol=1e-6)


def test_a_disabled_skip_neither_changes_the_outputs_nor_gets_a_gradient() -> None:
    model, x = BrainModel(_brain(), CoreConfig(), random_seed=1), torch.rand(4, 3)
    with torch.no_grad():
        before = model(x)
        model.input_skip.fill_(7.0)
        assert torch.equal(model(x), before)
    model(x).sum().backward()
    assert model.input_skip.grad is None


def test_an_enabled_skip_learns_from_the_loss() -> None:
    model, x = BrainModel(_brain(), SKIP, random_seed=1), torch.rand(4, 3)
    model(x).sum().backward()
    assert model.input_skip.grad is not None
    # d(sum of outputs)/d skip[i, o] is the column sum of feature i, for every output o.
    assert torch.allclose(model.input_skip.grad, x.sum(0, keepdim=True).T.expand(3, 2))


def test_the_skip_is_stored_in_the_versions_shared_blob_and_reloads(
    service: BrainService,
) -> None:
    tensors, x = _brain(), torch.rand(4, 3)
    trained = BrainModel(tensors, SKIP, random_seed=2)
    with torch.no_grad():
        trained.input_skip.copy_(torch.arange(6, dtype=torch.float32).view(3, 2))
    blob = service.blobs.put_tensors(trained.shared_state())
    reloaded = BrainModel(tensors, SKIP, random_seed=9)
    reloaded.load_shared_state(service.blobs.get_tensors(blob))
    assert torch.equal(reloaded.input_skip, trained.input_skip)
    with torch.no_grad():
        assert torch.allclose(reloaded(x), trained(x), atol=1e-6)


def test_a_version_stored_before_the_skip_existed_loads_with_it_at_zero(
    service: BrainService,
) -> None:
    tensors, x = _brain(), torch.rand(4, 3)
    old = BrainModel(tensors, CoreConfig(), random_seed=2)
    old_blob = {k: v for k, v in old.shared_state().items() if k != "input_skip"}
    stored = service.blobs.put_tensors(old_blob)
    model = BrainModel(tensors, SKIP, random_seed=9)
    with torch.no_grad():
        model.input_skip.fill_(1.0)
    model.load_shared_state(service.blobs.get_tensors(stored))
    assert torch.count_nonzero(model.input_skip) == 0
    with torch.no_grad():
        assert torch.allclose(model(x), old(x), atol=1e-6)


def test_binary_and_regression_presets_use_the_skip_and_classification_does_not() -> None:
    assert preset_config("binary", 30, 1).core.linear_skip
    assert preset_config("regression", 10, 1).core.linear_skip
    assert not preset_config("classification", 64, 10).core.linear_skip
