"""Class labels (text, integers or booleans) as class indices and one-hot rows.

Fitting records the sorted distinct labels; class ``i`` is ``classes[i]``.
``indices`` gives the int64 class index of each row (classification
targets); ``encode`` gives one-hot float32 rows (a categorical input).
Decoding maps indices, or the argmax of a row of outputs, back to labels.
A label not seen when fitting is an error naming the row and the classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from marble_graph.datasets.encoders.arrow_columns import (
    ColumnData,
    as_arrow_array,
    as_string_array,
    is_text_type,
    reject_nulls,
)
from marble_graph.datasets.encoders.base import EncoderContext, EncoderKind, register_encoder_kind
from marble_graph.errors import ValidationFailed

# Classes listed in an unknown-label message; the rest are counted.
LISTED_CLASSES = 20


@dataclass(frozen=True)
class LabelEncoder:
    """Sorted class labels; a row's class index is its label's place in ``classes``."""

    classes: list[Any]  # all str, all int or all bool; sorted, distinct

    def __post_init__(self) -> None:
        classes = list(self.classes)
        label_type = _label_type(classes)
        if label_type is None:
            raise ValidationFailed(
                "label encoder classes must be all text, all integers or all booleans, "
                f"got {classes[:LISTED_CLASSES]!r}"
            )
        if not classes:
            raise ValidationFailed("label encoder needs at least one class")
        if classes != sorted(set(classes)):
            raise ValidationFailed("label encoder classes must be sorted and distinct")
        object.__setattr__(self, "classes", classes)

    @property
    def kind(self) -> str:
        """Always ``label``."""
        return "label"

    @property
    def width(self) -> int:
        """One float per class (one-hot)."""
        return len(self.classes)

    @property
    def lossless(self) -> bool:
        """True: every known label comes back exactly."""
        return True

    def indices(self, column: ColumnData, what: str = "column") -> np.ndarray:
        """Class index of each row, int64 ``[n]``; an unknown label raises ValidationFailed."""
        array = self._comparable(as_arrow_array(column, what), what)
        reject_nulls(array, what)
        value_set = pa.array(self.classes, type=array.type)
        found = pc.index_in(array, value_set=value_set)
        if found.null_count:
            row = int(np.flatnonzero(found.is_null().to_numpy(zero_copy_only=False))[0])
            shown = ", ".join(str(c) for c in self.classes[:LISTED_CLASSES])
            more = (
                f" ... ({len(self.classes)} in all)" if len(self.classes) > LISTED_CLASSES else ""
            )
            raise ValidationFailed(
                f"{what}: row {row} has unknown label {array[row].as_py()!r} "
                f"(known classes: {shown}{more})"
            )
        return found.to_numpy(zero_copy_only=False).astype(np.int64)

    def encode(self, column: ColumnData, what: str = "column") -> np.ndarray:
        """One-hot rows, float32 ``[n, classes]``."""
        index = self.indices(column, what)
        out = np.zeros((len(index), self.width), dtype=np.float32)
        out[np.arange(len(index)), index] = 1.0
        return out

    def decode(self, matrix: np.ndarray, what: str = "column") -> list[Any]:
        """Labels from class indices ``[n]`` or from rows of outputs ``[n, classes]`` (argmax)."""
        values = np.asarray(matrix)
        if values.ndim == 2:
            if values.shape[1] != self.width:
                raise ValidationFailed(
                    f"{what}: expected [n, {self.width}] outputs (one per class), "
                    f"got shape {values.shape}"
                )
            index = values.argmax(axis=1) if values.shape[0] else np.zeros(0, dtype=np.int64)
        elif values.ndim == 1:
            if values.dtype.kind not in "iu" and not np.array_equal(values, np.round(values)):
                raise ValidationFailed(f"{what}: class indices must be whole numbers")
            index = values.astype(np.int64)
        else:
            raise ValidationFailed(
                f"{what}: expected class indices [n] or outputs [n, {self.width}], "
                f"got shape {values.shape}"
            )
        out_of_range = np.flatnonzero((index < 0) | (index >= self.width))
        if out_of_range.size:
            row = int(out_of_range[0])
            raise ValidationFailed(
                f"{what}: row {row} has class index {int(index[row])}, "
                f"outside [0, {self.width - 1}]"
            )
        classes = np.empty(self.width, dtype=object)
        classes[:] = self.classes
        return list(classes[index])

    def to_record(self) -> dict[str, Any]:
        """``{"kind": "label", "width": k, "classes": [...]}``."""
        return {"kind": self.kind, "width": self.width, "classes": list(self.classes)}

    def _comparable(self, array: pa.Array, what: str) -> pa.Array:
        """``array`` cast to the Arrow type the classes are matched in."""
        label_type = _label_type(self.classes)
        expected = _arrow_label_type(array.type, what)
        if expected != label_type:
            raise ValidationFailed(
                f"{what}: the label encoder's classes are {label_type} labels, "
                f"the column holds Arrow type {array.type}"
            )
        return _cast_labels(array, label_type)


def _label_type(classes: list[Any]) -> str | None:
    """``text``, ``integer`` or ``boolean`` when every class is of that type, else None."""
    if all(isinstance(c, bool) for c in classes):
        return "boolean"
    if all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return "integer"
    if all(isinstance(c, str) for c in classes):
        return "text"
    return None


def _arrow_label_type(kind: pa.DataType, what: str) -> str:
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind):
        return "integer"
    if is_text_type(kind):
        return "text"
    hint = " (use the numeric encoder for measurements)" if pa.types.is_floating(kind) else ""
    raise ValidationFailed(
        f"{what}: the label encoder needs text, integer or boolean labels, "
        f"got Arrow type {kind}{hint}"
    )


def _cast_labels(array: pa.Array, label_type: str) -> pa.Array:
    if label_type == "integer":
        return array.cast(pa.int64())
    if label_type == "text":
        return as_string_array(array).cast(pa.large_string())
    return array


def _fit_label(array: pa.Array, options: dict[str, Any], context: EncoderContext) -> LabelEncoder:
    label_type = _arrow_label_type(array.type, context.what)
    labels = _cast_labels(array, label_type)
    reject_nulls(labels, context.what)
    if len(labels) == 0:
        raise ValidationFailed(
            f"{context.what}: cannot fit a label encoder on a column with no rows"
        )
    distinct = pc.unique(labels)
    return LabelEncoder(sorted(distinct.to_pylist()))


def _label_from_record(record: dict[str, Any], context: EncoderContext) -> LabelEncoder:
    classes = record.get("classes")
    if not isinstance(classes, list):
        raise ValidationFailed(f"{context.what}: label encoder record: 'classes' must be a list")
    try:
        encoder = LabelEncoder(classes)
    except ValidationFailed as exc:
        raise ValidationFailed(f"{context.what}: label encoder record: {exc}") from exc
    if record.get("width", encoder.width) != encoder.width:
        raise ValidationFailed(
            f"{context.what}: label encoder record says width {record.get('width')}, "
            f"it lists {encoder.width} classes"
        )
    return encoder


register_encoder_kind(EncoderKind("label", (), _fit_label, _label_from_record))
