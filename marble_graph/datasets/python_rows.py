"""Rows held in Python objects as one ``pyarrow.Table``.

Tables, pandas DataFrames, dicts of columns, ``(X, y)`` arrays and lists of
``(input, target)`` pairs; values may be numbers, vectors, text or bytes.
Every fault names the object, the 0-based row, the column and expected vs got.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from itertools import repeat
from operator import itemgetter
from typing import cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from marble_graph.datasets.table_checks import checked_table, raise_width
from marble_graph.errors import ValidationFailed

# A list array's offsets are int32, so one chunk holds at most this many values.
_MAX_LIST_VALUES = 2**31 - 1

_VECTOR = pa.list_(pa.float32())
_ACCEPTED_OBJECTS = (
    "a pyarrow Table, a pandas DataFrame, a dict of column name -> values, "
    "an (X, y) tuple of arrays or a list of (input, target) pairs"
)


def rows_from_objects(obj: object) -> pa.Table:
    """Turn rows held in Python objects into one table.

    Accepted: a pyarrow Table; a pandas DataFrame; a dict of column name ->
    list or numpy array; an ``(X, y)`` tuple (columns ``input`` and
    ``target``; a 2-D ``X`` becomes one ``list<float32>`` vector per row); a
    list of ``(input, target)`` tuples, each value a number, a vector of
    numbers, a str or bytes (vectors -> ``list<float32>``, numbers -> int64 or
    float64, str -> string, bytes -> binary).
    """
    what: str
    if isinstance(obj, pa.Table):
        what, table = "the table", obj
    elif _is_dataframe(obj):
        what = "the DataFrame"
        try:
            table = pa.Table.from_pandas(obj, preserve_index=False)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise ValidationFailed(f"{what}: {exc}") from exc
    elif isinstance(obj, dict):
        what = "the dict of columns"
        table = _table_from_columns(obj, what)
    elif isinstance(obj, tuple):
        what = "the (X, y) tuple"
        table = _table_from_arrays(obj, what)
    elif isinstance(obj, list):
        what = "the list of (input, target) pairs"
        table = _table_from_pairs(obj, what)
    else:
        raise ValidationFailed(
            f"cannot read rows from a {type(obj).__name__}: expected {_ACCEPTED_OBJECTS}"
        )
    return checked_table(table, what)


def _is_dataframe(obj: object) -> bool:
    # Only a loaded pandas can have made a DataFrame, so this never imports it.
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(obj, pandas.DataFrame)


def _table_from_columns(columns: dict[object, object], what: str) -> pa.Table:
    arrays: dict[str, pa.Array | pa.ChunkedArray] = {}
    for name, values in columns.items():
        if not isinstance(name, str):
            raise ValidationFailed(f"{what}: column names must be strings, got {name!r}")
        arrays[name] = _column(values, name, what)
    if not arrays:
        raise ValidationFailed(f"{what} has no columns")
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"'{name}' has {length}" for name, length in lengths.items())
        raise ValidationFailed(f"{what}: columns differ in length ({shown} rows)")
    return pa.table(arrays)


def _table_from_arrays(pair: tuple[object, ...], what: str) -> pa.Table:
    if len(pair) != 2:
        raise ValidationFailed(f"{what}: expected (X, y), two items, got {len(pair)}")
    inputs = _column(pair[0], "input", what)
    targets = _column(pair[1], "target", what)
    if len(inputs) != len(targets):
        raise ValidationFailed(f"{what}: X has {len(inputs)} rows, y has {len(targets)}")
    return pa.table({"input": inputs, "target": targets})


def _table_from_pairs(pairs: list[object], what: str) -> pa.Table:
    if not pairs:
        raise ValidationFailed(f"{what} has no rows")
    # Whole-list checks run in C; the scans naming the bad pair run only on failure.
    if not all(map(isinstance, pairs, repeat(tuple))):
        row, pair = next((row, p) for row, p in enumerate(pairs) if not isinstance(p, tuple))
        raise ValidationFailed(
            f"{what}, row {row}: expected an (input, target) tuple, got a {type(pair).__name__}"
        )
    tuples = cast("list[tuple[object, ...]]", pairs)
    if set(map(len, tuples)) != {2}:
        row = next(row for row, pair in enumerate(tuples) if len(pair) != 2)
        raise ValidationFailed(
            f"{what}, row {row}: expected an (input, target) tuple, "
            f"got a tuple of {len(tuples[row])} items"
        )
    inputs = list(map(itemgetter(0), tuples))
    targets = list(map(itemgetter(1), tuples))
    return pa.table(
        {"input": _column(inputs, "input", what), "target": _column(targets, "target", what)}
    )


def _column(values: object, column: str, what: str) -> pa.Array | pa.ChunkedArray:
    """One column from a numpy array, a pyarrow array, or a list/tuple of Python values."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values
    if isinstance(values, np.ndarray):
        return _column_from_array(values, column, what)
    if isinstance(values, list | tuple):
        return _column_from_values(values, column, what)
    raise ValidationFailed(
        f"{what}: {column} is a {type(values).__name__}; expected a list or a numpy array"
    )


def _column_from_array(array: np.ndarray, column: str, what: str) -> pa.Array | pa.ChunkedArray:
    if array.ndim == 2 and array.dtype.kind in "iuf":
        return _vectors(array, column, what)
    if array.ndim != 1:
        raise ValidationFailed(
            f"{what}: {column} is a {array.ndim}-D {array.dtype} array; expected 1-D "
            "(one value per row) or 2-D numbers (one vector per row)"
        )
    kind = array.dtype.kind
    if kind == "O":
        return _column_from_values(list(array), column, what)
    try:
        if kind in "iu":
            return pa.array(array).cast(pa.int64())  # refuses uint64 values past int64
        if kind == "f":
            return pa.array(array.astype(np.float64, copy=False))
        if kind == "b":
            return pa.array(array)
        if kind == "U":
            return pa.array(array, type=pa.string())
        if kind == "S":
            return pa.array(array, type=pa.binary())
    except pa.ArrowInvalid as exc:
        raise ValidationFailed(f"{what}: {column}: {exc}") from exc
    raise ValidationFailed(
        f"{what}: {column} has dtype {array.dtype}; expected numbers, booleans, str or bytes"
    )


def _vectors(matrix: np.ndarray, column: str, what: str) -> pa.ChunkedArray:
    """A [rows, width] matrix as one list<float32> vector per row, without a row loop."""
    rows, width = matrix.shape
    if width == 0:
        raise ValidationFailed(f"{what}: {column} vectors have width 0")
    values = np.ascontiguousarray(matrix, dtype=np.float32)
    rows_per_chunk = max(1, _MAX_LIST_VALUES // width)
    chunks = []
    for start in range(0, rows, rows_per_chunk):
        block = values[start : start + rows_per_chunk]
        offsets = np.arange(0, block.size + 1, width, dtype=np.int32)  # [len(block) + 1]
        chunks.append(pa.ListArray.from_arrays(pa.array(offsets), pa.array(block.reshape(-1))))
    return pa.chunked_array(chunks, type=_VECTOR)


# Every Python value in a column must be of one kind.
_KINDS: tuple[tuple[str, tuple[type, ...]], ...] = (
    ("a boolean", (bool, np.bool_)),  # before numbers: bool is an int
    ("a number", (int, float, np.integer, np.floating)),
    ("a string", (str,)),
    ("bytes", (bytes, bytearray)),
    ("a vector", (list, tuple, np.ndarray)),
)
_SUPPORTED = "a number, a vector of numbers, a string or bytes"


def _kind(value_type: type) -> str:
    for kind, types in _KINDS:
        if issubclass(value_type, types):
            return kind
    return "None" if value_type is type(None) else f"a {value_type.__name__}"


def _column_from_values(
    values: Sequence[object], column: str, what: str
) -> pa.Array | pa.ChunkedArray:
    if not values:
        raise ValidationFailed(f"{what} has no rows")
    value_types = set(map(type, values))
    kinds = {_kind(value_type) for value_type in value_types}
    expected = _kind(type(values[0]))
    if expected not in {kind for kind, _ in _KINDS}:
        raise ValidationFailed(f"{what}, row 0: {column} is {expected}; expected {_SUPPORTED}")
    if len(kinds) > 1:
        _raise_first_value_fault(values, column, what, expected)
    try:
        if expected == "a number":
            numbers = np.asarray(values)
            if numbers.dtype.kind not in "iuf":  # ints past 64 bits stay Python objects
                raise ValidationFailed(f"{what}: {column} holds an integer outside 64 bits")
            return _column_from_array(numbers, column, what)
        if expected == "a boolean":
            return pa.array(values, type=pa.bool_())
        if expected == "a string":
            return pa.array(values, type=pa.string())
        if expected == "bytes":
            return pa.array(values, type=pa.binary())
        vectors = _stacked_vectors(values, value_types, column, what)
        if vectors is None:
            vectors = pa.array(values, type=_VECTOR)
            if pc.list_flatten(vectors).null_count:  # a None among a vector's numbers
                _raise_first_value_fault(values, column, what, expected)
        return vectors
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
        _raise_first_value_fault(values, column, what, expected)
        raise ValidationFailed(f"{what}: {column}: {exc}") from exc


def _stacked_vectors(
    values: Sequence[object], value_types: set[type], column: str, what: str
) -> pa.ChunkedArray | None:
    """numpy vectors of one width stacked into list<float32>; None when they are not that."""
    if value_types != {np.ndarray}:
        return None
    try:
        matrix = np.stack(cast("list[np.ndarray]", values))
    except ValueError:  # shapes differ: the width check names the row
        return None
    if matrix.ndim != 2 or matrix.dtype.kind not in "iuf":
        return None
    return _vectors(matrix, column, what)


def _raise_first_value_fault(
    values: Sequence[object], column: str, what: str, expected: str
) -> None:
    """Raise for the first value of another kind, bad vector item or width; return if none."""
    width: int | None = None
    for row, value in enumerate(values):
        kind = _kind(type(value))
        at = f"{what}, row {row}"
        if kind != expected:
            raise ValidationFailed(f"{at}: {column} is {kind}, expected {expected} (as in row 0)")
        if kind != "a vector":
            continue
        assert isinstance(value, list | tuple | np.ndarray)
        if isinstance(value, np.ndarray):
            if value.ndim != 1:
                raise ValidationFailed(
                    f"{at}: {column} is a {value.ndim}-D array, expected a 1-D vector"
                )
            if value.dtype.kind not in "iufb":
                raise ValidationFailed(
                    f"{at}: {column} holds {value.dtype} values, expected numbers"
                )
        else:
            for position, item in enumerate(value):
                item_kind = _kind(type(item))
                if item_kind not in ("a number", "a boolean"):
                    raise ValidationFailed(
                        f"{at}: {column}[{position}] is {item_kind}, expected a number"
                    )
        if width is None:
            width = len(value)
        elif len(value) != width:
            raise_width(what, row, column, len(value), width)
