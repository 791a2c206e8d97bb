"""``Brain`` for notebooks: train on Python objects of mixed kinds, infer on objects."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from marble_graph import Brain
from marble_graph.config import config_from_mapping
from marble_graph.data_home import DataHome
from marble_graph.errors import ValidationFailed
from marble_graph.service import BrainService
from tests.conftest import GRAPH_ENGINE

CLASSES = ("cat", "dog", "owl")
WORDS = {
    "cat": ["whiskers", "purring", "kitten"],
    "dog": ["barking", "puppy", "fetch"],
    "owl": ["hooting", "feathers", "nocturnal"],
}


def _captioned_images(n: int, seed: int) -> dict[str, list[object]]:
    """Rows of (caption text, 4x4 image bytes) -> label.

    The caption carries the class half the time (else neutral words); the
    image always carries it as a bright quadrant, under noise. Neither
    column alone is the whole signal, so the brain must read both kinds.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CLASSES), n)
    captions, images = [], []
    for label in labels:
        name = CLASSES[label]
        words = [str(rng.choice(WORDS[name]))] if rng.random() < 0.5 else ["a", "photo"]
        captions.append(" ".join([*words, "taken", "outdoors"]))
        pixels = rng.integers(0, 90, (4, 4))
        row, col = divmod(int(label), 2)
        pixels[row * 2 : row * 2 + 2, col * 2 : col * 2 + 2] += 160
        images.append(np.clip(pixels, 0, 255).astype(np.uint8).tobytes())
    return {"caption": captions, "image": images, "label": [CLASSES[i] for i in labels]}


@pytest.fixture
def preset_service(home: DataHome) -> Iterator[BrainService]:
    """A service with the default config: brains get their task's preset size (the
    tests' tiny seed is too small to learn a 192-feature task in a few epochs)."""
    config = config_from_mapping(
        {"storage": {"graph_engine": GRAPH_ENGINE}, "logging": {"level": "WARNING"}}
    )
    with BrainService(config, home) as service:
        yield service


def test_text_and_image_bytes_train_a_brain_that_beats_the_majority_class(
    preset_service: BrainService,
) -> None:
    service = preset_service
    train_rows = _captioned_images(800, seed=1)
    held_out = _captioned_images(90, seed=2)
    brain = Brain("pets", service=service)
    summary = brain.train(
        train_rows,
        target="label",
        encoders={"caption": {"kind": "text", "width": 32}, "image": {"kind": "bytes"}},
        epochs=6,
    )
    assert summary.state == "completed"
    predicted = brain.infer(
        [
            {"caption": c, "image": i}
            for c, i in zip(held_out["caption"], held_out["image"], strict=True)
        ]
    )
    assert set(predicted) <= set(CLASSES)
    accuracy = float(np.mean(np.array(predicted) == np.array(held_out["label"])))
    counts = np.unique(np.array(held_out["label"]), return_counts=True)[1]
    majority = counts.max() / counts.sum()
    assert accuracy > majority + 0.15, (accuracy, majority)
    # The data went in as a dataset version the brain's lineage reaches.
    [trained_on] = {row["dataset"] for row in service.data_of_brain_version("pets")}
    assert trained_on == "pets-data"


def test_train_reads_a_torch_data_loader_and_infer_takes_vectors(service: BrainService) -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(200, 3, generator=generator)
    y = (x[:, 0] > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=32)
    brain = Brain("vectors", service=service)
    summary = brain.train(loader, epochs=2)
    assert summary.state == "completed"
    info = service.dataset_version("vectors-data")
    assert info.n_rows == 200
    outputs = brain.infer([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
    assert len(outputs) == 2


def test_train_refuses_a_data_loader_without_pairs(service: BrainService) -> None:
    loader = DataLoader(TensorDataset(torch.zeros(4, 2)), batch_size=2)
    with pytest.raises(ValidationFailed, match=r"\(inputs, targets\) pairs"):
        Brain("bad", service=service).train(loader)
