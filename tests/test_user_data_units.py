"""A user's CSV in its own units: scaled from the training split, recorded, undone at inference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from marble_graph.config import MarbleConfig, config_from_mapping
from marble_graph.data_home import DataHome
from marble_graph.datasets import load_dataset, split_dataset
from marble_graph.datasets.normalisation import METRICS_KEY
from marble_graph.service import BrainService
from marble_graph.store.metadata import Brain, BrainVersion
from tests.conftest import GRAPH_ENGINE


def price_of(area: np.ndarray, age: np.ndarray) -> np.ndarray:
    """The truth behind the CSV: a house price in dollars, linear in area and age."""
    return 300.0 * area - 2_000.0 * age + 50_000.0


def write_houses(path: Path, rows: int = 400) -> Path:
    rng = np.random.default_rng(3)
    area = rng.uniform(1_000.0, 5_000.0, rows)  # square feet
    age = rng.uniform(0.0, 50.0, rows)  # years
    lines = ["area,age,price"] + [
        f"{a:.2f},{b:.2f},{p:.2f}" for a, b, p in zip(area, age, price_of(area, age), strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def houses_config(engine: str) -> MarbleConfig:
    """The regression preset on a 6x6 grid, enough epochs to fit a plane."""
    return config_from_mapping(
        {
            "seed": {"width": 6, "height": 6, "output_fanin": 16, "random_seed": 7},
            "learning": {"epochs": 40},
            "storage": {"graph_engine": engine},
            "logging": {"level": "WARNING"},
        }
    )


@pytest.fixture(scope="module")
def houses(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One trained brain for the module: training is the slow part, the checks only read."""
    root = tmp_path_factory.mktemp("houses")
    csv = write_houses(root / "houses.csv")
    with BrainService(houses_config(GRAPH_ENGINE), DataHome(root / "marble-data")) as service:
        service.create_brain_for_dataset("houses", str(csv), service.config)
        summary = service.train("houses", str(csv))
        assert summary.state == "completed"
        yield service, csv


def version_metrics(service: BrainService, version: int) -> dict[str, object]:
    with service.metadata.session() as session:
        row = session.scalars(
            select(BrainVersion)
            .join(Brain)
            .where(Brain.name == "houses", BrainVersion.version == version)
        ).one()
        return dict(row.metrics)


def set_version_metrics(service: BrainService, metrics: dict[str, object]) -> None:
    with service.metadata.session() as session:
        row = session.scalars(
            select(BrainVersion)
            .join(Brain)
            .where(Brain.name == "houses", BrainVersion.version == 2)
        ).one()
        row.metrics = metrics


def test_csv_regression_brain_infers_in_the_datas_own_units(houses) -> None:  # type: ignore[no-untyped-def]
    service, _csv = houses
    area = np.array([1_500.0, 2_500.0, 3_500.0, 4_500.0])
    age = np.array([5.0, 20.0, 35.0, 45.0])
    truth = price_of(area, age)
    predicted = service.infer("houses", np.stack([area, age], axis=1)).outputs[:, 0]
    # Prices span about 1.2 million dollars; a brain answering in standardised
    # units would be off by the whole price, not by a few percent of the range.
    assert np.abs(predicted - truth).max() < 0.05 * (truth.max() - truth.min())


def test_normalisation_comes_from_the_training_split_only(houses) -> None:  # type: ignore[no-untyped-def]
    service, csv = houses
    config = service.brain_config("houses")
    dataset = load_dataset(str(csv))
    train, _test = split_dataset(
        dataset, config.dataset.test_fraction, config.dataset.split_random_state, False
    )
    record = version_metrics(service, 2)[METRICS_KEY]
    assert isinstance(record, dict)
    np.testing.assert_allclose(record["feature_mean"], train.features.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(record["feature_scale"], train.features.std(axis=0), rtol=1e-6)
    np.testing.assert_allclose(record["target_mean"], train.targets.mean(axis=0), rtol=1e-6)
    # The whole file's statistics differ: the held-out rows did not take part.
    assert not np.allclose(record["feature_mean"], dataset.features.mean(axis=0), rtol=1e-6)
    # Evaluation scores in the scaled space the run trained in: the same MSE.
    test_metrics = version_metrics(service, 2)["test"]
    assert isinstance(test_metrics, dict)
    assert service.evaluate("houses", str(csv))["mse"] == pytest.approx(
        test_metrics["mse"], rel=1e-4
    )


def test_a_version_without_recorded_statistics_still_infers(houses) -> None:  # type: ignore[no-untyped-def]
    service, _csv = houses
    x = np.array([[2_000.0, 10.0], [4_000.0, 30.0]])
    with_stats = service.infer("houses", x).outputs
    record = version_metrics(service, 2)[METRICS_KEY]
    assert isinstance(record, dict)
    scaled = (x - np.asarray(record["feature_mean"])) / np.asarray(record["feature_scale"])
    # Strip the record, as a version trained before it existed has none (and
    # put it back after: the module's other tests read the same brain).
    set_version_metrics(
        service, {k: v for k, v in version_metrics(service, 2).items() if k != METRICS_KEY}
    )
    try:
        # Without statistics the brain is used as it is: features in, outputs out.
        raw = service.infer("houses", scaled).outputs
    finally:
        set_version_metrics(service, {**version_metrics(service, 2), METRICS_KEY: record})
    np.testing.assert_allclose(
        raw * np.asarray(record["target_scale"]) + np.asarray(record["target_mean"]),
        with_stats,
        rtol=1e-4,
    )
