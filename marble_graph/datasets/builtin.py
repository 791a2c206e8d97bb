"""Built-in datasets: scikit-learn's bundled sets and a generated sine wave.

Everything here works offline: scikit-learn ships digits, wine,
breast_cancer and diabetes inside the package, and the sine wave is drawn
from a seeded generator. ``digits`` and ``sine`` are the two data sets of
the B3 acceptance bar in MARBLE_MODEL.md.

Measurements come in their own units: training standardises them with
statistics of the training split only (``normalisation.py``), as it does a
user's CSV, so no held-out row leaks into the scaling. Digits and sine lie
on a fixed, known scale already and are marked ``prescaled``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from marble_graph.datasets.dataset import Dataset, Task
from marble_graph.errors import ValidationFailed

BUILTIN_DATASETS: tuple[str, ...] = ("digits", "sine", "wine", "breast_cancer", "diabetes")

SINE_ROWS = 1_000

# Digits pixels are ink counts 0..16 (4x4 blocks of a 32x32 bitmap).
_DIGITS_MAX_INK = 16.0


def load_builtin(
    name: str,
    *,
    feature_columns: Sequence[str] | None = None,
    target_column: str | None = None,
    task: Task | None = None,
    random_seed: int = 0,
) -> Dataset:
    """Load a built-in dataset, optionally keeping only some feature columns.

    ``target_column`` and ``task`` may be given but must agree with the
    dataset's own: a built-in set has one target and one task.
    """
    loader = _LOADERS.get(name)
    if loader is None:
        raise ValidationFailed(
            f"unknown built-in dataset '{name}': expected one of {', '.join(BUILTIN_DATASETS)}"
        )
    dataset, own_target = loader(random_seed)
    if task is not None and task != dataset.task:
        raise ValidationFailed(
            f"dataset '{name}' is a {dataset.task} dataset; task '{task}' does not apply to it"
        )
    if target_column is not None and target_column != own_target:
        raise ValidationFailed(
            f"{name}: target column must be '{own_target}' (its only target), got '{target_column}'"
        )
    if feature_columns is None:
        return dataset
    return _keep_features(dataset, feature_columns)


def load_digits_dataset() -> tuple[Dataset, str]:
    """scikit-learn's 8x8 digits, pixels scaled to [0, 1]; 10 classes."""
    from sklearn.datasets import load_digits  # scikit-learn costs ~1 s of start-up

    bunch = load_digits()
    features = np.asarray(bunch.data, dtype=np.float64) / _DIGITS_MAX_INK
    targets = np.asarray(bunch.target, dtype=np.int64)
    names = [f"pixel_{row}_{col}" for row in range(8) for col in range(8)]
    dataset = Dataset(
        name="digits",
        task="classification",
        features=features,
        targets=targets,
        feature_names=names,
        target_names=[str(digit) for digit in range(10)],
        source=(
            f"scikit-learn digits (bundled): {len(targets):,} 8x8 images, "
            f"pixels divided by {_DIGITS_MAX_INK:g} into [0, 1]"
        ),
        # Per-pixel standardisation would blow rarely inked border pixels up
        # to tens of standard deviations; [0, 1] ink is already a fine scale.
        prescaled=True,
    )
    return dataset, "digit"


def make_sine_dataset(random_seed: int = 0, n_rows: int = SINE_ROWS) -> tuple[Dataset, str]:
    """``n_rows`` points x ~ U(-pi, pi) with target sin(x), no noise; same seed, same data."""
    rng = np.random.default_rng(random_seed)
    x = rng.uniform(-np.pi, np.pi, size=n_rows).astype(np.float32)
    # sin of the stored float32 x (computed in float64), so target == sin(feature)
    # holds for the data as the brain sees it, not only for the unrounded draw.
    y = np.sin(x.astype(np.float64))
    dataset = Dataset(
        name="sine",
        task="regression",
        features=x[:, None],
        targets=y[:, None],
        feature_names=["x"],
        target_names=["sin_x"],
        source=(
            f"generated sine wave: {n_rows:,} points x ~ U(-pi, pi), target sin(x), "
            f"no noise (random_seed {random_seed})"
        ),
        prescaled=True,
    )
    return dataset, "sin_x"


def load_wine_dataset() -> tuple[Dataset, str]:
    """scikit-learn's wine: 3 cultivars, 13 chemical measurements in their own units."""
    from sklearn.datasets import load_wine

    bunch = load_wine()
    dataset = Dataset(
        name="wine",
        task="classification",
        features=bunch.data,
        targets=np.asarray(bunch.target, dtype=np.int64),
        feature_names=[str(n) for n in bunch.feature_names],
        target_names=[str(n) for n in bunch.target_names],
        source="scikit-learn wine (bundled); 13 chemical measurements in their own units",
    )
    return dataset, "cultivar"


def load_breast_cancer_dataset() -> tuple[Dataset, str]:
    """scikit-learn's breast_cancer as a binary task: target 1 = benign, 0 = malignant."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    dataset = Dataset(
        name="breast_cancer",
        task="binary",
        features=bunch.data,
        targets=np.asarray(bunch.target, dtype=np.float32)[:, None],
        feature_names=[str(n) for n in bunch.feature_names],
        target_names=["benign"],
        source=(
            "scikit-learn breast_cancer (bundled); target 1 = benign, 0 = malignant; "
            "30 cell-nucleus measurements in their own units"
        ),
    )
    return dataset, "benign"


def load_diabetes_dataset() -> tuple[Dataset, str]:
    """scikit-learn's diabetes regression: target is disease progression after one year."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    dataset = Dataset(
        name="diabetes",
        task="regression",
        # scikit-learn ships the features already centred and scaled (each
        # column has unit norm); the target is in the study's own units.
        features=bunch.data,
        targets=np.asarray(bunch.target, dtype=np.float64)[:, None],
        feature_names=[str(n) for n in bunch.feature_names],
        target_names=["disease_progression"],
        source=(
            "scikit-learn diabetes (bundled); target disease progression one year after "
            "baseline, in the study's units"
        ),
    )
    return dataset, "disease_progression"


def _keep_features(dataset: Dataset, feature_columns: Sequence[str]) -> Dataset:
    if len(feature_columns) == 0:
        raise ValidationFailed(f"{dataset.name}: feature_columns is empty; name at least one")
    positions = {name: i for i, name in enumerate(dataset.feature_names)}
    seen: set[str] = set()
    keep: list[int] = []
    for column in feature_columns:
        if column not in positions:
            raise ValidationFailed(
                f"{dataset.name}: unknown column '{column}' "
                f"(columns: {', '.join(dataset.feature_names)})"
            )
        if column in seen:
            raise ValidationFailed(f"{dataset.name}: feature column '{column}' is listed twice")
        seen.add(column)
        keep.append(positions[column])
    return Dataset(
        name=dataset.name,
        task=dataset.task,
        features=dataset.features[:, keep],
        targets=dataset.targets,
        feature_names=list(feature_columns),
        target_names=dataset.target_names,
        source=f"{dataset.source}; {len(keep)} of {dataset.n_features} feature columns kept",
        prescaled=dataset.prescaled,
    )


_LOADERS: dict[str, Callable[[int], tuple[Dataset, str]]] = {
    "digits": lambda _seed: load_digits_dataset(),
    "sine": make_sine_dataset,
    "wine": lambda _seed: load_wine_dataset(),
    "breast_cancer": lambda _seed: load_breast_cancer_dataset(),
    "diabetes": lambda _seed: load_diabetes_dataset(),
}
