"""CSV and JSON Lines dataset files load as expected and their faults name the file and line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from marble_graph.datasets import load_dataset
from marble_graph.errors import ValidationFailed


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- CSV ------------------------------------------------------------------------


def test_csv_string_labels_become_sorted_classes(tmp_path: Path) -> None:
    path = write(tmp_path, "pets.csv", "w,h,kind\n1,2,dog\n3,4,cat\n5,6,dog\n7,8, bird\n")
    ds = load_dataset(path)
    assert ds.name == path and ds.task == "classification"
    assert ds.target_names == ["bird", "cat", "dog"]
    np.testing.assert_array_equal(ds.targets, [2, 1, 2, 0])
    np.testing.assert_array_equal(ds.features, [[1, 2], [3, 4], [5, 6], [7, 8]])
    assert ds.feature_names == ["w", "h"]
    assert "target column 'kind' (classification, inferred)" in ds.source


def test_csv_infers_regression_binary_and_integer_classes(tmp_path: Path) -> None:
    regression = load_dataset(write(tmp_path, "r.csv", "x,y\n1,0.5\n2,1.5\n3,2.25\n"))
    assert regression.task == "regression" and regression.target_names == ["y"]
    np.testing.assert_array_equal(regression.targets, [[0.5], [1.5], [2.25]])
    binary = load_dataset(write(tmp_path, "b.csv", "x,y\n1,0\n2,1\n3,1\n"))
    assert binary.task == "binary" and binary.targets.shape == (3, 1)
    classes = load_dataset(write(tmp_path, "c.csv", "x,y\n1,3\n2,1\n3,2\n4,3\n"))
    assert classes.task == "classification" and classes.target_names == ["1", "2", "3"]
    np.testing.assert_array_equal(classes.targets, [2, 0, 1, 2])


def test_csv_explicit_classification_keeps_decimal_labels_exact(tmp_path: Path) -> None:
    path = write(tmp_path, "dec.csv", "x,y\n1,0.1\n2,0.25\n3,0.1\n")
    ds = load_dataset(path, task="classification")
    assert ds.target_names == ["0.1", "0.25"]
    np.testing.assert_array_equal(ds.targets, [0, 1, 0])


def test_csv_with_more_than_50_integer_values_is_regression(tmp_path: Path) -> None:
    body = "".join(f"{i},{i * 2}\n" for i in range(51))
    assert load_dataset(write(tmp_path, "many.csv", "x,y\n" + body)).task == "regression"


def test_csv_explicit_columns_and_task(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "a,label,b,c\n1,0,2,3\n4,1,5,6\n7,2,8,9\n")
    ds = load_dataset(path, feature_columns=["c", "a"], target_column="label", task="regression")
    assert ds.feature_names == ["c", "a"] and ds.task == "regression"
    np.testing.assert_array_equal(ds.features, [[3, 1], [6, 4], [9, 7]])
    np.testing.assert_array_equal(ds.targets, [[0], [1], [2]])
    # Without feature_columns every column but the target is a feature.
    assert load_dataset(path, target_column="label").feature_names == ["a", "b", "c"]


def test_csv_skips_blank_lines_and_counts_them_in_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "gap.csv", "x,y\n1,2\n\n3,4\n\nabc,5\n")
    with pytest.raises(ValidationFailed, match=r"line 6, column 'x': expected a number"):
        load_dataset(path)


@pytest.mark.parametrize("text", ["", "a,b,c\n", "\n\n"])
def test_csv_without_data_rows_is_empty(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "data.csv", text)
    with pytest.raises(ValidationFailed, match=f"dataset {re.escape(path)} is empty: no data rows"):
        load_dataset(path)


def test_csv_unknown_column_lists_the_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "data.csv", "a,b,c\n1,2,3\n")
    expected = re.escape(f"{path}: unknown column 'foo' (columns: a, b, c)")
    with pytest.raises(ValidationFailed, match=expected):
        load_dataset(path, target_column="foo")
    with pytest.raises(ValidationFailed, match=expected):
        load_dataset(path, feature_columns=["a", "foo"])


def test_csv_non_numeric_feature_names_line_column_and_value(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i}\n" for i in range(5))
    path = write(tmp_path, "data.csv", "a,b,y\n" + rows.replace("\n", ",0\n") + "1,abc,1\n")
    expected = re.escape(f"{path} line 7, column 'b': expected a number, got 'abc'")
    with pytest.raises(ValidationFailed, match=expected):
        load_dataset(path)


@pytest.mark.parametrize(
    ("cell", "fault"), [("nan", "NaN"), ("NaN", "NaN"), ("inf", "infinity"), ("-inf", "infinity")]
)
def test_csv_nan_or_infinity_names_line_and_row(tmp_path: Path, cell: str, fault: str) -> None:
    rows = "".join(f"{i},{i},0\n" for i in range(5))
    path = write(tmp_path, "data.csv", f"a,b,y\n{rows}1,{cell},1\n")
    expected = re.escape(f"{path} line 7 (row 5), column 'b': {fault} is not allowed")
    with pytest.raises(ValidationFailed, match=expected):
        load_dataset(path)


def test_csv_nan_target_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "data.csv", "a,y\n1,0.5\n2,nan\n")
    with pytest.raises(ValidationFailed, match=r"line 3 \(row 1\), column 'y': NaN is not allowed"):
        load_dataset(path)


def test_csv_ragged_row_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "data.csv", "a,b,c\n1,2,3\n4,5\n")
    expected = re.escape(f"{path} line 3: expected 3 values (one per column), got 2")
    with pytest.raises(ValidationFailed, match=expected):
        load_dataset(path)


def test_csv_missing_target_and_single_class_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match=r"line 3 \(row 1\), column 'y': missing target"):
        load_dataset(write(tmp_path, "m.csv", "a,y\n1,cat\n2,\n"))
    with pytest.raises(ValidationFailed, match="holds a single class \\(cat\\)"):
        load_dataset(write(tmp_path, "s.csv", "a,y\n1,cat\n2,cat\n"))


def test_csv_text_target_cannot_be_regression(tmp_path: Path) -> None:
    path = write(tmp_path, "data.csv", "a,y\n1,cat\n2,dog\n")
    with pytest.raises(ValidationFailed, match="line 2, column 'y': expected a number, got 'cat'"):
        load_dataset(path, task="regression")


def test_csv_binary_task_needs_zero_or_one(tmp_path: Path) -> None:
    path = write(tmp_path, "data.csv", "a,y\n1,0\n2,2\n")
    with pytest.raises(ValidationFailed, match=r"line 3 \(row 1\).*must be 0 or 1, got 2"):
        load_dataset(path, task="binary")


def test_csv_header_faults_and_target_as_feature(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="column 'a' appears twice in the header"):
        load_dataset(write(tmp_path, "dup.csv", "a,a,y\n1,2,3\n"))
    path = write(tmp_path, "both.csv", "a,y\n1,2\n2,3\n")
    with pytest.raises(ValidationFailed, match="column 'y' is both a feature and the target"):
        load_dataset(path, feature_columns=["a", "y"])
    with pytest.raises(ValidationFailed, match="no feature columns"):
        load_dataset(write(tmp_path, "one.csv", "y\n1\n2\n"))


# --- JSON Lines -----------------------------------------------------------------


def test_jsonl_string_labels_and_blank_lines(tmp_path: Path) -> None:
    text = '{"x": 1, "z": 2.5, "kind": "b"}\n\n{"x": 2, "z": 0, "kind": "a"}\n'
    ds = load_dataset(write(tmp_path, "d.jsonl", text))
    assert ds.task == "classification" and ds.target_names == ["a", "b"]
    np.testing.assert_array_equal(ds.targets, [1, 0])
    np.testing.assert_array_equal(ds.features, [[1, 2.5], [2, 0]])
    assert ds.source.startswith("JSON Lines file")


def test_json_suffix_reads_json_lines_with_explicit_columns(tmp_path: Path) -> None:
    text = '{"y": 0.5, "a": 1, "b": 2}\n{"y": 1.5, "a": 3, "b": 4}\n{"y": 2.5, "a": 5, "b": 6}\n'
    ds = load_dataset(write(tmp_path, "d.json", text), feature_columns=["b"], target_column="y")
    assert ds.task == "regression" and ds.feature_names == ["b"]
    np.testing.assert_array_equal(ds.targets, [[0.5], [1.5], [2.5]])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[1, 2, 3]", r"line 2: expected a JSON object \(one per line\), got an array"),
        ("42", r"line 2: expected a JSON object \(one per line\), got a number"),
        ('{"a": 1,', "line 2: invalid JSON"),
        ('{"a": 1}', "line 2: keys differ from line 1: missing 'y'"),
        ('{"a": 1, "y": 2, "z": 3}', "line 2: keys differ from line 1: unexpected 'z'"),
        ('{"a": "1.5", "y": 2}', "line 2, column 'a': expected a number, got '1.5'"),
        ('{"a": null, "y": 2}', "line 2, column 'a': expected a number, got null"),
        ('{"a": true, "y": 2}', "line 2, column 'a': expected a number, got true"),
        ('{"a": NaN, "y": 2}', r"line 2 \(row 1\), column 'a': NaN is not allowed"),
        ('{"a": 1, "y": null}', r"line 2 \(row 1\), column 'y': missing target value"),
    ],
)
def test_jsonl_faults_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, "d.jsonl", '{"a": 0, "y": 1}\n' + line + "\n")
    with pytest.raises(ValidationFailed, match=re.escape(path) + " " + message):
        load_dataset(path)


def test_jsonl_without_objects_is_empty(tmp_path: Path) -> None:
    path = write(tmp_path, "d.jsonl", "\n  \n")
    with pytest.raises(ValidationFailed, match="is empty: no data rows"):
        load_dataset(path)


# --- dataset specs --------------------------------------------------------------


def test_unknown_dataset_lists_what_is_accepted() -> None:
    expected = (
        "unknown dataset 'foo': expected one of digits, sine, wine, breast_cancer, diabetes, "
        "or a path to a .csv or .jsonl file"
    )
    with pytest.raises(ValidationFailed, match=re.escape(expected)):
        load_dataset("foo")


def test_missing_file_and_unsupported_extension_name_the_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.csv")
    with pytest.raises(
        ValidationFailed, match=re.escape(f"dataset file '{missing}' does not exist")
    ):
        load_dataset(missing)
    other = write(tmp_path, "data.txt", "a,b\n1,2\n")
    with pytest.raises(ValidationFailed, match=r"unsupported extension '\.txt'"):
        load_dataset(other)


def test_csv_reads_a_byte_order_mark_and_quoted_fields(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes('\ufeffa,"b",label\n1,"2",\'x\'\n3,4,"y, z"\n'.encode())
    ds = load_dataset(str(path))
    assert ds.feature_names == ["a", "b"]
    assert ds.target_names == ["'x'", "y, z"]


def test_csv_value_beyond_float32_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "big.csv", "a,y\n1,0.5\n1e300,1.5\n")
    with pytest.raises(ValidationFailed, match=r"line 3 \(row 1\), column 'a': value 1e\+300"):
        load_dataset(path)
