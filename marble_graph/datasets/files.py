"""Datasets from CSV and JSON Lines files, and ``load_dataset`` for any spec.

Both formats are read into one row table (file line numbers kept), then
turned into arrays column by column with numpy. Every fault is reported as
a ``ValidationFailed`` naming the file, the line (and 0-based data row where
a value is at fault), the column and the offending value.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np

from marble_graph.datasets.builtin import BUILTIN_DATASETS, load_builtin
from marble_graph.datasets.dataset import Dataset, Task
from marble_graph.errors import ValidationFailed

CSV_SUFFIXES = (".csv",)
JSONL_SUFFIXES = (".jsonl", ".json")

# An integer-valued target with at most this many distinct values is read as
# class labels; more distinct integers look like a count or a measurement.
MAX_INFERRED_CLASSES = 50


def load_dataset(
    spec: str,
    *,
    feature_columns: Sequence[str] | None = None,
    target_column: str | None = None,
    task: Task | None = None,
    random_seed: int = 0,
) -> Dataset:
    """Load a built-in dataset by name, or a ``.csv`` / ``.jsonl`` / ``.json`` file by path.

    ``random_seed`` only matters for generated data (``sine``). Unknown
    names, missing files and every fault in a file raise ``ValidationFailed``.
    """
    if spec in BUILTIN_DATASETS:
        return load_builtin(
            spec,
            feature_columns=feature_columns,
            target_column=target_column,
            task=task,
            random_seed=random_seed,
        )
    path = Path(spec)
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES + JSONL_SUFFIXES:
        if not path.exists():
            raise ValidationFailed(f"dataset file '{spec}' does not exist")
        if not path.is_file():
            raise ValidationFailed(f"dataset path '{spec}' is not a file")
        table = _read_csv(spec) if suffix in CSV_SUFFIXES else _read_jsonl(spec)
        return _table_to_dataset(table, feature_columns, target_column, task)
    if path.is_file():
        raise ValidationFailed(
            f"dataset file '{spec}' has an unsupported extension '{suffix}': "
            "expected .csv, .jsonl or .json"
        )
    raise ValidationFailed(
        f"unknown dataset '{spec}': expected one of {', '.join(BUILTIN_DATASETS)}, "
        "or a path to a .csv or .jsonl file"
    )


@dataclass(frozen=True)
class _Table:
    """Raw cells of a file, row-major, with the file line of each data row."""

    path: str
    kind: str  # "CSV" or "JSON Lines", for the dataset's source text
    columns: list[str]
    rows: list[list[object]]
    lines: list[int]
    # CSV cells are text that may spell numbers; JSON values carry their type.
    text_cells: bool

    def column(self, name: str) -> list[object]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def at(self, row: int) -> str:
        """Where a data row is: file line and 0-based row index."""
        return f"{self.path} line {self.lines[row]} (row {row})"


def _read_csv(path: str) -> _Table:
    header: list[str] | None = None
    rows: list[list[object]] = []
    lines: list[int] = []
    try:
        # utf-8-sig drops the byte-order mark spreadsheet tools put in front.
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            try:
                for record in reader:
                    if not record:  # a blank line
                        continue
                    if header is None:
                        header = _check_header(path, [name.strip() for name in record])
                        continue
                    if len(record) != len(header):
                        raise ValidationFailed(
                            f"{path} line {reader.line_num}: expected {len(header)} values "
                            f"(one per column), got {len(record)}"
                        )
                    rows.append(list(record))
                    lines.append(reader.line_num)
            except csv.Error as exc:
                raise ValidationFailed(
                    f"{path} line {reader.line_num}: malformed CSV: {exc}"
                ) from exc
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"{path} is not UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise ValidationFailed(f"cannot read dataset file {path}: {exc.strerror}") from exc
    return _Table(path, "CSV", header or [], rows, lines, text_cells=True)


def _check_header(path: str, names: list[str]) -> list[str]:
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name:
            raise ValidationFailed(f"{path} line 1: column {position} of the header has no name")
        if name in seen:
            raise ValidationFailed(f"{path} line 1: column '{name}' appears twice in the header")
        seen.add(name)
    return names


def _read_jsonl(path: str) -> _Table:
    columns: list[str] | None = None
    first_line = 0
    rows: list[list[object]] = []
    lines: list[int] = []
    try:
        with open(path, encoding="utf-8-sig") as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValidationFailed(
                        f"{path} line {line_no}: invalid JSON: {exc.msg} (column {exc.colno})"
                    ) from exc
                if not isinstance(record, dict):
                    raise ValidationFailed(
                        f"{path} line {line_no}: expected a JSON object (one per line), "
                        f"got {_json_kind(record)}"
                    )
                if columns is None:
                    if not record:
                        raise ValidationFailed(f"{path} line {line_no}: empty object, no columns")
                    columns, first_line = list(record), line_no
                elif record.keys() != set(columns):
                    raise ValidationFailed(
                        f"{path} line {line_no}: keys differ from line {first_line}: "
                        + _key_difference(columns, list(record))
                    )
                rows.append([record[name] for name in columns])
                lines.append(line_no)
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"{path} is not UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise ValidationFailed(f"cannot read dataset file {path}: {exc.strerror}") from exc
    return _Table(path, "JSON Lines", columns or [], rows, lines, text_cells=False)


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "null" if value is None else "a number"


def _key_difference(expected: list[str], got: list[str]) -> str:
    missing = [key for key in expected if key not in got]
    extra = [key for key in got if key not in expected]
    parts = []
    if missing:
        parts.append("missing " + ", ".join(f"'{key}'" for key in missing))
    if extra:
        parts.append("unexpected " + ", ".join(f"'{key}'" for key in extra))
    return "; ".join(parts)


def _table_to_dataset(
    table: _Table,
    feature_columns: Sequence[str] | None,
    target_column: str | None,
    task: Task | None,
) -> Dataset:
    if not table.rows:
        raise ValidationFailed(f"dataset {table.path} is empty: no data rows")
    features_used, target = _resolve_columns(table, feature_columns, target_column)
    features = np.empty((len(table.rows), len(features_used)), dtype=np.float32)
    for j, name in enumerate(features_used):
        features[:, j] = _finite_float32(table, name, _numbers(table, name))
    resolved_task, targets, target_names = _targets(table, target, task)
    how = "given" if task is not None else "inferred"
    return Dataset(
        name=table.path,
        task=resolved_task,
        features=features,
        targets=targets,
        feature_names=features_used,
        target_names=target_names,
        source=(
            f"{table.kind} file {table.path}: {len(table.rows)} rows, {len(features_used)} "
            f"features, target column '{target}' ({resolved_task}, {how})"
        ),
    )


def _resolve_columns(
    table: _Table, feature_columns: Sequence[str] | None, target_column: str | None
) -> tuple[list[str], str]:
    target = table.columns[-1] if target_column is None else target_column
    _require_column(table, target)
    if feature_columns is None:
        features = [name for name in table.columns if name != target]
        if not features:
            raise ValidationFailed(
                f"{table.path}: no feature columns (the only column is the target '{target}')"
            )
        return features, target
    if len(feature_columns) == 0:
        raise ValidationFailed(f"{table.path}: feature_columns is empty; name at least one")
    seen: set[str] = set()
    for name in feature_columns:
        _require_column(table, name)
        if name == target:
            raise ValidationFailed(
                f"{table.path}: column '{name}' is both a feature and the target"
            )
        if name in seen:
            raise ValidationFailed(f"{table.path}: feature column '{name}' is listed twice")
        seen.add(name)
    return list(feature_columns), target


def _require_column(table: _Table, name: str) -> None:
    if name not in table.columns:
        raise ValidationFailed(
            f"{table.path}: unknown column '{name}' (columns: {', '.join(table.columns)})"
        )


def _numbers(table: _Table, name: str) -> np.ndarray:
    """The column as float64; raises at the first cell that is not a number."""
    cells = table.column(name)
    if table.text_cells:
        try:
            # One vectorised parse for the whole column; the slow scan below
            # only runs to find which cell broke it.
            return np.asarray(cells, dtype=np.str_).astype(np.float64)
        except ValueError as exc:
            for row, cell in enumerate(cells):
                try:
                    float(str(cell))
                except ValueError:
                    _not_a_number(table, row, name, cell)
            # numpy refused a cell Python accepts; report numpy's reason.
            raise ValidationFailed(f"{table.path}, column '{name}': {exc}") from exc
    values = np.empty(len(cells), dtype=np.float64)
    for row, cell in enumerate(cells):
        # bool is an int subclass, but true/false are not feature values.
        if isinstance(cell, bool) or not isinstance(cell, int | float):
            _not_a_number(table, row, name, cell)
        try:
            values[row] = float(cell)
        except OverflowError:
            raise ValidationFailed(
                f"{table.at(row)}, column '{name}': value {cell} is out of float range"
            ) from None
    return values


def _not_a_number(table: _Table, row: int, name: str, cell: object) -> NoReturn:
    shown = repr(cell) if isinstance(cell, str) else json.dumps(cell)
    raise ValidationFailed(
        f"{table.path} line {table.lines[row]}, column '{name}': expected a number, got {shown}"
    )


def _finite_float32(table: _Table, name: str, values: np.ndarray) -> np.ndarray:
    """The float64 column cast to float32, refusing NaN, infinity and overflow."""
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        fault = "NaN" if np.isnan(values[row]) else "infinity"
        raise ValidationFailed(f"{table.at(row)}, column '{name}': {fault} is not allowed")
    with np.errstate(over="ignore"):  # reported below with the value
        narrowed = values.astype(np.float32)
    overflow = np.flatnonzero(~np.isfinite(narrowed))
    if overflow.size:
        row = int(overflow[0])
        raise ValidationFailed(
            f"{table.at(row)}, column '{name}': value {values[row]:g} is out of float32 range"
        )
    return narrowed


def _targets(table: _Table, name: str, task: Task | None) -> tuple[Task, np.ndarray, list[str]]:
    """(task, targets, target_names) of the target column; infers the task when not given."""
    cells = table.column(name)
    for row, cell in enumerate(cells):
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            raise ValidationFailed(f"{table.at(row)}, column '{name}': missing target value")
    try:
        numeric = _numbers(table, name)
    except ValidationFailed:
        # Text labels ("cat", "dog") can only be classes.
        if task in ("regression", "binary"):
            raise
        return "classification", *_classes(table, name, _labels(table, cells))
    narrowed = _finite_float32(table, name, numeric)
    # Classes come from the float64 values so a label like 0.1 reads "0.1",
    # not its float32 rounding.
    values = numeric
    resolved = task if task is not None else _infer_task(values)
    if resolved == "classification":
        return resolved, *_classes(table, name, values)
    if resolved == "binary":
        invalid = np.flatnonzero((values != 0.0) & (values != 1.0))
        if invalid.size:
            row = int(invalid[0])
            raise ValidationFailed(
                f"{table.at(row)}, column '{name}': binary targets must be 0 or 1, "
                f"got {values[row]:g}"
            )
    return resolved, narrowed[:, None], [name]


def _infer_task(values: np.ndarray) -> Task:
    distinct = np.unique(values)
    if distinct.size == 2 and distinct[0] == 0.0 and distinct[1] == 1.0:
        return "binary"
    integral = bool(np.all(distinct == np.round(distinct)))
    if integral and distinct.size <= MAX_INFERRED_CLASSES:
        return "classification"
    return "regression"


def _labels(table: _Table, cells: list[object]) -> np.ndarray:
    """Cells as class-label strings (surrounding spaces dropped)."""
    labels: list[str] = []
    for row, cell in enumerate(cells):
        if isinstance(cell, str):
            labels.append(cell.strip())
        elif isinstance(cell, int | float) and not isinstance(cell, bool):
            labels.append(json.dumps(cell))
        else:
            raise ValidationFailed(
                f"{table.at(row)}: a class label must be a string or a number, "
                f"got {json.dumps(cell)}"
            )
    return np.asarray(labels, dtype=np.str_)


def _classes(table: _Table, name: str, values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Class indices into the sorted distinct values, and those values as label strings."""
    classes, indices = np.unique(values, return_inverse=True)
    if classes.size < 2:
        raise ValidationFailed(
            f"{table.path}: target column '{name}' holds a single class "
            f"({_label_text(classes[0])}); classification needs at least two"
        )
    return indices.astype(np.int64).reshape(-1), [_label_text(value) for value in classes]


def _label_text(value: object) -> str:
    # Whole-number classes read "3", not "3.0"; other numbers keep full precision.
    if isinstance(value, np.floating):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)
