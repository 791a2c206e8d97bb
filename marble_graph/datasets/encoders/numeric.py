"""Numbers and fixed-width number vectors, standardised with recorded statistics.

``numeric`` encodes a scalar column (integers, floats, booleans) as one
float; ``vector`` encodes a list column whose rows all hold the same number
of values as that many floats. Fitting records each output dimension's mean
and standard deviation (a constant dimension gets scale 1, as in
``normalisation.py``: its computed std is rounding residue); encoding is
``(x - mean) / std``. Decoding is the inverse affine map, so a numeric
target's predictions come back in the data's own units. It is not lossless:
float32 rounding sits in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from marble_graph.datasets.encoders.arrow_columns import ColumnData, as_arrow_array, reject_nulls
from marble_graph.datasets.encoders.base import (
    EncoderContext,
    EncoderKind,
    is_list_type,
    register_encoder_kind,
)
from marble_graph.datasets.encoders.records import record_int, record_vector
from marble_graph.datasets.normalisation import _column_stats
from marble_graph.errors import ValidationFailed


@dataclass(frozen=True, eq=False)
class _Standardised:
    """Per-dimension statistics and what the numeric and vector encoders share."""

    KIND: ClassVar[str]
    mean: np.ndarray  # float64 [width]
    std: np.ndarray  # float64 [width], > 0

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=np.float64)
        std = np.asarray(self.std, dtype=np.float64)
        if mean.ndim != 1 or mean.shape != std.shape or mean.size == 0:
            raise ValidationFailed(
                f"{self.KIND} encoder: mean and std must be two lists of the same length, "
                f"got shapes {mean.shape} and {std.shape}"
            )
        if self.KIND == "numeric" and mean.size != 1:
            raise ValidationFailed(f"numeric encoder: one mean and std, got {mean.size}")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
            raise ValidationFailed(f"{self.KIND} encoder: mean must be finite and std positive")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @property
    def kind(self) -> str:
        """The registered kind: ``numeric`` or ``vector``."""
        return self.KIND

    @property
    def width(self) -> int:
        """Floats per row: one per standardised dimension."""
        return int(self.mean.shape[0])

    @property
    def lossless(self) -> bool:
        """False: float32 rounding sits between a value and its decoding."""
        return False

    def to_record(self) -> dict[str, Any]:
        """``{"kind": .., "width": w, "mean": [..], "std": [..]}``."""
        return {
            "kind": self.kind,
            "width": self.width,
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
        }

    def __eq__(self, other: object) -> bool:
        # Dataclass equality would compare the numpy arrays element-wise.
        return (
            type(other) is type(self)
            and isinstance(other, _Standardised)
            and np.array_equal(other.mean, self.mean)
            and np.array_equal(other.std, self.std)
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.mean.tobytes(), self.std.tobytes()))


@dataclass(frozen=True, eq=False)
class NumericEncoder(_Standardised):
    """A scalar number column standardised to one float: ``(x - mean) / std``."""

    KIND: ClassVar[str] = "numeric"

    def encode(self, column: ColumnData, what: str = "column") -> np.ndarray:
        """Standardised values, float32 ``[n, 1]``."""
        values = _scalar_matrix(as_arrow_array(column, what), what)
        return _standardise(values, self.mean, self.std, what)

    def decode(self, matrix: np.ndarray, what: str = "column") -> list[Any]:
        """Values in the column's units (floats) from standardised ``[n, 1]`` (or ``[n]``)."""
        return [float(v) for v in _unstandardise(matrix, self.mean, self.std, what)[:, 0]]


@dataclass(frozen=True, eq=False)
class VectorEncoder(_Standardised):
    """A list column of one fixed width, each dimension standardised on its own."""

    KIND: ClassVar[str] = "vector"

    def encode(self, column: ColumnData, what: str = "column") -> np.ndarray:
        """Standardised values, float32 ``[n, width]``; a row of another width is an error."""
        values = _list_matrix(as_arrow_array(column, what), what, self.width)
        return _standardise(values, self.mean, self.std, what)

    def decode(self, matrix: np.ndarray, what: str = "column") -> list[Any]:
        """One list of floats per row, in the column's units."""
        values = _unstandardise(matrix, self.mean, self.std, what)
        return [row.tolist() for row in values]


def _fit_numeric(
    array: pa.Array, options: dict[str, Any], context: EncoderContext
) -> NumericEncoder:
    values = _scalar_matrix(array, context.what)
    mean, std = _fitted_stats(values, context.what)
    return NumericEncoder(mean, std)


def _fit_vector(array: pa.Array, options: dict[str, Any], context: EncoderContext) -> VectorEncoder:
    values = _list_matrix(array, context.what, expected_width=None)
    mean, std = _fitted_stats(values, context.what)
    return VectorEncoder(mean, std)


def _numeric_from_record(record: dict[str, Any], context: EncoderContext) -> NumericEncoder:
    record_int(record, "width", 1, 1)
    return NumericEncoder(
        record_vector(record, "mean", 1), record_vector(record, "std", 1, positive=True)
    )


def _vector_from_record(record: dict[str, Any], context: EncoderContext) -> VectorEncoder:
    width = record_int(record, "width", 1)
    return VectorEncoder(
        record_vector(record, "mean", width), record_vector(record, "std", width, positive=True)
    )


def _fitted_stats(values: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    if values.shape[0] == 0:
        raise ValidationFailed(f"{what}: cannot fit an encoder on a column with no rows")
    return _column_stats(values)


def _scalar_matrix(array: pa.Array, what: str) -> np.ndarray:
    """A number column as finite float64 ``[n, 1]``."""
    kind = array.type
    if not (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_null(kind)  # an all-null column: reject_nulls names its first row
    ):
        hint = "; a list column takes the vector encoder" if is_list_type(kind) else ""
        raise ValidationFailed(
            f"{what}: the numeric encoder needs numbers, got Arrow type {kind}{hint}"
        )
    reject_nulls(array, what)
    values = array.to_numpy(zero_copy_only=False).astype(np.float64)
    _reject_non_finite(values, what)
    return values[:, None]


def _list_matrix(array: pa.Array, what: str, expected_width: int | None) -> np.ndarray:
    """A list-of-numbers column as finite float64 ``[n, width]``.

    Every row must hold the same number of values (``expected_width`` when
    given, else the first row's); the first row that differs is named with
    the widths seen.
    """
    kind = array.type
    if not is_list_type(kind):
        raise ValidationFailed(
            f"{what}: the vector encoder needs a list column, got Arrow type {kind}"
        )
    value_type = kind.value_type
    if not (
        pa.types.is_integer(value_type)
        or pa.types.is_floating(value_type)
        or pa.types.is_null(value_type)
    ):
        raise ValidationFailed(
            f"{what}: the vector encoder needs lists of numbers, got lists of {value_type}"
        )
    reject_nulls(array, what)
    n_rows = len(array)
    if pa.types.is_fixed_size_list(kind):
        widths = np.full(n_rows, kind.list_size, dtype=np.int64)
    else:
        widths = np.diff(array.offsets.to_numpy(zero_copy_only=False).astype(np.int64))
    width = expected_width if expected_width is not None else (int(widths[0]) if n_rows else 0)
    wrong = np.flatnonzero(widths != width)
    if wrong.size:
        row = int(wrong[0])
        seen = ", ".join(str(int(w)) for w in np.unique(widths))
        raise ValidationFailed(
            f"{what}: row {row} holds {int(widths[row])} values, expected {width} "
            f"(widths seen: {seen}); every row of a vector column needs the same width"
        )
    if width == 0 and n_rows:
        raise ValidationFailed(f"{what}: the vector rows are empty lists")
    flat = array.flatten()
    if flat.null_count:
        first = int(np.flatnonzero(flat.is_null().to_numpy(zero_copy_only=False))[0])
        raise ValidationFailed(
            f"{what}: row {first // width} holds a null at position {first % width}"
        )
    values = flat.to_numpy(zero_copy_only=False).astype(np.float64).reshape(n_rows, width)
    _reject_non_finite(values, what)
    return values


def _reject_non_finite(values: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        index = np.argwhere(bad)[0]
        row = int(index[0])
        at = f" position {int(index[1])}" if values.ndim == 2 and values.shape[1] > 1 else ""
        raise ValidationFailed(f"{what}: row {row}{at} is {values[tuple(index)]} (not finite)")


def _standardise(values: np.ndarray, mean: np.ndarray, std: np.ndarray, what: str) -> np.ndarray:
    with np.errstate(over="ignore"):  # an overflow is reported just below, with its row
        scaled = np.ascontiguousarray((values - mean) / std, dtype=np.float32)
    bad = ~np.isfinite(scaled)
    if bad.any():
        row, position = (int(i) for i in np.argwhere(bad)[0])
        raise ValidationFailed(
            f"{what}: row {row} value {values[row, position]:g} is out of float32 range "
            f"once standardised (mean {mean[position]:g}, std {std[position]:g})"
        )
    return scaled


def _unstandardise(matrix: np.ndarray, mean: np.ndarray, std: np.ndarray, what: str) -> np.ndarray:
    values = np.asarray(matrix, dtype=np.float64)
    if values.ndim == 1 and mean.shape[0] == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[1] != mean.shape[0]:
        raise ValidationFailed(
            f"{what}: expected encoded rows [n, {mean.shape[0]}], got shape {values.shape}"
        )
    return values * std + mean


register_encoder_kind(EncoderKind("numeric", (), _fit_numeric, _numeric_from_record))
register_encoder_kind(EncoderKind("vector", (), _fit_vector, _vector_from_record))
