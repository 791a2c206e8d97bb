"""Built-in datasets: scikit-learn's bundled sets and a generated sine wave.

Everything here works offline: scikit-learn ships digits, wine,
breast_cancer and diabetes inside the package, and the sine wave is drawn
from a seeded generator. The four bundled sets are read straight from the
data files in scikit-learn's package directory with numpy, giving the same
arrays as ``sklearn.datasets.load_*``: importing scikit-learn would cost
every training process over a second of start-up, so it is located
(``importlib.util.find_spec``), never imported. ``digits`` and ``sine`` are
the two data sets the learning bar is measured on (bench/learn_digits.py,
tests/test_runs.py).

Measurements come in their own units: training standardises them with
statistics of the training split only (``normalisation.py``), as it does a
user's CSV, so no held-out row leaks into the scaling. Digits and sine lie
on a fixed, known scale already and are marked ``prescaled``.
"""

from __future__ import annotations

import gzip
import importlib.util
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np

from marble_graph.datasets.dataset import Dataset, Task
from marble_graph.errors import ValidationFailed

BUILTIN_DATASETS: tuple[str, ...] = ("digits", "sine", "wine", "breast_cancer", "diabetes")

SINE_ROWS = 1_000

# Digits pixels are ink counts 0..16 (4x4 blocks of a 32x32 bitmap).
_DIGITS_MAX_INK = 16.0

# Column names as scikit-learn's load_wine / load_breast_cancer / load_diabetes
# define them (the data files carry none).
_WINE_FEATURES = (
    "alcohol",
    "malic_acid",
    "ash",
    "alcalinity_of_ash",
    "magnesium",
    "total_phenols",
    "flavanoids",
    "nonflavanoid_phenols",
    "proanthocyanins",
    "color_intensity",
    "hue",
    "od280/od315_of_diluted_wines",
    "proline",
)
_BREAST_CANCER_FEATURES = (
    "mean radius",
    "mean texture",
    "mean perimeter",
    "mean area",
    "mean smoothness",
    "mean compactness",
    "mean concavity",
    "mean concave points",
    "mean symmetry",
    "mean fractal dimension",
    "radius error",
    "texture error",
    "perimeter error",
    "area error",
    "smoothness error",
    "compactness error",
    "concavity error",
    "concave points error",
    "symmetry error",
    "fractal dimension error",
    "worst radius",
    "worst texture",
    "worst perimeter",
    "worst area",
    "worst smoothness",
    "worst compactness",
    "worst concavity",
    "worst concave points",
    "worst symmetry",
    "worst fractal dimension",
)
_DIABETES_FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")


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
    bundled = read_bundled("digits")
    features = bundled.data / _DIGITS_MAX_INK
    targets = bundled.target
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
    bundled = read_bundled("wine")
    dataset = Dataset(
        name="wine",
        task="classification",
        features=bundled.data,
        targets=bundled.target,
        feature_names=list(_WINE_FEATURES),
        target_names=list(bundled.class_names),
        source="scikit-learn wine (bundled); 13 chemical measurements in their own units",
    )
    return dataset, "cultivar"


def load_breast_cancer_dataset() -> tuple[Dataset, str]:
    """scikit-learn's breast_cancer as a binary task: target 1 = benign, 0 = malignant."""
    bundled = read_bundled("breast_cancer")
    if bundled.class_names != ("malignant", "benign"):
        raise ValidationFailed(
            "breast_cancer.csv in scikit-learn's data directory names the classes "
            f"{list(bundled.class_names)}, expected ['malignant', 'benign']"
        )
    dataset = Dataset(
        name="breast_cancer",
        task="binary",
        features=bundled.data,
        targets=bundled.target.astype(np.float32)[:, None],
        feature_names=list(_BREAST_CANCER_FEATURES),
        target_names=["benign"],
        source=(
            "scikit-learn breast_cancer (bundled); target 1 = benign, 0 = malignant; "
            "30 cell-nucleus measurements in their own units"
        ),
    )
    return dataset, "benign"


def load_diabetes_dataset() -> tuple[Dataset, str]:
    """scikit-learn's diabetes regression: target is disease progression after one year."""
    bundled = read_bundled("diabetes")
    dataset = Dataset(
        name="diabetes",
        task="regression",
        # scikit-learn's load_diabetes() (scaled=True) centres and scales the
        # features so each column has unit norm; the target is in the study's
        # own units.
        features=bundled.data,
        targets=bundled.target[:, None],
        feature_names=list(_DIABETES_FEATURES),
        target_names=["disease_progression"],
        source=(
            "scikit-learn diabetes (bundled); target disease progression one year after "
            "baseline, in the study's units"
        ),
    )
    return dataset, "disease_progression"


class BundledTable(NamedTuple):
    """One of scikit-learn's bundled sets, as ``sklearn.datasets.load_<name>()`` gives it."""

    data: np.ndarray
    """float64 ``[n, d]``: ``bunch.data`` (diabetes: scaled, as ``scaled=True``)."""
    target: np.ndarray
    """``bunch.target``: int64 classes, or float64 values for diabetes."""
    class_names: tuple[str, ...]
    """Class names from the file's header (wine, breast_cancer); empty where it has none."""


def read_bundled(name: str, data_dir: Path | None = None) -> BundledTable:
    """Read digits, wine, breast_cancer or diabetes from scikit-learn's data files.

    Equal, bit for bit, to ``load_digits()``, ``load_wine()``,
    ``load_breast_cancer()`` and ``load_diabetes()`` (data and target), but
    parsed with numpy from the package directory (``sklearn_data_dir()``
    unless ``data_dir`` is given), without importing scikit-learn. A missing
    package, a missing file or a damaged one raises ``ValidationFailed``.
    """
    where = data_dir if data_dir is not None else sklearn_data_dir()
    if name == "digits":
        with _open_data_file(where, "digits.csv.gz") as stream:
            table = _read_table(stream, "digits.csv.gz", delimiter=",")
        _check_width(table, 8 * 8 + 1, "digits.csv.gz")
        return BundledTable(table[:, :-1], table[:, -1].astype(np.int64), ())
    if name == "wine":
        return _read_labelled_csv(where, "wine_data.csv", len(_WINE_FEATURES))
    if name == "breast_cancer":
        return _read_labelled_csv(where, "breast_cancer.csv", len(_BREAST_CANCER_FEATURES))
    if name == "diabetes":
        with _open_data_file(where, "diabetes_data_raw.csv.gz") as stream:
            raw = _read_table(stream, "diabetes_data_raw.csv.gz")
        with _open_data_file(where, "diabetes_target.csv.gz") as stream:
            target = _read_table(stream, "diabetes_target.csv.gz")
        _check_width(raw, len(_DIABETES_FEATURES), "diabetes_data_raw.csv.gz")
        if target.shape != (raw.shape[0],):
            raise ValidationFailed(
                "diabetes_target.csv.gz in scikit-learn's data directory has shape "
                f"{target.shape}, expected ({raw.shape[0]},)"
            )
        return BundledTable(_scale_like_load_diabetes(raw), target, ())
    raise ValidationFailed(
        f"'{name}' is not one of scikit-learn's bundled sets read here: "
        "digits, wine, breast_cancer, diabetes"
    )


def sklearn_data_dir() -> Path:
    """The ``datasets/data`` directory of the installed scikit-learn, found without importing it."""
    try:
        spec = importlib.util.find_spec("sklearn")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        data_dir = Path(location) / "datasets" / "data"
        if data_dir.is_dir():
            return data_dir
    raise ValidationFailed(
        "the built-in datasets digits, wine, breast_cancer and diabetes are read from "
        "scikit-learn's bundled data files, but scikit-learn is not installed "
        "(or has no datasets/data directory): install scikit-learn"
    )


def _open_data_file(data_dir: Path, file_name: str) -> IO[str]:
    path = data_dir / file_name
    try:
        if file_name.endswith(".gz"):
            return gzip.open(path, mode="rt", encoding="utf-8")
        return path.open(encoding="utf-8")
    except OSError as exc:
        raise ValidationFailed(
            f"cannot read {file_name} from scikit-learn's data directory {path.parent}: {exc}"
        ) from exc


def _read_table(stream: IO[str], file_name: str, **loadtxt: object) -> np.ndarray:
    """All rows of a numeric text table as float64, as scikit-learn's loaders parse it."""
    try:
        # An empty file is a damaged one: numpy's "no data" warning becomes the error.
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            return np.loadtxt(stream, dtype=np.float64, **loadtxt)  # type: ignore[call-overload]
    except (OSError, EOFError, ValueError, UserWarning) as exc:
        raise ValidationFailed(
            f"{file_name} in scikit-learn's data directory is not a numeric table: {exc}"
        ) from exc


def _check_width(table: np.ndarray, columns: int, file_name: str) -> None:
    if table.ndim != 2 or table.shape[1] != columns:
        raise ValidationFailed(
            f"{file_name} in scikit-learn's data directory has shape {table.shape}, "
            f"expected {columns} columns"
        )


def _read_labelled_csv(data_dir: Path, file_name: str, n_features: int) -> BundledTable:
    """Features, int64 class per row and class names of a CSV in scikit-learn's format.

    The header row is ``n_samples,n_features,class_name,...``; every other row
    holds the features and then the class index.
    """
    with _open_data_file(data_dir, file_name) as stream:
        try:
            header = stream.readline().strip().split(",")
        except (OSError, ValueError) as exc:
            raise ValidationFailed(
                f"{file_name} in scikit-learn's data directory is unreadable: {exc}"
            ) from exc
        table = _read_table(stream, file_name, delimiter=",", ndmin=2)
    try:
        n_samples, n_columns = int(header[0]), int(header[1])
    except (IndexError, ValueError):
        raise ValidationFailed(
            f"{file_name} in scikit-learn's data directory has no "
            f"'n_samples,n_features,classes...' header: {','.join(header)!r}"
        ) from None
    if n_columns != n_features or table.shape != (n_samples, n_features + 1):
        raise ValidationFailed(
            f"{file_name} in scikit-learn's data directory has shape {table.shape} "
            f"(header {n_samples} x {n_columns}), expected {n_features} features and a class"
        )
    return BundledTable(table[:, :-1], table[:, -1].astype(np.int64), tuple(header[2:]))


def _scale_like_load_diabetes(raw: np.ndarray) -> np.ndarray:
    """``sklearn.preprocessing.scale(raw)`` then ``/ sqrt(n_rows)``, operation for operation.

    Same numpy calls in the same order, so the result equals
    ``load_diabetes().data`` bit for bit (tests compare them).
    """
    data = raw.copy()  # scikit-learn scales its own fresh copy in place
    mean = np.nanmean(data, axis=0)
    std = np.nanstd(data, axis=0)
    data -= mean
    residual_mean = np.nanmean(data, axis=0)
    if not np.allclose(residual_mean, 0):
        data -= residual_mean
    # A near-constant column is divided by 1, as scikit-learn does.
    std[std < 10 * np.finfo(std.dtype).eps] = 1.0
    data /= std
    residual_mean = np.nanmean(data, axis=0)
    if not np.allclose(residual_mean, 0):
        data -= residual_mean
    data /= data.shape[0] ** 0.5
    return data


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
