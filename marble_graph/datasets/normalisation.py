"""Normalisation of a dataset's features and regression targets, fitted on training rows.

A brain learns best on features of similar scale around zero, and a
regression brain on targets near unit scale; a user's data comes in any
units (prices in dollars, distances in metres). ``Normalisation.fit`` takes
per-column means and standard deviations from the TRAINING split only (the
held-out rows never shape what the brain sees), training runs on the scaled
data, and the statistics are recorded with the brain version
(``to_record``, under ``metrics["normalisation"]``). Inference applies the
same scaling to the features a caller sends and maps regression outputs
back to the caller's units, so every interface speaks the data's own units.

Datasets whose scale is already fixed and known (``Dataset.prescaled``:
digits' ink fractions, the generated sine wave) get the identity, recorded
the same way. A version trained before statistics were recorded has none:
``from_metrics`` returns the identity for it, so it still infers as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from marble_graph.datasets.dataset import Dataset
from marble_graph.errors import ValidationFailed

# Key of the record in a brain version's metrics.
METRICS_KEY = "normalisation"


@dataclass(frozen=True)
class Normalisation:
    """Per-column affine scaling: ``scaled = (value - mean) / scale``.

    ``target_mean`` and ``target_scale`` are set for regression only; class
    and binary targets are labels and are never scaled.
    """

    feature_mean: np.ndarray  # float64 [d]
    feature_scale: np.ndarray  # float64 [d], all > 0
    target_mean: np.ndarray | None = None  # float64 [k]
    target_scale: np.ndarray | None = None  # float64 [k], all > 0

    @classmethod
    def fit(cls, train: Dataset) -> Normalisation:
        """Statistics of ``train`` (the training split), or the identity for prescaled data."""
        regression = train.task == "regression"
        if train.prescaled:
            return cls.identity(train.n_features, train.n_outputs if regression else None)
        feature_mean, feature_scale = _column_stats(train.features)
        if not regression:
            return cls(feature_mean, feature_scale)
        target_mean, target_scale = _column_stats(train.targets)
        return cls(feature_mean, feature_scale, target_mean, target_scale)

    @classmethod
    def identity(cls, n_features: int, n_targets: int | None = None) -> Normalisation:
        """No scaling at all (``n_targets`` given for a regression brain)."""
        targets = None if n_targets is None else np.zeros(n_targets)
        return cls(
            np.zeros(n_features),
            np.ones(n_features),
            targets,
            None if targets is None else np.ones(n_targets or 0),
        )

    def apply(self, dataset: Dataset) -> Dataset:
        """``dataset`` with features (and regression targets) scaled; names and source kept."""
        targets = dataset.targets
        if self.target_mean is not None and self.target_scale is not None:
            targets = (targets.astype(np.float64) - self.target_mean) / self.target_scale
        return Dataset(
            name=dataset.name,
            task=dataset.task,
            features=self.features(dataset.features),
            targets=targets,
            feature_names=list(dataset.feature_names),
            target_names=list(dataset.target_names),
            source=dataset.source,
            prescaled=dataset.prescaled,
        )

    def features(self, values: np.ndarray) -> np.ndarray:
        """Features ``[n, d]`` in the data's units, scaled as training saw them (float32)."""
        if not self.feature_mean.any() and (self.feature_scale == 1.0).all():
            return np.ascontiguousarray(values, dtype=np.float32)  # identity: no copy
        scaled = (np.asarray(values, dtype=np.float64) - self.feature_mean) / self.feature_scale
        return np.ascontiguousarray(scaled, dtype=np.float32)

    def outputs_to_units(self, outputs: Tensor) -> Tensor:
        """Regression outputs mapped back to the target's units; other outputs unchanged."""
        if self.target_mean is None or self.target_scale is None:
            return outputs
        scale = torch.as_tensor(self.target_scale, dtype=torch.float64, device=outputs.device)
        mean = torch.as_tensor(self.target_mean, dtype=torch.float64, device=outputs.device)
        return (outputs.to(torch.float64) * scale + mean).to(outputs.dtype)

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready record, stored with the brain version."""
        record: dict[str, Any] = {
            "feature_mean": self.feature_mean.tolist(),
            "feature_scale": self.feature_scale.tolist(),
        }
        if self.target_mean is not None and self.target_scale is not None:
            record["target_mean"] = self.target_mean.tolist()
            record["target_scale"] = self.target_scale.tolist()
        return record

    @classmethod
    def from_record(cls, record: object) -> Normalisation:
        """Rebuild from ``to_record``'s output; a malformed record raises ValidationFailed."""
        if not isinstance(record, dict):
            raise ValidationFailed(f"normalisation record must be an object, got {record!r}")
        feature_mean = _vector(record, "feature_mean")
        feature_scale = _vector(record, "feature_scale", positive=True)
        if feature_mean.shape != feature_scale.shape:
            raise ValidationFailed("normalisation record: feature_mean and feature_scale differ")
        if ("target_mean" in record) != ("target_scale" in record):
            raise ValidationFailed("normalisation record: target_mean and target_scale go together")
        if "target_mean" not in record:
            return cls(feature_mean, feature_scale)
        target_mean = _vector(record, "target_mean")
        target_scale = _vector(record, "target_scale", positive=True)
        if target_mean.shape != target_scale.shape:
            raise ValidationFailed("normalisation record: target_mean and target_scale differ")
        return cls(feature_mean, feature_scale, target_mean, target_scale)

    @classmethod
    def from_metrics(
        cls, metrics: dict[str, Any], n_features: int, n_targets: int | None = None
    ) -> Normalisation:
        """The version's recorded scaling; the identity for a version that has none."""
        record = metrics.get(METRICS_KEY)
        if record is None:
            return cls.identity(n_features, n_targets)
        normalisation = cls.from_record(record)
        if normalisation.feature_mean.shape != (n_features,):
            raise ValidationFailed(
                f"normalisation record holds {normalisation.feature_mean.size} features, "
                f"the brain has {n_features} inputs"
            )
        return normalisation


def _column_stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale) per column in float64; a constant column gets scale 1.

    A constant column's computed std can be a rounding residue rather than 0;
    dividing by it would blow noise up, so it is only centred.
    """
    data = np.asarray(values, dtype=np.float64)
    mean = data.mean(axis=0)
    constant = data.max(axis=0) == data.min(axis=0)
    scale = np.where(constant, 1.0, data.std(axis=0))
    return mean, scale


def _vector(record: dict[str, Any], key: str, positive: bool = False) -> np.ndarray:
    try:
        values = np.asarray(record[key], dtype=np.float64)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationFailed(f"normalisation record: {key} is missing or not numbers") from exc
    if values.ndim != 1 or not np.all(np.isfinite(values)):
        raise ValidationFailed(f"normalisation record: {key} must be a list of finite numbers")
    if positive and not np.all(values > 0):
        raise ValidationFailed(f"normalisation record: {key} must be positive")
    return values
