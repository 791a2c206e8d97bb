"""Every source reads into one pyarrow Table, and every fault names what is wrong and where."""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.ipc as pa_ipc
import pyarrow.parquet as pq
import pytest

from marble_graph.datasets.ingest import (
    FORMATS,
    detect_format,
    read_rows_file,
    read_rows_stream,
)
from marble_graph.datasets.python_rows import rows_from_objects
from marble_graph.errors import ValidationFailed

VECTOR = pa.list_(pa.float32())


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def write_arrow(path: Path, table: pa.Table, *, stream: bool = False) -> Path:
    open_writer = pa_ipc.new_stream if stream else pa_ipc.new_file
    with pa.OSFile(str(path), "wb") as sink, open_writer(sink, table.schema) as writer:
        writer.write_table(table)
    return path


# --- formats ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.csv", "csv"),
        ("A.CSV", "csv"),
        ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.parquet", "parquet"),
        ("a.pq", "parquet"),
        ("a.arrow", "arrow"),
        ("a.feather", "arrow"),
        ("dir.v2/a.ipc", "arrow"),
    ],
)
def test_detect_format_by_suffix(name: str, fmt: str) -> None:
    assert detect_format(name) == fmt and fmt in FORMATS


def test_unknown_suffix_names_the_file_and_the_known_suffixes(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as caught:
        detect_format("rows.xlsx")
    message = str(caught.value)
    assert "'rows.xlsx'" in message and "'.xlsx'" in message
    for suffix in (".csv", ".jsonl", ".ndjson", ".parquet", ".pq", ".arrow", ".feather", ".ipc"):
        assert suffix in message
    path = write(tmp_path, "rows.txt", "a\n1\n")
    with pytest.raises(ValidationFailed, match=r"rows\.txt' has suffix '\.txt': expected one of"):
        read_rows_file(path)


def test_missing_file_and_unknown_format_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match=r"nope\.csv' does not exist"):
        read_rows_file(tmp_path / "nope.csv")
    with pytest.raises(ValidationFailed, match=r"is not a file"):
        read_rows_file(tmp_path, "csv")
    with pytest.raises(ValidationFailed, match=r"unknown data format 'xls': expected one of csv"):
        read_rows_stream(io.BytesIO(b"a\n1\n"), "xls")


def test_explicit_format_overrides_the_suffix(tmp_path: Path) -> None:
    path = write(tmp_path, "rows.txt", "a,b\n1,2\n")
    assert read_rows_file(path, "csv").to_pylist() == [{"a": 1, "b": 2}]


# --- CSV -------------------------------------------------------------------------


def test_csv_columns_get_numeric_and_string_types(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "\ufeff count , size,label\n1,0.5,cat\n2,1.5,dog\n")
    table = read_rows_file(path)
    assert table.schema == pa.schema(
        [("count", pa.int64()), ("size", pa.float64()), ("label", pa.string())]
    )
    assert table.to_pylist()[1] == {"count": 2, "size": 1.5, "label": "dog"}


def test_csv_malformed_row_names_file_line_and_field_counts(tmp_path: Path) -> None:
    # Line 1 header, 2 row, 3 blank, 4-5 one row with a quoted newline, 6 row, 7 bad.
    text = 'a,b,note\n1,2,x\n\n3,4,"two\nlines"\n5,6,y\n7,8,z,extra\n9,10,w\n'
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(ValidationFailed) as caught:
        read_rows_file(path)
    assert str(caught.value) == f"{path} line 7: expected 3 fields (one per header column), got 4"


def test_csv_malformed_row_deep_in_a_large_file_names_its_line(tmp_path: Path) -> None:
    # Past pyarrow's first 1 MiB block, where its own row numbers would be block-relative.
    body = "1.5,2.5\n" * 200_000
    path = write(tmp_path, "big.csv", "x,y\n" + body + "3\n" + body)
    with pytest.raises(ValidationFailed, match=r"big\.csv line 200002: expected 2 fields.*got 1"):
        read_rows_file(path)


def test_csv_quoted_newlines_across_blocks_still_read(tmp_path: Path) -> None:
    rows = 60_000
    text = "n,text\n" + "".join(f'{i},"first line {i}\nsecond line"\n' for i in range(rows))
    path = write(tmp_path, "notes.csv", text)
    # The premise: pyarrow's fast block splitting alone cuts a quoted value here.
    with pytest.raises(pa.ArrowInvalid):
        pa_csv.read_csv(path)
    table = read_rows_file(path)
    assert table.num_rows == rows and table.schema.field("text").type == pa.string()
    assert table.column("text")[rows - 1].as_py() == f"first line {rows - 1}\nsecond line"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("a,b,a", "header: column 'a' appears twice (columns 1 and 3)"),
        ("a, ,c", "header: column 2 has no name"),
        ("a,,c", "header: column 2 has no name"),
    ],
)
def test_csv_header_with_repeated_or_empty_name_is_refused(
    tmp_path: Path, header: str, expected: str
) -> None:
    good = write(tmp_path, "h.csv", f"{header}\n1,2,3\n")
    with pytest.raises(ValidationFailed, match=r"h\.csv, " + re.escape(expected)):
        read_rows_file(good)
    # Also when a later row is malformed: the header is checked first.
    bad = write(tmp_path, "h2.csv", f"{header}\n1,2,3\n1,2\n")
    with pytest.raises(ValidationFailed, match=r"h2\.csv, " + re.escape(expected)):
        read_rows_file(bad)


def test_csv_with_no_rows_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match=r"empty\.csv has no rows: the file is empty"):
        read_rows_file(write(tmp_path, "empty.csv", ""))
    with pytest.raises(ValidationFailed, match=r"header\.csv has no rows$"):
        read_rows_file(write(tmp_path, "header.csv", "a,b\n"))


def test_csv_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "latin.csv", "name,n\nabc,1\ncaf\xe9,2\n".encode("latin-1"))
    with pytest.raises(ValidationFailed, match=r"latin\.csv line 3 is not UTF-8 text"):
        read_rows_file(path)


# --- JSON Lines ------------------------------------------------------------------


def test_jsonl_columns_and_number_lists_as_double_vectors(tmp_path: Path) -> None:
    text = (
        '{"input": [1, 2, 3], "label": "cat", "n": 1, "w": 0.5}\n'
        "\n"
        '{"input": [4.5, 5, 6], "label": "dog", "n": 2, "w": 1}\n'
    )
    table = read_rows_file(write(tmp_path, "d.ndjson", text))
    assert table.schema == pa.schema(
        [
            ("input", pa.list_(pa.float64())),
            ("label", pa.string()),
            ("n", pa.int64()),
            ("w", pa.float64()),
        ]
    )
    assert table.column("input").to_pylist() == [[1.0, 2.0, 3.0], [4.5, 5.0, 6.0]]


def test_jsonl_integer_lists_become_double_vectors(tmp_path: Path) -> None:
    table = read_rows_file(write(tmp_path, "i.jsonl", '{"v": [1, 2]}\n{"v": [3, 4]}\n'))
    assert table.schema.field("v").type == pa.list_(pa.float64())


def test_jsonl_invalid_line_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.jsonl", '{"a": 1}\n\n{"a": 2\n{"a": 3}\n')
    with pytest.raises(ValidationFailed, match=r"bad\.jsonl line 3: invalid JSON: .*\(column"):
        read_rows_file(path)


def test_jsonl_line_that_is_not_an_object_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "arr.jsonl", '{"a": 1}\n[1, 2]\n')
    with pytest.raises(
        ValidationFailed, match=r"arr\.jsonl line 2: expected a JSON object .* got array of numbers"
    ):
        read_rows_file(path)


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        ('{"a": "x"}', "key 'a': got string, expected number (as on line 1)"),
        ('{"a": true}', "key 'a': got boolean, expected number (as on line 1)"),
        ('{"a": [1]}', "key 'a': got array of numbers, expected number (as on line 1)"),
    ],
)
def test_jsonl_value_of_another_kind_names_line_key_and_kinds(
    tmp_path: Path, second: str, expected: str
) -> None:
    path = write(tmp_path, "kinds.jsonl", '{"a": 1}\n{"a": null}\n\n' + second + "\n")
    with pytest.raises(ValidationFailed) as caught:
        read_rows_file(path)
    assert str(caught.value) == f"{path} line 4, {expected}"


def test_jsonl_list_items_of_another_kind_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "items.jsonl", '{"v": [1, 2]}\n{"v": []}\n{"v": ["a", "b"]}\n')
    with pytest.raises(
        ValidationFailed,
        match=r"line 3, key 'v': got array of strings, expected array of numbers \(as on line 1\)",
    ):
        read_rows_file(path)
    mixed = write(tmp_path, "mixed.jsonl", '{"v": [1, 2]}\n{"v": [1, "a"]}\n')
    with pytest.raises(
        ValidationFailed, match=r"line 2, key 'v': an array mixes numbers and strings"
    ):
        read_rows_file(mixed)


def test_jsonl_vectors_of_inconsistent_widths_name_line_row_and_widths(tmp_path: Path) -> None:
    text = '{"input": [1, 2]}\n\n{"input": [3, 4]}\n{"input": [5, 6, 7]}\n'
    path = write(tmp_path, "w.jsonl", text)
    with pytest.raises(ValidationFailed) as caught:
        read_rows_file(path)
    assert str(caught.value) == (
        f"{path} line 4, row 2: input has width 3, earlier rows have width 2"
    )


def test_jsonl_with_no_rows_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match=r"e\.jsonl has no rows"):
        read_rows_file(write(tmp_path, "e.jsonl", ""))
    with pytest.raises(ValidationFailed, match=r"b\.jsonl has no rows"):
        read_rows_file(write(tmp_path, "b.jsonl", "\n  \n"))


# --- Parquet and Arrow -----------------------------------------------------------


def mixed_table() -> pa.Table:
    return pa.table(
        {
            "input": pa.array([[1.0, 2.0], [3.0, 4.0]], type=VECTOR),
            "text": ["a", "b"],
            "raw": pa.array([b"\x00\x01", b"\xff"], type=pa.binary()),
            "target": pa.array([0, 1], type=pa.int64()),
        }
    )


def test_parquet_reads_with_its_types(tmp_path: Path) -> None:
    path = tmp_path / "d.pq"
    pq.write_table(mixed_table(), path)
    table = read_rows_file(path)
    assert table.schema == mixed_table().schema
    assert table.equals(mixed_table())


@pytest.mark.parametrize("stream", [False, True])
def test_arrow_reads_file_and_stream_formats(tmp_path: Path, stream: bool) -> None:
    path = write_arrow(tmp_path / "d.arrow", mixed_table(), stream=stream)
    assert read_rows_file(path).equals(mixed_table())
    with open(path, "rb") as handle:
        assert read_rows_stream(handle, "arrow").equals(mixed_table())


def test_feather_file_reads_as_arrow(tmp_path: Path) -> None:
    path = write_arrow(tmp_path / "d.feather", mixed_table())
    assert read_rows_file(path).equals(mixed_table())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bad.parquet", r"bad\.parquet is not a readable Parquet file: .*magic bytes"),
        ("bad.arrow", r"bad\.arrow is not a readable Arrow IPC file \(as the file format: "),
    ],
)
def test_corrupt_binary_file_names_file_and_format(
    tmp_path: Path, name: str, expected: str
) -> None:
    path = write(tmp_path, name, b"this is not a columnar file at all")
    with pytest.raises(ValidationFailed, match=expected):
        read_rows_file(path)


def test_truncated_parquet_is_refused(tmp_path: Path) -> None:
    whole = tmp_path / "whole.parquet"
    pq.write_table(mixed_table(), whole)
    cut = write(tmp_path, "cut.parquet", whole.read_bytes()[:-30])
    with pytest.raises(ValidationFailed, match=r"cut\.parquet is not a readable Parquet file"):
        read_rows_file(cut)


def test_parquet_vectors_of_inconsistent_widths_name_row_and_widths(tmp_path: Path) -> None:
    path = tmp_path / "w.parquet"
    pq.write_table(pa.table({"input": [[1.0, 2.0], None, [3.0, 4.0], [5.0]]}), path)
    with pytest.raises(ValidationFailed) as caught:
        read_rows_file(path)
    assert str(caught.value) == f"{path}, row 3: input has width 1, earlier rows have width 2"


def test_parquet_with_no_rows_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "none.parquet"
    pq.write_table(mixed_table().slice(0, 0), path)
    with pytest.raises(ValidationFailed, match=r"none\.parquet has no rows"):
        read_rows_file(path)


def test_arrow_with_repeated_column_names_is_refused(tmp_path: Path) -> None:
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["x", "x"])
    path = write_arrow(tmp_path / "dup.arrow", table)
    with pytest.raises(ValidationFailed, match=r"column 'x' appears twice \(columns 1 and 2\)"):
        read_rows_file(path)


# --- streams ---------------------------------------------------------------------


class OneWayStream(io.RawIOBase):
    """A readable stream that cannot seek, like a socket."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def test_stream_reads_from_its_current_position() -> None:
    stream = io.BytesIO(b"PREFIX" + b"a,b\n1,2\n3,4\n")
    stream.seek(len(b"PREFIX"))
    assert read_rows_stream(stream, "csv").to_pylist() == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]


def test_spooled_upload_fault_names_the_source_and_line() -> None:
    with tempfile.SpooledTemporaryFile(max_size=16) as upload:
        upload.write(b"a,b\n1,2\n3\n")
        upload.seek(0)
        with pytest.raises(ValidationFailed) as caught:
            read_rows_stream(upload, "csv", source="upload 'rows.csv'")  # type: ignore[arg-type]
        assert not upload.closed
    assert str(caught.value) == (
        "upload 'rows.csv' line 3: expected 2 fields (one per header column), got 1"
    )


def test_stream_that_cannot_seek_is_read_and_its_faults_located() -> None:
    text = b'{"v": [1, 2]}\n{"v": [1, 2, 3]}\n'
    with pytest.raises(ValidationFailed, match=r"^pipe line 2, row 1: v has width 3, earlier"):
        read_rows_stream(OneWayStream(text), "jsonl", source="pipe")  # type: ignore[arg-type]
    good = read_rows_stream(OneWayStream(b'{"v": 1}\n'), "jsonl")  # type: ignore[arg-type]
    assert good.to_pylist() == [{"v": 1}]


def test_parquet_upload_stream_reads(tmp_path: Path) -> None:
    sink = io.BytesIO()
    pq.write_table(mixed_table(), sink)
    sink.seek(0)
    assert read_rows_stream(sink, "parquet").equals(mixed_table())
    with pytest.raises(ValidationFailed, match=r"^upload is not a readable Parquet file"):
        read_rows_stream(io.BytesIO(b"garbage"), "parquet")


# --- Python objects --------------------------------------------------------------


def test_table_passes_through_checked() -> None:
    assert rows_from_objects(mixed_table()).equals(mixed_table())
    ragged = pa.table({"input": [[1.0], [2.0, 3.0]]})
    with pytest.raises(
        ValidationFailed, match=r"^the table, row 1: input has width 2, earlier rows have width 1"
    ):
        rows_from_objects(ragged)


def test_dataframe_becomes_a_table_without_its_index() -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"x": [1.5, 2.5], "y": [1, 0]}, index=[10, 20])
    table = rows_from_objects(frame)
    assert table.column_names == ["x", "y"]
    assert table.schema.field("x").type == pa.float64()
    assert table.to_pylist() == [{"x": 1.5, "y": 1}, {"x": 2.5, "y": 0}]


def test_dict_of_columns_types() -> None:
    table = rows_from_objects(
        {
            "features": np.arange(6, dtype=np.float64).reshape(3, 2),
            "count": np.array([1, 2, 3], dtype=np.uint8),
            "weight": np.array([0.5, 1.0, 2.0], dtype=np.float32),
            "label": ["a", "b", "c"],
            "blob": [b"x", b"y", b"z"],
            "flag": [True, False, True],
        }
    )
    assert table.schema == pa.schema(
        [
            ("features", VECTOR),
            ("count", pa.int64()),
            ("weight", pa.float64()),
            ("label", pa.string()),
            ("blob", pa.binary()),
            ("flag", pa.bool_()),
        ]
    )
    assert table.column("features").to_pylist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]


def test_dict_columns_of_different_lengths_are_named() -> None:
    with pytest.raises(
        ValidationFailed, match=r"columns differ in length \('a' has 2, 'b' has 3 rows\)"
    ):
        rows_from_objects({"a": [1, 2], "b": [1, 2, 3]})


def test_x_y_arrays_2d_inputs_become_fixed_width_float32_vectors() -> None:
    features = np.arange(12, dtype=np.float64).reshape(4, 3)
    table = rows_from_objects((features, np.array([0, 1, 1, 0])))
    assert table.schema == pa.schema([("input", VECTOR), ("target", pa.int64())])
    np.testing.assert_array_equal(
        np.stack(table.column("input").to_numpy(zero_copy_only=False)), features
    )


def test_x_y_arrays_1d_inputs_stay_scalars() -> None:
    table = rows_from_objects((np.array([0.5, 1.5]), [1.0, 2.0]))
    assert table.schema == pa.schema([("input", pa.float64()), ("target", pa.float64())])


def test_x_y_of_different_lengths_is_refused() -> None:
    with pytest.raises(ValidationFailed, match=r"X has 3 rows, y has 2"):
        rows_from_objects((np.zeros((3, 2)), np.zeros(2)))
    with pytest.raises(ValidationFailed, match=r"expected \(X, y\), two items, got 3"):
        rows_from_objects((np.zeros(3), np.zeros(3), np.zeros(3)))


def test_pairs_infer_column_types() -> None:
    cases: list[tuple[list[object], pa.DataType, pa.DataType]] = [
        ([([1.0, 2.0], 1), (np.array([3, 4]), 0)], VECTOR, pa.int64()),
        ([("a cat", "cat"), ("a dog", "dog")], pa.string(), pa.string()),
        ([(b"\x00", 0.5), (b"\x01\x02", 1.0)], pa.binary(), pa.float64()),
        ([(1, np.float32(0.5)), (2, 3)], pa.int64(), pa.float64()),
        ([(np.ones(3), (1.0, 0.0)), (np.zeros(3), (0.0, 1.0))], VECTOR, VECTOR),
    ]
    for pairs, input_type, target_type in cases:
        table = rows_from_objects(pairs)
        assert table.schema == pa.schema([("input", input_type), ("target", target_type)])
        assert table.num_rows == 2


def test_pair_that_is_not_a_two_tuple_is_named_by_index() -> None:
    with pytest.raises(
        ValidationFailed,
        match=r"row 2: expected an \(input, target\) tuple, got a tuple of 3 items",
    ):
        rows_from_objects([(1, 2), (3, 4), (5, 6, 7)])
    with pytest.raises(
        ValidationFailed, match=r"row 1: expected an \(input, target\) tuple, got a list"
    ):
        rows_from_objects([(1, 2), [3, 4]])


def test_pairs_of_mixed_kinds_name_row_and_kinds() -> None:
    with pytest.raises(ValidationFailed) as caught:
        rows_from_objects([(1.0, "cat"), (2.0, "dog"), (3.0, 7)])
    assert str(caught.value) == (
        "the list of (input, target) pairs, row 2: target is a number, "
        "expected a string (as in row 0)"
    )
    with pytest.raises(ValidationFailed, match=r"row 1: input is a string, expected a vector"):
        rows_from_objects([([1.0], 0), ("x", 1)])
    with pytest.raises(ValidationFailed, match=r"row 1: input\[1\] is a string, expected a number"):
        rows_from_objects([([1.0, 2.0], 0), ([1.0, "2"], 1)])
    with pytest.raises(ValidationFailed, match=r"row 1: target is None"):
        rows_from_objects([(1.0, 0), (2.0, None)])
    with pytest.raises(ValidationFailed, match=r"row 0: input is a dict; expected a number"):
        rows_from_objects([({"a": 1}, 0)])


def test_pairs_vectors_of_inconsistent_widths_name_row_and_widths() -> None:
    pairs = [([1.0, 2.0, 3.0, 4.0], 0)] * 17 + [([1.0, 2.0, 3.0], 1)]
    with pytest.raises(ValidationFailed) as caught:
        rows_from_objects(pairs)
    assert str(caught.value) == (
        "the list of (input, target) pairs, row 17: input has width 3, earlier rows have width 4"
    )
    arrays = [(np.ones(4), 0)] * 17 + [(np.ones(3), 1)]
    with pytest.raises(ValidationFailed, match=r"row 17: input has width 3, earlier rows have"):
        rows_from_objects(arrays)


def test_empty_and_unsupported_inputs_are_refused() -> None:
    with pytest.raises(ValidationFailed, match=r"^the list of \(input, target\) pairs has no rows"):
        rows_from_objects([])
    with pytest.raises(ValidationFailed, match=r"^the dict of columns has no columns"):
        rows_from_objects({})
    with pytest.raises(ValidationFailed, match=r"^the dict of columns has no rows"):
        rows_from_objects({"a": []})
    with pytest.raises(ValidationFailed, match=r"^the \(X, y\) tuple has no rows"):
        rows_from_objects((np.zeros((0, 3)), np.zeros(0)))
    with pytest.raises(ValidationFailed, match=r"^the table has no rows"):
        rows_from_objects(mixed_table().slice(0, 0))
    with pytest.raises(ValidationFailed, match=r"cannot read rows from a str: expected a pyarrow"):
        rows_from_objects("rows.csv")
