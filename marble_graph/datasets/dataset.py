"""The ``Dataset`` a brain trains on: validated arrays, a content hash, a split.

A ``Dataset`` is checked once, when it is built, so everything downstream
(tensors, learning, versioning) can rely on its shapes and dtypes and on
every value being finite. ``check_features`` gives inference inputs the same
guarantees with messages a caller can act on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from marble_graph.datasets.rowsets import TEST_SPLIT, hash_split, row_digests
from marble_graph.datasets.splitting import SplitError, split_rows
from marble_graph.errors import ValidationFailed

Task = Literal["classification", "regression", "binary"]
TASKS: tuple[str, ...] = get_args(Task)


@dataclass(frozen=True)
class Dataset:
    """Features and targets of one dataset, validated on construction.

    Arrays are coerced to the documented dtypes and layouts (``float32``
    features ``[n, d]``; ``int64`` class indices ``[n]`` for classification,
    ``float32`` ``[n, k]`` otherwise) and must be finite. Treat the arrays as
    read-only: ``content_hash`` is computed from them. They are not flagged
    read-only because ``torch.from_numpy`` warns on such arrays.
    """

    name: str
    task: Task
    features: np.ndarray
    targets: np.ndarray
    feature_names: list[str]
    target_names: list[str]
    source: str = field(default="")
    # True when features (and regression targets) already lie on a fixed,
    # known scale (digits' ink fractions, the generated sine wave): training
    # then does not re-standardise them (see normalisation.py).
    prescaled: bool = field(default=False)
    # A digest per row of the rows it was encoded from (datasets/rowsets.py,
    # uint64 [n, 2]), when it came from a stored dataset version: the
    # row-hash split reads them, so a row's split follows the row itself.
    row_keys: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValidationFailed(
                f"dataset '{self.name}': unknown task '{self.task}' "
                f"(expected one of {', '.join(TASKS)})"
            )
        features = _coerce_features(self.name, self.features)
        targets = _coerce_targets(self.name, self.task, self.targets, len(self.target_names))
        n_rows = features.shape[0]
        if targets.shape[0] != n_rows:
            raise ValidationFailed(
                f"dataset '{self.name}': {n_rows} feature rows but {targets.shape[0]} target rows"
            )
        if len(self.feature_names) != features.shape[1]:
            raise ValidationFailed(
                f"dataset '{self.name}': {features.shape[1]} feature columns but "
                f"{len(self.feature_names)} feature names"
            )
        if self.task != "classification" and len(self.target_names) != targets.shape[1]:
            raise ValidationFailed(
                f"dataset '{self.name}': {targets.shape[1]} target columns but "
                f"{len(self.target_names)} target names"
            )
        # The dataclass is frozen to keep the identity fields fixed; the
        # coerced arrays and copied name lists replace what the caller passed.
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "targets", targets)
        object.__setattr__(self, "feature_names", [str(n) for n in self.feature_names])
        object.__setattr__(self, "target_names", [str(n) for n in self.target_names])
        if self.row_keys is not None and self.row_keys.shape != (n_rows, 2):
            raise ValidationFailed(
                f"dataset '{self.name}': row_keys has shape {self.row_keys.shape}, "
                f"expected ({n_rows}, 2)"
            )

    @property
    def n_rows(self) -> int:
        """Number of examples."""
        return int(self.features.shape[0])

    @property
    def n_features(self) -> int:
        """Number of input features per example."""
        return int(self.features.shape[1])

    @property
    def n_outputs(self) -> int:
        """Output neurons needed: classes for classification, 1 for binary, k for regression."""
        if self.task == "classification":
            return len(self.target_names)
        return int(self.targets.shape[1])

    def content_hash(self) -> str:
        """SHA-256 hex digest of the task, column names, features and targets.

        The dataset name and source are left out on purpose: the same data
        loaded from two paths is the same dataset version. Byte order is
        pinned to little-endian so the hash is the same on every machine.
        """
        header = {
            "task": self.task,
            "feature_names": self.feature_names,
            "target_names": self.target_names,
            "features_shape": list(self.features.shape),
            "targets_shape": list(self.targets.shape),
            "targets_dtype": "int64" if self.task == "classification" else "float32",
        }
        digest = hashlib.sha256()
        digest.update(json.dumps(header, sort_keys=True).encode("utf-8"))
        digest.update(b"\0features\0")
        digest.update(np.ascontiguousarray(self.features, dtype="<f4").tobytes())
        digest.update(b"\0targets\0")
        target_dtype = "<i8" if self.task == "classification" else "<f4"
        digest.update(np.ascontiguousarray(self.targets, dtype=target_dtype).tobytes())
        return digest.hexdigest()

    def subset(self, rows: np.ndarray | Sequence[int]) -> Dataset:
        """The examples at ``rows`` (integer indices or a boolean mask), same names and source."""
        index = np.asarray(rows)
        if index.dtype == np.bool_:
            if index.shape != (self.n_rows,):
                raise ValidationFailed(
                    f"dataset '{self.name}': boolean row mask has shape {index.shape}, "
                    f"expected ({self.n_rows},)"
                )
        elif index.size == 0:
            index = index.astype(np.int64)
        elif index.dtype.kind not in "iu" or index.ndim != 1:
            raise ValidationFailed(
                f"dataset '{self.name}': rows must be a 1-D array of integer indices "
                f"or a boolean mask, got dtype {index.dtype} with shape {index.shape}"
            )
        elif index.min() < -self.n_rows or index.max() >= self.n_rows:
            raise ValidationFailed(
                f"dataset '{self.name}': row index out of range "
                f"[{int(index.min())}, {int(index.max())}] for {self.n_rows} rows"
            )
        return Dataset(
            name=self.name,
            task=self.task,
            features=self.features[index],
            targets=self.targets[index],
            feature_names=list(self.feature_names),
            target_names=list(self.target_names),
            source=self.source,
            prescaled=self.prescaled,
            row_keys=None if self.row_keys is None else self.row_keys[index],
        )

    def with_row_keys(self, row_keys: np.ndarray) -> Dataset:
        """This dataset with a digest per row (see ``row_keys``)."""
        return replace(self, row_keys=np.asarray(row_keys, dtype=np.uint64))

    def as_table(self) -> pa.Table:
        """The arrays as rows: ``input`` (a float32 vector) and ``target``."""
        features = np.ascontiguousarray(self.features, dtype=np.float32)
        inputs = pa.FixedSizeListArray.from_arrays(pa.array(features.reshape(-1)), self.n_features)
        if self.task == "classification":
            targets: pa.Array = pa.array(np.asarray(self.targets, dtype=np.int64))
        else:
            values = np.ascontiguousarray(self.targets, dtype=np.float32)
            targets = pa.FixedSizeListArray.from_arrays(
                pa.array(values.reshape(-1)), values.shape[1]
            )
        return pa.table({"input": inputs, "target": targets})

    @classmethod
    def from_table(
        cls,
        table: pa.Table,
        *,
        name: str,
        task: Task,
        feature_names: list[str],
        target_names: list[str],
        source: str = "",
        prescaled: bool = False,
    ) -> Dataset:
        """The dataset ``as_table`` wrote: ``input`` vectors and ``target`` values."""
        width = len(feature_names)
        inputs = table.column("input").combine_chunks().flatten()
        features = inputs.to_numpy(zero_copy_only=False).reshape(-1, width)
        target = table.column("target").combine_chunks()
        if task == "classification":
            targets = target.to_numpy(zero_copy_only=False)
        else:
            values = target.flatten().to_numpy(zero_copy_only=False)
            targets = values.reshape(-1, len(target_names))
        return cls(
            name=name,
            task=task,
            features=np.asarray(features, dtype=np.float32),
            targets=targets,
            feature_names=feature_names,
            target_names=target_names,
            source=source,
            prescaled=prescaled,
        )

    def keys(self) -> np.ndarray:
        """``row_keys``, or the digests of ``as_table``'s rows when it has none."""
        return self.row_keys if self.row_keys is not None else row_digests(self.as_table())


SPLIT_METHODS = ("stratified", "row_hash")


def split_dataset(
    ds: Dataset,
    test_fraction: float = 0.25,
    random_state: int = 0,
    stratify: bool = True,
    method: str = "stratified",
) -> tuple[Dataset, Dataset]:
    """Split into (train, test): the rows scikit-learn's ``train_test_split`` picks.

    ``method="row_hash"`` instead decides each row by its own digest
    (``rowsets.hash_split``): the same row lands in the same split however
    the rows are ordered and in every version of a dataset that holds it.

    Stratification applies only to classification and binary tasks. Rows are
    split by index (``splitting.split_rows``, numpy only), so the result
    matches ``train_test_split(X, y, test_size=test_fraction,
    random_state=random_state, stratify=...)`` on the raw arrays (anyone
    can reproduce a run's held-out rows with scikit-learn) without importing scikit-learn.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValidationFailed(
            f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}"
        )
    if ds.n_rows < 2:
        raise ValidationFailed(
            f"dataset '{ds.name}' has {ds.n_rows} rows; at least 2 are needed to split it"
        )
    if method == "row_hash":
        in_test = hash_split(ds.keys(), test_fraction) == TEST_SPLIT
        if in_test.all() or not in_test.any():
            raise ValidationFailed(
                f"cannot split dataset '{ds.name}' ({ds.n_rows} rows) by row hash with "
                f"test_fraction {test_fraction}: one side would be empty; use more rows"
            )
        return ds.subset(~in_test), ds.subset(in_test)
    if method != "stratified":
        raise ValidationFailed(
            f"unknown split method {method!r}: expected one of {', '.join(SPLIT_METHODS)}"
        )
    labels: np.ndarray | None = None
    if stratify and ds.task == "classification":
        labels = ds.targets
    elif stratify and ds.task == "binary":
        labels = ds.targets[:, 0]
    try:
        train_rows, test_rows = split_rows(ds.n_rows, test_fraction, random_state, labels)
    except SplitError as exc:
        hint = "; set stratify to false or use more rows" if labels is not None else ""
        raise ValidationFailed(
            f"cannot split dataset '{ds.name}' ({ds.n_rows} rows, "
            f"test_fraction {test_fraction}): {exc}{hint}"
        ) from exc
    return ds.subset(train_rows), ds.subset(test_rows)


def check_features(features: npt.ArrayLike, expected_width: int, what: str = "input") -> np.ndarray:
    """Coerce inference input to C-contiguous float32 ``[n, d]`` and check it.

    A single example ``[d]`` becomes ``[1, d]``. Raises ``ValidationFailed``
    naming the width mismatch, or the first row and column holding NaN or
    infinity, or an empty input.
    """
    try:
        values = np.asarray(features)
        # float32 input (the common case for batches) is checked without a
        # float64 round trip; anything else is widened first so an overflow
        # can be told apart from a genuine infinity.
        if values.dtype != np.float32:
            values = values.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"{what} is not a rectangular array of numbers: {exc}") from exc
    if values.ndim == 1:
        values = values[None, :]
    elif values.ndim != 2:
        shape = "a scalar" if values.ndim == 0 else f"shape {values.shape}"
        raise ValidationFailed(f"{what} must be one example [d] or a batch [n, d], got {shape}")
    if values.size == 0:
        raise ValidationFailed(f"{what} is empty")
    if values.shape[1] != expected_width:
        raise ValidationFailed(
            f"{what} width mismatch: expected {expected_width} features, got {values.shape[1]}"
        )
    _raise_on_non_finite(
        values, lambda row, col, fault: f"{what} row {row} contains {fault} (column {col})"
    )
    # Overflow is reported below with the offending value, not as a warning.
    with np.errstate(over="ignore"):
        result = np.ascontiguousarray(values, dtype=np.float32)
    _raise_on_non_finite(
        result,
        lambda row, col, _fault: (
            f"{what} row {row} column {col}: value {values[row, col]:g} is out of float32 range"
        ),
    )
    return result


def _first_non_finite(values: np.ndarray) -> tuple[int, int, str] | None:
    """(row, column, "NaN" or "infinity") of the first non-finite cell of a 2-D array, or None."""
    bad = ~np.isfinite(values)
    # One vectorised pass finds whether anything is wrong; the index lookup
    # below only runs on the error path.
    if not bad.any():
        return None
    row, col = (int(i) for i in np.argwhere(bad)[0])
    fault = "NaN" if np.isnan(values[row, col]) else "infinity"
    return row, col, fault


def _raise_on_non_finite(values: np.ndarray, message: Callable[[int, int, str], str]) -> None:
    found = _first_non_finite(values)
    if found is not None:
        raise ValidationFailed(message(*found))


def _coerce_features(name: str, features: np.ndarray) -> np.ndarray:
    array = np.asarray(features)
    if array.ndim != 2:
        raise ValidationFailed(
            f"dataset '{name}': features must be a 2-D array [rows, features], "
            f"got shape {array.shape}"
        )
    if array.dtype.kind not in "biuf":
        raise ValidationFailed(f"dataset '{name}': features must be numeric, got {array.dtype}")
    with np.errstate(over="ignore"):  # an overflow shows up as infinity just below
        result = np.ascontiguousarray(array, dtype=np.float32)
    _raise_on_non_finite(
        result,
        lambda row, col, fault: f"dataset '{name}': feature row {row} column {col} is {fault}",
    )
    return result


def _coerce_targets(name: str, task: Task, targets: np.ndarray, n_classes: int) -> np.ndarray:
    array = np.asarray(targets)
    if task == "classification":
        if array.ndim != 1 or array.dtype.kind not in "iu":
            raise ValidationFailed(
                f"dataset '{name}': classification targets must be a 1-D array of integer "
                f"class indices, got {array.dtype} with shape {array.shape}"
            )
        result = np.ascontiguousarray(array, dtype=np.int64)
        if result.size and (result.min() < 0 or result.max() >= n_classes):
            raise ValidationFailed(
                f"dataset '{name}': class indices must lie in [0, {n_classes - 1}] "
                f"({n_classes} class names), got [{int(result.min())}, {int(result.max())}]"
            )
        return result
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        raise ValidationFailed(
            f"dataset '{name}': {task} targets must be a numeric array [rows, outputs], "
            f"got {array.dtype} with shape {array.shape}"
        )
    with np.errstate(over="ignore"):  # an overflow shows up as infinity just below
        result = np.ascontiguousarray(array, dtype=np.float32)
    _raise_on_non_finite(
        result,
        lambda row, col, fault: f"dataset '{name}': target row {row} column {col} is {fault}",
    )
    if task == "binary":
        if result.shape[1] != 1:
            raise ValidationFailed(
                f"dataset '{name}': binary targets must have one column, got {result.shape[1]}"
            )
        invalid = np.flatnonzero((result[:, 0] != 0.0) & (result[:, 0] != 1.0))
        if invalid.size:
            row = int(invalid[0])
            raise ValidationFailed(
                f"dataset '{name}': binary targets must be 0 or 1, "
                f"row {row} is {float(result[row, 0]):g}"
            )
    return result
