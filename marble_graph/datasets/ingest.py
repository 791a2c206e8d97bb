"""Reading a dataset's rows from a file or an upload into one ``pyarrow.Table``.

CSV, JSON Lines, Parquet and Arrow IPC all end as one table (rows held in
Python objects: ``python_rows.py``). The fast path is pyarrow's own multithreaded
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.ipc as pa_ipc
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from marble_graph.datasets.table_checks import (
    check_column_names,
    checked_table,
    is_variable_list,
)
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
            return checked_table(_read_csv(source), source.name)
        if fmt == "jsonl":
            table = _read_jsonl(source)
            return checked_table(table, source.name, lambda row: _jsonl_line(source, row))
        if fmt == "parquet":
            return checked_table(_read_parquet(source), source.name)
        return checked_table(_read_arrow(source), source.name)
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
    check_column_names(f"{name}, header", stripped)
    return stripped


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
        if is_variable_list(field.type) and (
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
