"""Row sets: a version's rows hash as a multiset, diffs replay both ways, splits follow rows.

The properties run on random tables with strings, binary, floats (NaN, -0.0,
duplicates), integers, variable vectors and fixed-size vectors, drawn from a
small pool of rows so that tables share rows and hold duplicates. Where a
property needs the truth it comes from ``collections.Counter`` over the rows
as Python values, a second code path that shares nothing with the digests.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from marble_graph.datasets.rowsets import (
    TEST_SPLIT,
    TRAIN_SPLIT,
    VALIDATION_SPLIT,
    RowDiff,
    apply_diff,
    diff_rows,
    hash_split,
    revert_diff,
    row_digests,
    rows_hash,
    same_rows,
    schema_fingerprint,
    shard_mask,
)
from marble_graph.errors import StoreError, ValidationFailed

SCHEMA = pa.schema(
    [
        ("label", pa.string()),
        ("blob", pa.binary()),
        ("x", pa.float64()),
        ("n", pa.int64()),
        ("vector", pa.list_(pa.float32())),
        ("embedding", pa.list_(pa.float64(), 3)),
    ]
)
COLUMNS = SCHEMA.names
PROPERTY_SETTINGS = settings(max_examples=50, deadline=None)

finite = st.floats(allow_nan=False, allow_infinity=False)
labels = st.none() | st.sampled_from(["", "a", "ab", "a label longer than eight bytes", "ü"])
labels |= st.text(max_size=20)
blobs = st.none() | st.sampled_from([b"", b"\x00", b"\x00" * 8]) | st.binary(max_size=20)
xs = st.none() | st.sampled_from([0.0, -0.0, 1.5, math.nan]) | finite
ns = st.none() | st.sampled_from([0, 1, -1]) | st.integers(-(2**63), 2**63 - 1)
vectors = st.none() | st.lists(
    st.sampled_from([0.0, 1.0]) | st.floats(width=32, allow_nan=False), max_size=6
)
embeddings = st.none() | st.lists(finite, min_size=3, max_size=3)
rows_strategy = st.fixed_dictionaries(
    {
        "label": labels,
        "blob": blobs,
        "x": xs,
        "n": ns,
        "vector": vectors,
        "embedding": embeddings,
    }
)


def make_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SCHEMA)


@st.composite
def tables(draw: st.DrawFn, count: int = 1, min_rows: int = 0) -> list[pa.Table]:
    """``count`` tables whose rows come from one small pool: shared rows and duplicates."""
    pool = draw(st.lists(rows_strategy, min_size=1, max_size=8))
    return [
        make_table(draw(st.lists(st.sampled_from(pool), min_size=min_rows, max_size=20)))
        for _ in range(count)
    ]


def canonical(value: Any) -> Any:
    """A hashable Python form of a cell in which equal stored values compare equal."""
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else value + 0.0
    if isinstance(value, list):
        return tuple(canonical(item) for item in value)
    return value


def row_counts(table: pa.Table) -> Counter[tuple[Any, ...]]:
    return Counter(
        tuple(canonical(row[column]) for column in table.column_names) for row in table.to_pylist()
    )


# --- the multiset hash ------------------------------------------------------


@PROPERTY_SETTINGS
@given(pair=tables(count=2))
def test_same_rows_agrees_with_counting_rows(pair: list[pa.Table]) -> None:
    a, b = pair
    assert same_rows(a, b) == (row_counts(a) == row_counts(b))


@PROPERTY_SETTINGS
@given(drawn=tables(), data=st.data())
def test_rows_hash_ignores_row_order_and_chunking(
    drawn: list[pa.Table], data: st.DataObject
) -> None:
    table = drawn[0]
    permutation = data.draw(st.permutations(range(table.num_rows)))
    shuffled = table.take(pa.array(permutation, pa.int64()))
    cut = data.draw(st.integers(0, table.num_rows))
    chunked = pa.concat_tables([shuffled.slice(0, cut), shuffled.slice(cut)])
    assert rows_hash(shuffled) == rows_hash(table)
    assert rows_hash(chunked) == rows_hash(table)
    assert same_rows(chunked, table)


@PROPERTY_SETTINGS
@given(drawn=tables(min_rows=1), data=st.data())
def test_row_digests_do_not_depend_on_slicing_or_other_rows(
    drawn: list[pa.Table], data: st.DataObject
) -> None:
    table = drawn[0]
    start = data.draw(st.integers(0, table.num_rows - 1))
    length = data.draw(st.integers(0, table.num_rows - start))
    digests = row_digests(table)
    assert digests.dtype == np.uint64 and digests.shape == (table.num_rows, 2)
    np.testing.assert_array_equal(
        row_digests(table.slice(start, length)), digests[start : start + length]
    )


def changed_cell(column: str, value: Any, to_null: bool) -> Any:
    """A value that differs from ``value`` as stored (never -0.0 for 0.0, NaN for NaN)."""
    if to_null and value is not None:
        return None
    if column == "label":
        return "" if value is None else value + "x"
    if column == "blob":
        # A trailing zero byte: the same padded words, told apart by the length.
        return b"" if value is None else value + b"\x00"
    if column == "x":
        if value is None or math.isnan(value):
            return 0.0
        return 1.0 if value == 0.0 else -value
    if column == "n":
        return 0 if value is None else value ^ 1
    if column == "vector":
        return [] if value is None else [*value, 0.0]
    if value is None:
        return [0.0, 0.0, 0.0]
    return [1.0 if value[0] == 0.0 else -value[0], *value[1:]]


@PROPERTY_SETTINGS
@given(drawn=tables(min_rows=1), data=st.data())
def test_rows_hash_changes_when_one_cell_changes(
    drawn: list[pa.Table], data: st.DataObject
) -> None:
    table = drawn[0]
    rows = table.to_pylist()
    row = data.draw(st.integers(0, len(rows) - 1))
    column = data.draw(st.sampled_from(COLUMNS))
    rows[row][column] = changed_cell(column, rows[row][column], data.draw(st.booleans()))
    changed = make_table(rows)

    assert rows_hash(changed) != rows_hash(table)
    before, after = row_digests(table), row_digests(changed)
    assert not np.array_equal(before[row], after[row])
    others = np.arange(len(rows)) != row
    np.testing.assert_array_equal(before[others], after[others])


@PROPERTY_SETTINGS
@given(drawn=tables(min_rows=1), data=st.data())
def test_rows_hash_counts_duplicates_and_removals(
    drawn: list[pa.Table], data: st.DataObject
) -> None:
    table = drawn[0]
    row = data.draw(st.integers(0, table.num_rows - 1))
    duplicated = pa.concat_tables([table, table.slice(row, 1)])
    removed = pa.concat_tables([table.slice(0, row), table.slice(row + 1)])
    assert len({rows_hash(table), rows_hash(duplicated), rows_hash(removed)}) == 3


def test_negative_zero_and_every_nan_hash_like_their_canonical_value() -> None:
    nans = np.array([0x7FF8000000000000, 0x7FF8000000000001, 0xFFF8000000000000], np.uint64)
    as_float64 = pa.table({"x": nans.view(np.float64)})
    as_float32 = pa.table({"x": np.array([np.nan, -np.nan, np.nan], np.float32)})
    digests = row_digests(as_float64)
    assert (digests == digests[0]).all()
    np.testing.assert_array_equal(row_digests(as_float32), digests)
    np.testing.assert_array_equal(
        row_digests(pa.table({"x": [-0.0]})), row_digests(pa.table({"x": [0.0]}))
    )


@pytest.mark.parametrize(
    ("arrow_type", "first", "second"),
    [
        (pa.string(), None, ""),
        (pa.string(), "a", "a\x00"),
        (pa.binary(), None, b""),
        (pa.binary(), b"", b"\x00" * 8),
        (pa.float64(), None, math.nan),
        (pa.float64(), None, 0.0),
        (pa.int64(), None, 0),
        (pa.list_(pa.float64()), None, []),
        (pa.list_(pa.float64()), [], [0.0]),
        (pa.list_(pa.float64()), [1.0, 2.0], [2.0, 1.0]),
        (pa.list_(pa.float64()), [None], [math.nan]),
    ],
)
def test_values_that_differ_have_different_digests(
    arrow_type: pa.DataType, first: Any, second: Any
) -> None:
    digests = row_digests(pa.table({"c": pa.array([first, second], arrow_type)}))
    assert not np.array_equal(digests[0], digests[1])


def test_thue_morse_values_and_their_complements_hash_apart() -> None:
    # Polynomial hashes mod 2**64 send these pairs to one value for any multiplier.
    thue_morse = np.array([bin(i).count("1") % 2 for i in range(4096)], np.uint8)
    blobs = pa.table({"b": pa.array([thue_morse.tobytes(), (1 - thue_morse).tobytes()])})
    vectors = pa.table({"v": pa.array([thue_morse[:2048].astype(float), 1.0 - thue_morse[:2048]])})
    for table in (blobs, vectors):
        digests = row_digests(table)
        assert not np.array_equal(digests[0], digests[1])


def test_column_order_and_names_are_part_of_each_row() -> None:
    reference = row_digests(pa.table({"a": [1], "b": [2]}))
    for other in (
        pa.table({"a": [2], "b": [1]}),
        pa.table({"b": [2], "a": [1]}),
        pa.table({"a": [1], "c": [2]}),
    ):
        assert not np.array_equal(row_digests(other), reference)
    split_one_way = row_digests(pa.table({"s": ["ab"], "t": ["c"]}))
    split_other_way = row_digests(pa.table({"s": ["a"], "t": ["bc"]}))
    assert not np.array_equal(split_one_way, split_other_way)


def test_large_tables_hash_each_row_as_if_alone() -> None:
    # More rows, string bytes and list elements than one block of each holds.
    n_rows = 70_000
    ids = np.arange(n_rows)
    table = pa.table(
        {
            "id": ids,
            "text": pa.array([f"row {i} " + "x" * (i % 61) for i in range(n_rows)]),
            "vector": pa.array(list(np.stack([ids, ids + 1, ids + 2, ids + 3], axis=1) / 7.0)),
        }
    )
    digests = row_digests(table)
    for row in (0, 1, 32_767, 65_535, 65_536, 65_537, n_rows - 1):
        np.testing.assert_array_equal(row_digests(table.slice(row, 1))[0], digests[row])
    assert len(np.unique(digests, axis=0)) == n_rows


@pytest.mark.parametrize(
    ("arrow_type", "values"),
    [
        (pa.bool_(), [True, False, None]),
        (pa.int8(), [-128, 0, 127, None]),
        (pa.uint64(), [0, 2**63, 2**64 - 1, None]),
        (pa.float16(), [np.float16(0.5), np.float16(-2.0), None]),
        (pa.float32(), [0.5, -2.0, math.inf, None]),
        (pa.date32(), [0, 1, -1, None]),
        (pa.timestamp("us", tz="UTC"), [0, 1, 2**60, None]),
        (pa.decimal128(12, 3), [Decimal("1.250"), Decimal("-1.250"), None]),
        (pa.large_string(), ["", "x", "y" * 100, None]),
        (pa.large_binary(), [b"", b"x", b"\xff" * 9, None]),
        (pa.binary(3), [b"abc", b"abd", None]),
        (pa.string_view(), ["", "a much longer string than twelve", None]),
        (pa.large_list(pa.int32()), [[], [1], [1, 2], None]),
        (pa.list_(pa.string()), [[], [""], ["a", "b"], ["ab"], [None], None]),
        (pa.list_(pa.list_(pa.int16())), [[], [[]], [[1], [2]], [[1, 2]], None]),
        (pa.dictionary(pa.int8(), pa.string()), ["a", "b", None]),
        (pa.null(), [None]),
    ],
)
def test_every_supported_type_hashes_values_apart_and_reproducibly(
    arrow_type: pa.DataType, values: list[Any]
) -> None:
    column = pa.array(values, arrow_type)
    digests = row_digests(pa.table({"c": column}))
    assert len(np.unique(digests, axis=0)) == len(values)
    again = pa.table({"c": pa.array(list(reversed(values)), arrow_type)})
    np.testing.assert_array_equal(row_digests(again)[::-1], digests)


def test_unsupported_column_type_is_named_even_without_rows() -> None:
    table = pa.table({"id": [1], "point": pa.array([{"x": 1.0}])})
    nested = pa.table({"points": pa.array([[{"x": 1.0}]])})
    for refused_table, column in (
        (table, "point"),
        (table.slice(0, 0), "point"),
        (nested, "points"),
    ):
        with pytest.raises(
            ValidationFailed, match=rf"column '{column}' has type .*struct<x: double>"
        ):
            row_digests(refused_table)


def test_parquet_round_trip_keeps_rows_hash(tmp_path: Path) -> None:
    table = make_table(
        [
            {"label": "a", "blob": b"\x00", "x": -0.0, "n": 3, "vector": [1.0], "embedding": None},
            {
                "label": None,
                "blob": None,
                "x": math.nan,
                "n": None,
                "vector": [],
                "embedding": [1, 2, 3],
            },
        ]
        * 5
    )
    path = tmp_path / "rows.parquet"
    pq.write_table(table, path, row_group_size=3)  # several chunks when read back
    read_back = pq.read_table(path)
    assert read_back["label"].num_chunks > 1
    assert schema_fingerprint(read_back) == schema_fingerprint(table)
    assert rows_hash(read_back) == rows_hash(table)


def test_rows_hash_of_a_known_table_never_changes() -> None:
    # Version content addresses are this hash: a new value here orphans every
    # stored version, so it must come with a new format tag, not a quiet edit.
    table = make_table(
        [
            {
                "label": "a",
                "blob": b"\x01",
                "x": 1.5,
                "n": -2,
                "vector": [1.0, 0.5],
                "embedding": [1, 2, 3],
            },
            {"label": None, "blob": b"", "x": None, "n": 7, "vector": None, "embedding": None},
        ]
    )
    assert rows_hash(table) == "6c34774aef8c81d382276cba5b2be273454e5b32aafccdb40a56a751c0d1e1f8"


def test_rows_hash_checks_the_digests_it_is_given() -> None:
    table = pa.table({"x": [1.0, 2.0]})
    with pytest.raises(ValidationFailed, match=r"shape \[2, 2\], got shape \[3, 2\]"):
        rows_hash(table, np.zeros((3, 2), np.uint64))
    with pytest.raises(ValidationFailed, match="uint64"):
        rows_hash(table, np.zeros((2, 2), np.int64))


# --- diffs -------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(pair=tables(count=2))
def test_apply_diff_turns_base_into_target_and_revert_turns_it_back(
    pair: list[pa.Table],
) -> None:
    base, target = pair
    diff = diff_rows(base, target)

    assert same_rows(apply_diff(base, diff), target)
    assert same_rows(revert_diff(target, diff), base)
    assert diff.base_hash == rows_hash(base) and diff.target_hash == rows_hash(target)
    # Exactly the multiset differences, duplicates counted: nothing extra.
    assert row_counts(diff.added) == row_counts(target) - row_counts(base)
    assert row_counts(diff.removed) == row_counts(base) - row_counts(target)
    assert diff.n_added == diff.added.num_rows and diff.n_removed == diff.removed.num_rows
    assert diff.added.schema.equals(base.schema) and diff.removed.schema.equals(base.schema)


@PROPERTY_SETTINGS
@given(triple=tables(count=3))
def test_applying_a_diff_to_the_wrong_parent_is_refused(triple: list[pa.Table]) -> None:
    base, target, other = triple
    assume(rows_hash(other) not in (rows_hash(base), rows_hash(target)))
    diff = diff_rows(base, target)
    other_prefix = rows_hash(other)[:12]
    with pytest.raises(ValidationFailed) as refused:
        apply_diff(other, diff)
    assert str(refused.value) == (
        f"diff was made against rows {diff.base_hash[:12]} but this version's rows are "
        f"{other_prefix}: apply it to its parent"
    )
    with pytest.raises(ValidationFailed, match=re.escape(f"version's rows are {other_prefix}")):
        revert_diff(other, diff)


def test_diff_rows_keeps_base_rows_in_order_and_appends_added() -> None:
    base = pa.table({"k": ["a", "b", "a", "c", "a"]})
    target = pa.table({"k": ["c", "d", "a", "d"]})
    diff = diff_rows(base, target)
    assert diff.added.column("k").to_pylist() == ["d", "d"]
    assert sorted(diff.removed.column("k").to_pylist()) == ["a", "a", "b"]
    result = apply_diff(base, diff)
    assert result.column("k").to_pylist() == ["a", "c", "d", "d"]


def test_diff_rows_names_the_columns_that_differ() -> None:
    base = pa.table({"id": [1], "x": [1.0]})
    target = pa.table({"id": [1], "x": [1], "extra": ["e"]})
    with pytest.raises(ValidationFailed) as refused:
        diff_rows(base, target)
    message = str(refused.value)
    assert "column 1: base 'x' double, target 'x' int64" in message
    assert "column 2: base (none), target 'extra' string" in message
    assert "column 0" not in message


def test_apply_diff_names_how_many_removed_rows_are_missing() -> None:
    base = pa.table({"k": [1, 2]})
    diff = RowDiff(
        base_hash=rows_hash(base),
        target_hash=rows_hash(pa.table({"k": [2]})),
        added=base.slice(0, 0),
        removed=pa.table({"k": [1, 3, 3]}),
    )
    with pytest.raises(ValidationFailed, match="2 of the 3 rows the diff removes are not"):
        apply_diff(base, diff)


def test_apply_diff_whose_result_contradicts_its_target_hash_is_a_store_error() -> None:
    base = pa.table({"k": [1, 2]})
    diff = RowDiff(
        base_hash=rows_hash(base),
        target_hash="0" * 64,
        added=pa.table({"k": [3]}),
        removed=base.slice(0, 0),
    )
    with pytest.raises(StoreError, match="not the 000000000000 it records"):
        apply_diff(base, diff)


# --- splits and shards -------------------------------------------------------


def id_table(ids: np.ndarray) -> pa.Table:
    return pa.table({"id": ids, "text": pa.array([f"item {i}" for i in ids.tolist()])})


def splits_by_id(table: pa.Table, **fractions: float) -> dict[int, int]:
    splits = hash_split(row_digests(table), **fractions)
    return dict(zip(table.column("id").to_pylist(), splits.tolist(), strict=True))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_hash_split_keeps_each_row_in_its_split_across_shuffles_and_versions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    first_version = id_table(np.arange(3_000))
    # A later version: half of the rows kept, new rows added, all reordered.
    kept = rng.choice(3_000, size=1_500, replace=False)
    second_version = id_table(rng.permutation(np.concatenate([kept, np.arange(3_000, 4_000)])))
    shuffled = first_version.take(rng.permutation(3_000))

    fractions = {"test_fraction": 0.2, "validation_fraction": 0.1}
    reference = splits_by_id(first_version, **fractions)
    assert splits_by_id(shuffled, **fractions) == reference
    later = splits_by_id(second_version, **fractions)
    assert all(later[row_id] == reference[row_id] for row_id in kept.tolist())


def test_hash_split_respects_the_fractions_on_ten_thousand_rows() -> None:
    digests = row_digests(id_table(np.arange(10_000)))
    splits = hash_split(digests, test_fraction=0.2, validation_fraction=0.1)
    assert splits.dtype == np.int8
    shares = {
        code: float(np.mean(splits == code)) for code in (TRAIN_SPLIT, VALIDATION_SPLIT, TEST_SPLIT)
    }
    # Binomial standard deviations are at most 0.005: allow four of them.
    assert shares[TEST_SPLIT] == pytest.approx(0.2, abs=0.02)
    assert shares[VALIDATION_SPLIT] == pytest.approx(0.1, abs=0.02)
    assert shares[TRAIN_SPLIT] == pytest.approx(0.7, abs=0.02)
    assert (hash_split(digests, test_fraction=0.0) == TRAIN_SPLIT).all()


@pytest.mark.parametrize(
    ("test_fraction", "validation_fraction"),
    [(-0.1, 0.0), (0.2, -0.1), (0.6, 0.4), (1.0, 0.0), (math.nan, 0.0)],
)
def test_hash_split_refuses_fractions_outside_the_unit_interval(
    test_fraction: float, validation_fraction: float
) -> None:
    digests = row_digests(id_table(np.arange(3)))
    with pytest.raises(ValidationFailed) as refused:
        hash_split(digests, test_fraction, validation_fraction)
    message = str(refused.value)
    assert f"test_fraction={test_fraction}" in message
    assert f"validation_fraction={validation_fraction}" in message


@pytest.mark.parametrize("num_shards", [1, 2, 3, 7])
def test_shard_masks_partition_the_rows(num_shards: int) -> None:
    digests = row_digests(id_table(np.arange(10_000)))
    masks = np.stack([shard_mask(digests, num_shards, index) for index in range(num_shards)])
    assert masks.dtype == bool
    np.testing.assert_array_equal(masks.sum(axis=0), np.ones(10_000))
    np.testing.assert_allclose(masks.mean(axis=1), 1 / num_shards, atol=0.02)


@pytest.mark.parametrize(
    ("num_shards", "shard_index", "named"),
    [(0, 0, "num_shards"), (3, 3, "shard_index"), (3, -1, "shard_index"), (2, True, "shard_index")],
)
def test_shard_mask_refuses_impossible_shards(
    num_shards: int, shard_index: int, named: str
) -> None:
    digests = row_digests(id_table(np.arange(3)))
    with pytest.raises(ValidationFailed, match=f"{named} must be an integer"):
        shard_mask(digests, num_shards, shard_index)
