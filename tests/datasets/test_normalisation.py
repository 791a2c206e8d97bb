"""Normalisation: fitted on the rows given, recorded as JSON, undone for regression outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from marble_graph.datasets import Dataset, load_dataset, split_dataset
from marble_graph.datasets.normalisation import METRICS_KEY, Normalisation
from marble_graph.errors import ValidationFailed


def metres_and_dollars() -> Dataset:
    return Dataset(
        name="units",
        task="regression",
        features=np.array([[0.5, 1_000.0], [0.5, 2_000.0], [0.5, 3_000.0], [0.5, 6_000.0]]),
        targets=np.array([100_000.0, 200_000.0, 300_000.0, 600_000.0]),
        feature_names=["const", "metres"],
        target_names=["dollars"],
    )


def test_fit_standardises_features_and_regression_targets_of_the_rows_given() -> None:
    data = metres_and_dollars()
    scaled = Normalisation.fit(data).apply(data)
    np.testing.assert_allclose(scaled.features[:, 1].mean(), 0.0, atol=1e-6)
    np.testing.assert_allclose(scaled.features[:, 1].std(), 1.0, atol=1e-6)
    np.testing.assert_allclose(scaled.targets.std(), 1.0, atol=1e-6)
    # A constant column is only centred: its std may be a rounding residue.
    assert (scaled.features[:, 0] == 0.0).all()


def test_regression_outputs_map_back_to_the_targets_units() -> None:
    data = metres_and_dollars()
    normalisation = Normalisation.fit(data)
    scaled = normalisation.apply(data)
    back = normalisation.outputs_to_units(torch.from_numpy(scaled.targets))
    np.testing.assert_allclose(back.numpy()[:, 0], data.targets[:, 0], rtol=1e-6)


def test_class_labels_are_never_scaled() -> None:
    wine = load_dataset("wine")
    normalisation = Normalisation.fit(wine)
    assert normalisation.target_mean is None
    np.testing.assert_array_equal(normalisation.apply(wine).targets, wine.targets)
    logits = torch.tensor([[1.0, -2.0, 3.0]])
    assert torch.equal(normalisation.outputs_to_units(logits), logits)


def test_prescaled_datasets_get_the_identity() -> None:
    digits = load_dataset("digits")
    normalisation = Normalisation.fit(digits)
    np.testing.assert_array_equal(normalisation.features(digits.features), digits.features)
    sine = Normalisation.fit(load_dataset("sine"))
    assert sine.target_mean is not None and sine.target_mean.tolist() == [0.0]


def test_builtin_scaling_uses_the_training_split_not_the_test_rows() -> None:
    train, test = split_dataset(load_dataset("breast_cancer"), 0.25, 0, True)
    normalisation = Normalisation.fit(train)
    np.testing.assert_allclose(normalisation.feature_mean, train.features.mean(axis=0), rtol=1e-6)
    scaled_test = normalisation.apply(test).features
    # Held-out rows are scaled with the training statistics, so they are not exactly centred.
    assert np.abs(scaled_test.mean(axis=0)).max() > 1e-3


def test_the_record_round_trips_through_json() -> None:
    normalisation = Normalisation.fit(metres_and_dollars())
    record = json.loads(json.dumps(normalisation.to_record()))
    again = Normalisation.from_metrics({METRICS_KEY: record}, 2, 1)
    for field in ("feature_mean", "feature_scale", "target_mean", "target_scale"):
        np.testing.assert_array_equal(getattr(again, field), getattr(normalisation, field))


def test_a_version_without_a_record_gets_the_identity() -> None:
    identity = Normalisation.from_metrics({"task": "regression"}, 3, 1)
    x = np.array([[1.0, -2.0, 1e6]], dtype=np.float32)
    np.testing.assert_array_equal(identity.features(x), x)
    out = torch.tensor([[2.5]])
    assert torch.equal(identity.outputs_to_units(out), out)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ("nope", "must be an object"),
        ({"feature_mean": [0.0]}, "feature_scale is missing"),
        ({"feature_mean": [0.0], "feature_scale": [0.0]}, "feature_scale must be positive"),
        ({"feature_mean": [0.0, 1.0], "feature_scale": [1.0]}, "differ"),
        ({"feature_mean": [0.0], "feature_scale": [1.0], "target_mean": [1.0]}, "go together"),
    ],
)
def test_a_malformed_record_is_refused_with_what_is_wrong(record: object, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        Normalisation.from_record(record)


def test_a_record_of_another_width_is_refused() -> None:
    record = {"feature_mean": [0.0], "feature_scale": [1.0]}
    with pytest.raises(ValidationFailed, match="holds 1 features, the brain has 2 inputs"):
        Normalisation.from_metrics({METRICS_KEY: record}, 2)
