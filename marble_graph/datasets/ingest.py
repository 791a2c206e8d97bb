"""Reading a dataset's rows from any source into one ``pyarrow.Table``.

Files and uploads (CSV, JSON Lines, Parquet, Arrow IPC) and Python objects
(tables, DataFrames, dicts of columns, ``(X, y)`` arrays, ``(input, target)``
pairs) all end as one table. The fast path is pyarrow's own multithreaded
reader; only when it refuses a text file does a second, plain pass over the
file find the line at fault, so a slow scan never runs on good data.

Every fault is a ``ValidationFailed`` naming the file (or the object), the
line and 0-based data row where known, the column, and expected vs got.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import csv
import io
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO, NoReturn, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.ipc as pa_ipc
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from marble_graph.errors import ValidationFailed

FORMATS = ("csv", "jsonl", "parquet", "arrow")
# JSON has no bytes: a JSON Lines value {"base64": "..."} is read as those bytes.
BASE64_KEY = "base64"

FORMAT_SUFFIXES: dict[str, str] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
}

# A list array's offsets are int32, so one chunk holds at most this many values.
_MAX_LIST_VALUES = 2**31 - 1

_VECTOR = pa.list_(pa.float32())
_ACCEPTED_OBJECTS = (
    "a pyarrow Table, a pandas DataFrame, a dict of column name -> values, "
    "an (X, y) tuple of arrays or a list of (input, target) pairs"
)


def detect_format(name: str) -> str:
    """The format (one of ``FORMATS``) a file's suffix names."""
    suffix = Path(name).suffix.lower()
    try:
        return FORMAT_SUFFIXES[suffix]
    except KeyError:
        shown = f"suffix '{suffix}'" if suffix else "no suffix"
        raise ValidationFailed(
            f"data file '{name}' has {shown}: expected one of {', '.join(FORMAT_SUFFIXES)}"
        ) from None


def read_rows_file(path: str | Path, fmt: str | None = None) -> pa.Table:
    """Read a data file into one table; ``fmt`` (one of ``FORMATS``) defaults to its suffix's."""
    path = Path(path)
    if not path.exists():
        raise ValidationFailed(f"data file '{path}' does not exist")
    if not path.is_file():
        raise ValidationFailed(f"data path '{path}' is not a file")
    resolved = detect_format(str(path)) if fmt is None else _checked_format(fmt)
    return _read(_Source(name=str(path), path=path), resolved)


def read_rows_stream(stream: BinaryIO, fmt: str, source: str = "upload") -> pa.Table:
    """Read an open binary file-like (an upload) in format ``fmt`` into one table.

    ``source`` names the data in error messages. Reading starts at the
    stream's current position; a stream that cannot seek is read into memory
    first, because a fault is located by reading the data a second time.
    """
    resolved = _checked_format(fmt)
    seekable = getattr(stream, "seekable", None)
    if seekable is None or not seekable():
        stream = io.BytesIO(stream.read())
    return _read(_Source(name=source, stream=stream, start=stream.tell()), resolved)


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
    return _checked_table(table, what)


def _checked_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValidationFailed(f"unknown data format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return fmt


# --- sources ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """Where a file's bytes are (a path, or a seekable stream from ``start``) and its name."""

    name: str
    path: Path | None = None
    stream: BinaryIO | None = None
    start: int = 0

    def for_arrow(self) -> str | BinaryIO:
        """What a pyarrow reader opens: the path, or the stream rewound to its start."""
        if self.path is not None:
            # A path lets pyarrow read natively, without the GIL-bound Python file.
            return str(self.path)
        assert self.stream is not None
        self.stream.seek(self.start)
        return self.stream

    @contextmanager
    def lines(self) -> Iterator[Iterator[str]]:
        """The text lines (endings kept, BOM dropped), for the slow pass that finds a fault."""
        if self.path is not None:
            with open(self.path, "rb") as handle:
                yield self._decoded(handle)
        else:
            assert self.stream is not None
            self.stream.seek(self.start)
            # The stream belongs to the caller: it is left open.
            yield self._decoded(self.stream)

    def _decoded(self, raw: BinaryIO) -> Iterator[str]:
        # Decoding line by line (no UTF-8 byte sequence holds a newline byte)
        # lets a decode error name its line.
        for line_number, data in enumerate(raw, start=1):
            if line_number == 1 and data.startswith(codecs.BOM_UTF8):
                data = data[len(codecs.BOM_UTF8) :]
            try:
                yield data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValidationFailed(
                    f"{self.name} line {line_number} is not UTF-8 text: "
                    f"{exc.reason} at byte {exc.start + 1} of the line"
                ) from None


def _read(source: _Source, fmt: str) -> pa.Table:
    try:
        if fmt == "csv":
            return _checked_table(_read_csv(source), source.name)
        if fmt == "jsonl":
            table = _read_jsonl(source)
            return _checked_table(table, source.name, lambda row: _jsonl_line(source, row))
        if fmt == "parquet":
            return _checked_table(_read_parquet(source), source.name)
        return _checked_table(_read_arrow(source), source.name)
    except OSError as exc:
        raise ValidationFailed(f"cannot read {source.name}: {exc}") from exc


# --- CSV -------------------------------------------------------------------------


def _read_csv(source: _Source) -> pa.Table:
    try:
        table = pa_csv.read_csv(source.for_arrow())
    except pa.ArrowInvalid as fast_error:
        # pyarrow's message does not reliably give the line: find the fault.
        _raise_first_csv_fault(source)
        # No row is at fault, so the file holds a quoted value spanning lines,
        # which the fast reader (it splits blocks at any newline) cannot take.
        try:
            table = pa_csv.read_csv(
                source.for_arrow(), parse_options=pa_csv.ParseOptions(newlines_in_values=True)
            )
        except pa.ArrowInvalid as exc:
            raise ValidationFailed(f"{source.name} is not valid CSV: {exc}") from fast_error
    table = table.rename_columns(_checked_csv_header(source.name, table.column_names))
    # pyarrow reads a column holding invalid UTF-8 as binary rather than failing.
    binary = [field.name for field in table.schema if pa.types.is_binary(field.type)]
    if binary:
        with source.lines() as lines:
            for _ in lines:  # raises at the first line that is not UTF-8
                pass
        raise ValidationFailed(f"{source.name}: column '{binary[0]}' is not UTF-8 text")
    return table


def _raise_first_csv_fault(source: _Source) -> None:
    """Raise for the first bad header, malformed row or undecodable line; return if none."""
    header: list[str] | None = None
    with source.lines() as lines:
        reader = csv.reader(lines)
        last_line = 0  # the last physical line the reader consumed
        try:
            for record in reader:
                first_line, last_line = last_line + 1, reader.line_num
                if not record:  # a blank line; pyarrow skips them too
                    continue
                if header is None:
                    header = _checked_csv_header(source.name, record)
                    continue
                if len(record) != len(header):
                    raise ValidationFailed(
                        f"{source.name} line {first_line}: expected {len(header)} fields "
                        f"(one per header column), got {len(record)}"
                    )
        except csv.Error as exc:
            raise ValidationFailed(
                f"{source.name} line {reader.line_num}: malformed CSV: {exc}"
            ) from None
    if header is None:
        raise ValidationFailed(f"{source.name} has no rows: the file is empty")


def _checked_csv_header(name: str, columns: list[str]) -> list[str]:
    """The header's names with surrounding spaces dropped; refuses empty and repeated names."""
    stripped = [column.strip() for column in columns]
    _check_column_names(f"{name}, header", stripped)
    return stripped


def _check_column_names(where: str, names: Sequence[str]) -> None:
    first_position: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if not name:
            raise ValidationFailed(f"{where}: column {position} has no name")
        if name in first_position:
            raise ValidationFailed(
                f"{where}: column '{name}' appears twice "
                f"(columns {first_position[name]} and {position})"
            )
        first_position[name] = position


# --- JSON Lines ------------------------------------------------------------------


def _read_jsonl(source: _Source) -> pa.Table:
    try:
        table = pa_json.read_json(source.for_arrow())
    except pa.ArrowInvalid as exc:
        # pyarrow counts rows within a block, not lines in the file: find the line.
        _raise_first_jsonl_fault(source)
        raise ValidationFailed(f"{source.name} is not valid JSON Lines: {exc}") from exc
    # Lists of numbers are vectors: int lists ([1, 2]) become list<double> too.
    for index, field in enumerate(table.schema):
        if _is_variable_list(field.type) and (
            pa.types.is_integer(field.type.value_type)
            or pa.types.is_floating(field.type.value_type)
        ):
            vectors = table.column(index).cast(pa.list_(pa.float64()))
            table = table.set_column(index, field.name, vectors)
        elif _is_base64_bytes(field.type):
            decoded = _decoded_base64(table.column(index), field.name, source)
            table = table.set_column(index, pa.field(field.name, pa.binary()), decoded)
    return table


def _is_base64_bytes(data_type: pa.DataType) -> bool:
    """Whether a column holds ``{"base64": "..."}`` objects: bytes as JSON carries them."""
    return bool(
        pa.types.is_struct(data_type)
        and data_type.num_fields == 1
        and data_type.field(0).name == BASE64_KEY
        and pa.types.is_string(data_type.field(0).type)
    )


def _decoded_base64(column: pa.ChunkedArray, name: str, source: _Source) -> pa.Array:
    """The bytes of a ``{"base64": ...}`` column; a value that is not base64 names its line."""
    texts = pc.struct_field(column, [0]).to_pylist()
    values: list[bytes | None] = []
    # No Arrow kernel decodes base64; binascii decodes each value in C.
    for row, text in enumerate(texts):
        try:
            values.append(None if text is None else base64.b64decode(text, validate=True))
        except binascii.Error as exc:
            raise ValidationFailed(
                f"{source.name} line {_jsonl_line(source, row)}, key '{name}': "
                f"{BASE64_KEY} is not valid base64 ({exc})"
            ) from None
    return pa.array(values, pa.binary())


def _raise_first_jsonl_fault(source: _Source) -> None:
    """Raise for the first invalid line or value whose kind differs from earlier lines."""
    kinds: dict[str, tuple[str, int]] = {}  # key -> (kind seen first, its line)
    rows = 0
    with source.lines() as lines:
        for line_number, line in enumerate(lines, start=1):
            if not line.strip():  # pyarrow skips blank lines too
                continue
            at = f"{source.name} line {line_number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValidationFailed(
                    f"{at}: invalid JSON: {exc.msg} (column {exc.colno})"
                ) from None
            if not isinstance(record, dict):
                raise ValidationFailed(
                    f"{at}: expected a JSON object (one per line), got {_json_kind(record, at)}"
                )
            rows += 1
            for key, value in record.items():
                kind = _json_kind(value, f"{at}, key '{key}'")
                if kind == "null":  # missing values fit any column
                    continue
                earlier = kinds.get(key)
                if earlier is None:
                    kinds[key] = (kind, line_number)
                elif not _same_json_kind(earlier[0], kind):
                    raise ValidationFailed(
                        f"{at}, key '{key}': got {kind}, expected {earlier[0]} "
                        f"(as on line {earlier[1]})"
                    )
                elif len(kind) > len(earlier[0]):
                    # An empty array fits any array; remember what its items are.
                    kinds[key] = (kind, earlier[1])
    if rows == 0:
        raise ValidationFailed(f"{source.name} has no rows")


def _json_kind(value: object, at: str) -> str:
    """The JSON kind of a value; arrays name their items' kind ("array of numbers")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    assert isinstance(value, list)
    items = {_json_kind(item, at) for item in value} - {"null"}
    if not items:
        return "array"
    if len(items) > 1:
        raise ValidationFailed(f"{at}: an array mixes {' and '.join(sorted(map(_plural, items)))}")
    return "array of " + _plural(items.pop())


def _plural(kind: str) -> str:
    return "arrays" + kind.removeprefix("array") if kind.startswith("array") else kind + "s"


def _same_json_kind(earlier: str, later: str) -> bool:
    if earlier == later:
        return True
    # "array" (empty) fits "array of numbers"; "array of arrays" fits "array of arrays of ...".
    return earlier.startswith("array") and (earlier.startswith(later) or later.startswith(earlier))


def _jsonl_line(source: _Source, row: int) -> int:
    """The file line of 0-based data row ``row`` (blank lines hold no row)."""
    rows_seen = 0
    with source.lines() as lines:
        for line_number, line in enumerate(lines, start=1):
            if line.strip():
                if rows_seen == row:
                    return line_number
                rows_seen += 1
    raise ValueError(f"{source.name} has no data row {row}")


# --- Parquet and Arrow IPC -------------------------------------------------------


def _read_parquet(source: _Source) -> pa.Table:
    try:
        return pq.read_table(source.for_arrow())
    except pa.ArrowException as exc:
        raise ValidationFailed(f"{source.name} is not a readable Parquet file: {exc}") from exc


def _read_arrow(source: _Source) -> pa.Table:
    try:
        with pa_ipc.open_file(source.for_arrow()) as reader:
            return reader.read_all()
    except pa.ArrowException as file_error:
        # Arrow data is written in the IPC file format (``.arrow``, Feather v2)
        # or as a bare IPC stream; the suffix does not tell which.
        try:
            with pa_ipc.open_stream(source.for_arrow()) as reader:
                return reader.read_all()
        except pa.ArrowException as stream_error:
            raise ValidationFailed(
                f"{source.name} is not a readable Arrow IPC file "
                f"(as the file format: {file_error}; as the stream format: {stream_error})"
            ) from stream_error


# --- checks every table passes ---------------------------------------------------


def _checked_table(
    table: pa.Table, name: str, line_of_row: Callable[[int], int] | None = None
) -> pa.Table:
    """The table, once its column names, row count and vector widths are valid.

    ``line_of_row`` maps a 0-based data row to its file line, for text files.
    """
    _check_column_names(name, table.column_names)
    if table.num_rows == 0:
        raise ValidationFailed(f"{name} has no rows")
    for column_name, column in zip(table.column_names, table.columns, strict=True):
        if _is_variable_list(column.type):
            _check_widths(name, column_name, column, line_of_row)
    return table


def _is_variable_list(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_list(data_type) or pa.types.is_large_list(data_type))


def _check_widths(
    name: str,
    column_name: str,
    column: pa.ChunkedArray,
    line_of_row: Callable[[int], int] | None,
) -> None:
    """Refuse a list column whose rows hold different numbers of values (nulls aside)."""
    widths = pc.list_value_length(column).fill_null(-1).to_numpy()  # [rows]
    present = np.flatnonzero(widths >= 0)
    if present.size == 0:
        return
    expected = widths[present[0]]
    bad = present[widths[present] != expected]
    if bad.size:
        row = int(bad[0])
        where = name if line_of_row is None else f"{name} line {line_of_row(row)}"
        _raise_width(where, row, column_name, int(widths[row]), int(expected))


def _raise_width(where: str, row: int, column: str, width: int, expected: int) -> NoReturn:
    raise ValidationFailed(
        f"{where}, row {row}: {column} has width {width}, earlier rows have width {expected}"
    )


# --- Python objects --------------------------------------------------------------


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
            _raise_width(what, row, column, len(value), width)
