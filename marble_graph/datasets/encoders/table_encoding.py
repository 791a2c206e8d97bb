"""A whole table's encoding: one encoder per input column and one for the target.

``TableEncoding.fit`` picks (or takes) an encoder for each column and
learns it from the table; ``encode`` turns a table into the ``Dataset`` a
brain trains on, its features the input encoders' blocks side by side;
``encode_inputs`` does the same for raw inference input; ``decode_outputs``
turns a brain's outputs back into labels, numbers in the target's units, or
bytes. ``to_record`` / ``from_record`` keep the encoding with a brain
version, so inference encodes exactly as training did.

The task follows from the target's encoder: a ``label`` target is
classification, any other target regression over its encoded floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from marble_graph.datasets.dataset import Dataset, Task
from marble_graph.datasets.encoders.arrow_columns import ColumnData
from marble_graph.datasets.encoders.base import (
    ColumnEncoder,
    default_encoder_kind,
    encoder_from_record,
    fit_encoder,
)
from marble_graph.datasets.encoders.label import LabelEncoder
from marble_graph.datasets.encoders.vocabulary import VocabularyLookup
from marble_graph.datasets.files import MAX_INFERRED_CLASSES
from marble_graph.errors import ValidationFailed

# Name of a column taken as the target when the caller names none.
DEFAULT_TARGET_COLUMN = "target"
RECORD_FORMAT = 1

# Raw inference input: a table, or column name -> values.
Columns: TypeAlias = pa.Table | Mapping[str, ColumnData]


@dataclass(frozen=True)
class TableEncoding:
    """The encoders of a table's input columns (in feature order) and of its target."""

    inputs: list[tuple[str, ColumnEncoder]]
    target: tuple[str, ColumnEncoder]
    task: Task

    def __post_init__(self) -> None:
        if not self.inputs:
            raise ValidationFailed("a table encoding needs at least one input column")
        names = [name for name, _ in self.inputs]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValidationFailed(f"input columns listed twice: {', '.join(duplicated)}")
        if self.target[0] in names:
            raise ValidationFailed(f"column {self.target[0]!r} is both an input and the target")
        expected = _task_of(self.target[1])
        if self.task != expected:
            raise ValidationFailed(
                f"a {self.target[1].kind} target means task {expected!r}, got {self.task!r}"
            )
        object.__setattr__(self, "inputs", list(self.inputs))

    @classmethod
    def fit(
        cls,
        table: pa.Table,
        input_columns: list[str] | None = None,
        target_column: str | None = None,
        encoders: dict[str, dict[str, Any]] | None = None,
        vocabularies: VocabularyLookup | None = None,
    ) -> TableEncoding:
        """Choose and fit an encoder per column of ``table``.

        The target is ``target_column``, else a column named ``target``,
        else the last column; the inputs are ``input_columns``, else every
        other column. ``encoders`` maps a column name to ``{"kind": ...,
        **options}`` (``kind`` may be left out to keep the default kind).
        Defaults follow ``default_encoder_kind``, and an integer target with
        at most ``MAX_INFERRED_CLASSES`` distinct values is read as labels.
        """
        if not isinstance(table, pa.Table):
            raise ValidationFailed(f"expected a pyarrow Table, got {type(table).__name__}")
        columns = list(table.column_names)
        if table.num_rows == 0:
            raise ValidationFailed("cannot fit an encoding on a table with no rows")
        target_name = _target_name(columns, target_column)
        input_names = _input_names(columns, input_columns, target_name)
        specs = _encoder_specs(encoders, columns, [*input_names, target_name])

        def fitted(name: str, role: str) -> ColumnEncoder:
            column = table.column(name)
            spec = dict(specs.get(name, {}))
            kind = spec.pop("kind", None)
            if kind is None:
                kind = _default_kind(column, role, name)
            return fit_encoder(kind, column, name, vocabularies, **spec)

        inputs = [(name, fitted(name, "input")) for name in input_names]
        target_encoder = fitted(target_name, "target")
        return cls(inputs, (target_name, target_encoder), _task_of(target_encoder))

    @property
    def input_columns(self) -> list[str]:
        """The input columns, in feature order."""
        return [name for name, _ in self.inputs]

    @property
    def n_features(self) -> int:
        """Width of the feature matrix: the input encoders' widths added up."""
        return sum(encoder.width for _, encoder in self.inputs)

    @property
    def feature_names(self) -> list[str]:
        """``col`` for a one-float block, ``col[i]`` for each float of a wider one."""
        return [name for column, encoder in self.inputs for name in _names(column, encoder.width)]

    @property
    def target_names(self) -> list[str]:
        """Class labels as text for classification, else one name per target float."""
        name, encoder = self.target
        if isinstance(encoder, LabelEncoder):
            return [str(label) for label in encoder.classes]
        return _names(name, encoder.width)

    def encode(self, table: pa.Table, name: str) -> Dataset:
        """The ``Dataset`` named ``name``: encoded features and targets of ``table``.

        ``prescaled`` is set: numeric columns are already standardised with
        the fitted statistics, and every other block has a fixed scale.
        """
        features = self.encode_inputs(table)
        target_name, encoder = self.target
        target_column = _column(table, target_name, "target")
        what = f"column {target_name!r}"
        if isinstance(encoder, LabelEncoder):
            targets = encoder.indices(target_column, what)
        else:
            targets = encoder.encode(target_column, what)
        return Dataset(
            name=name,
            task=self.task,
            features=features,
            targets=targets,
            feature_names=self.feature_names,
            target_names=self.target_names,
            prescaled=True,
        )

    def encode_inputs(self, table_or_columns: Columns) -> np.ndarray:
        """Features float32 ``[n, n_features]`` of raw input (a table or column -> values)."""
        columns = _as_columns(table_or_columns)
        missing = [name for name in self.input_columns if name not in columns]
        if missing:
            raise ValidationFailed(
                f"input is missing column(s) {', '.join(missing)}; "
                f"expected {', '.join(self.input_columns)}"
            )
        blocks = [
            encoder.encode(columns[name], f"column {name!r}") for name, encoder in self.inputs
        ]
        rows = {name: block.shape[0] for (name, _), block in zip(self.inputs, blocks, strict=True)}
        if len(set(rows.values())) > 1:
            counts = ", ".join(f"{name}: {n}" for name, n in rows.items())
            raise ValidationFailed(f"input columns have different row counts ({counts})")
        return np.ascontiguousarray(np.concatenate(blocks, axis=1), dtype=np.float32)

    def decode_outputs(self, outputs: np.ndarray) -> list[Any] | None:
        """Outputs ``[n, k]`` as target values: labels (argmax), units, or bytes.

        None when the target's encoder cannot decode (hashed text).
        """
        name, encoder = self.target
        if encoder.kind == "text":
            return None
        return encoder.decode(np.asarray(outputs), f"target column {name!r}")

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready record; ``from_record`` rebuilds the same encoding."""
        return {
            "format": RECORD_FORMAT,
            "task": self.task,
            "inputs": [{"column": name, "encoder": enc.to_record()} for name, enc in self.inputs],
            "target": {"column": self.target[0], "encoder": self.target[1].to_record()},
        }

    @classmethod
    def from_record(
        cls, record: object, vocabularies: VocabularyLookup | None = None
    ) -> TableEncoding:
        """Rebuild from ``to_record``'s output; ``vocabularies`` resolves vocabulary digests."""
        if not isinstance(record, dict):
            raise ValidationFailed(f"table encoding record must be an object, got {record!r:.100}")
        if record.get("format") != RECORD_FORMAT:
            raise ValidationFailed(
                f"table encoding record format {record.get('format')!r} is not supported "
                f"(expected {RECORD_FORMAT})"
            )
        inputs_record = record.get("inputs")
        if not isinstance(inputs_record, list):
            raise ValidationFailed("table encoding record: 'inputs' must be a list")
        inputs = [_column_encoder(entry, vocabularies, "inputs") for entry in inputs_record]
        target = _column_encoder(record.get("target"), vocabularies, "target")
        task = record.get("task")
        if task != _task_of(target[1]):
            raise ValidationFailed(
                f"table encoding record: task {task!r} does not match its "
                f"{target[1].kind} target (expected {_task_of(target[1])!r})"
            )
        return cls(inputs, target, _task_of(target[1]))


def _task_of(target: ColumnEncoder) -> Task:
    return "classification" if target.kind == "label" else "regression"


def _names(column: str, width: int) -> list[str]:
    return [column] if width == 1 else [f"{column}[{i}]" for i in range(width)]


def _target_name(columns: list[str], target_column: str | None) -> str:
    if target_column is not None:
        if target_column not in columns:
            raise ValidationFailed(
                f"target column {target_column!r} is not in the table "
                f"(columns: {', '.join(columns)})"
            )
        return target_column
    if DEFAULT_TARGET_COLUMN in columns:
        return DEFAULT_TARGET_COLUMN
    if len(columns) < 2:
        raise ValidationFailed(
            f"the table needs an input column and a target column, it has {columns}"
        )
    return columns[-1]


def _input_names(columns: list[str], input_columns: list[str] | None, target: str) -> list[str]:
    if input_columns is None:
        return [name for name in columns if name != target]
    unknown = [name for name in input_columns if name not in columns]
    if unknown:
        raise ValidationFailed(
            f"input column(s) {', '.join(map(repr, unknown))} not in the table "
            f"(columns: {', '.join(columns)})"
        )
    if target in input_columns:
        raise ValidationFailed(f"column {target!r} is the target; it cannot be an input too")
    return list(input_columns)


def _encoder_specs(
    encoders: dict[str, dict[str, Any]] | None, columns: list[str], used: list[str]
) -> dict[str, dict[str, Any]]:
    if not encoders:
        return {}
    unknown = [name for name in encoders if name not in columns]
    if unknown:
        raise ValidationFailed(
            f"encoders given for column(s) not in the table: {', '.join(map(repr, unknown))} "
            f"(columns: {', '.join(columns)})"
        )
    unused = [name for name in encoders if name not in used]
    if unused:
        raise ValidationFailed(
            f"encoders given for column(s) {', '.join(map(repr, unused))} that are neither "
            f"inputs nor the target (used columns: {', '.join(used)})"
        )
    for name, spec in encoders.items():
        if not isinstance(spec, dict):
            raise ValidationFailed(
                f"encoder for column {name!r} must be an object like "
                f'{{"kind": "text", "width": 64}}, got {spec!r}'
            )
    return encoders


def _default_kind(column: pa.ChunkedArray, role: str, name: str) -> str:
    kind = default_encoder_kind(column.type, "target" if role == "target" else "input", name)
    # Few distinct integers in a target are class labels (as in files.py).
    if (
        role == "target"
        and kind == "numeric"
        and pa.types.is_integer(column.type)
        and pc.count_distinct(column).as_py() <= MAX_INFERRED_CLASSES
    ):
        return "label"
    return kind


def _as_columns(table_or_columns: Columns) -> Mapping[str, ColumnData]:
    if isinstance(table_or_columns, pa.Table):
        return {name: table_or_columns.column(name) for name in table_or_columns.column_names}
    if isinstance(table_or_columns, Mapping):
        return table_or_columns
    raise ValidationFailed(
        "input must be a pyarrow Table or a mapping of column name to values, "
        f"got {type(table_or_columns).__name__}"
    )


def _column(table: pa.Table, name: str, role: str) -> pa.ChunkedArray:
    if not isinstance(table, pa.Table):
        raise ValidationFailed(f"expected a pyarrow Table, got {type(table).__name__}")
    if name not in table.column_names:
        raise ValidationFailed(
            f"{role} column {name!r} is not in the table (columns: {', '.join(table.column_names)})"
        )
    return table.column(name)


def _column_encoder(
    entry: object, vocabularies: VocabularyLookup | None, where: str
) -> tuple[str, ColumnEncoder]:
    if not isinstance(entry, dict) or not isinstance(entry.get("column"), str):
        raise ValidationFailed(
            f"table encoding record: each of '{where}' needs a 'column' name and an 'encoder'"
        )
    name = entry["column"]
    return name, encoder_from_record(entry.get("encoder"), vocabularies, name)
