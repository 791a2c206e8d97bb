"""Column encoders: widths, exact round trips, recorded statistics, and their error messages."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import marble_graph.datasets.encoders as encoders_package
from marble_graph.datasets.encoders import (
    BytesEncoder,
    ColumnEncoder,
    LabelEncoder,
    NumericEncoder,
    TableEncoding,
    TextEncoder,
    VectorEncoder,
    Vocabulary,
    build_vocabulary,
    default_encoder_kind,
    encoder_from_record,
    encoder_kinds,
    fit_encoder,
)
from marble_graph.errors import NotFound, ValidationFailed

blobs = st.lists(st.binary(max_size=200), min_size=1, max_size=20)

REPETITIVE = [b"GET /index.html HTTP/1.1\r\nHost: example.org\r\n\r\n" * 3] * 4 + [
    b"GET /about.html HTTP/1.1\r\nHost: example.org\r\n\r\n",
]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def reference_text_row(text: str, width: int = 64, n: int = 3) -> np.ndarray:
    """The documented hash, in plain Python ints: a second code path for the text encoder."""
    mask = 0xFFFFFFFF

    def fnv1a_fmix(gram: bytes) -> int:
        h = 2166136261
        for byte in gram:
            h = ((h ^ byte) * 16777619) & mask
        h ^= h >> 16
        h = (h * 0x85EBCA6B) & mask
        h ^= h >> 13
        h = (h * 0xC2B2AE35) & mask
        h ^= h >> 16
        return h

    data = text.encode("utf-8")
    grams = [data] if 0 < len(data) < n else [data[i : i + n] for i in range(len(data) - n + 1)]
    row = np.zeros(width)
    for gram in grams:
        row[fnv1a_fmix(gram) % width] += 1
    norm = np.linalg.norm(row)
    return row / norm if norm else row


# -- the package surface ----------------------------------------------------


def test_all_lists_the_public_names() -> None:
    public = {name for name in dir(encoders_package) if not name.startswith("_")}
    modules = {"arrow_columns", "base", "bits", "label", "numeric", "records"}
    modules |= {"table_encoding", "text", "vocabulary"}
    assert set(encoders_package.__all__) == public - modules


def test_every_kind_is_registered() -> None:
    assert encoder_kinds() == ["bytes", "label", "numeric", "text", "vector"]


# -- widths -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "column", "options", "width"),
    [
        ("numeric", pa.array([1, 2, 3]), {}, 1),
        ("vector", pa.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), {}, 3),
        ("text", pa.array(["a", "bb"]), {}, 64),
        ("text", pa.array(["a", "bb"]), {"width": 16, "n": 2}, 16),
        ("bytes", pa.array([b"abc", b"a"]), {}, 32 + 3 * 8),
        ("bytes", pa.array([b"abc", b"a"]), {"max_bytes": 10}, 32 + 10 * 8),
        ("label", pa.array(["x", "y", "z", "x"]), {}, 3),
    ],
)
def test_encoder_output_has_its_width(
    kind: str, column: pa.Array, options: dict[str, Any], width: int
) -> None:
    encoder = fit_encoder(kind, column, **options)
    assert isinstance(encoder, ColumnEncoder)
    assert encoder.kind == kind
    assert encoder.width == width
    encoded = encoder.encode(column)
    assert encoded.dtype == np.float32
    assert encoded.shape == (len(column), width)
    assert np.isfinite(encoded).all()


def test_vocabulary_bytes_width_is_header_plus_token_bits() -> None:
    vocabulary = Vocabulary([b"ab", b"cd", b"efg"])
    encoder = fit_encoder("bytes", pa.array([b"abcdefg", b"x"]), vocabulary=vocabulary)
    assert vocabulary.token_bits == math.ceil(math.log2(256 + 3)) == 9
    assert isinstance(encoder, BytesEncoder)
    assert encoder.capacity == 3  # "ab" "cd" "efg"
    assert encoder.width == 32 + 3 * 9
    assert encoder.encode(pa.array([b"abcdefg"])).shape == (1, encoder.width)


# -- bytes --------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(values=blobs, compress=st.booleans())
def test_bytes_encoding_round_trips_exactly(values: list[bytes], compress: bool) -> None:
    encoder = fit_encoder("bytes", pa.array(values, type=pa.binary()), compress=compress)
    encoded = encoder.encode(pa.array(values, type=pa.binary()))
    assert set(np.unique(encoded)) <= {0.0, 1.0}
    assert encoder.lossless
    assert encoder.decode(encoded) == values


@settings(max_examples=30, deadline=None)
@given(values=blobs)
def test_bytes_decoding_reads_noisy_outputs_by_threshold(values: list[bytes]) -> None:
    encoder = fit_encoder("bytes", values)
    encoded = encoder.encode(values)
    noise = np.random.default_rng(0).uniform(-0.4, 0.4, size=encoded.shape)
    assert encoder.decode(encoded + noise.astype(np.float32)) == values


def test_bytes_header_holds_the_length_in_32_bits_then_the_payload() -> None:
    encoder = fit_encoder("bytes", [b"\x01\x80"])
    row = encoder.encode([b"\x01\x80"])[0]
    assert row[:32].tolist() == [0.0] * 30 + [1.0, 0.0]  # length 2, most significant bit first
    assert row[32:].tolist() == [0] * 7 + [1] + [1] + [0] * 7


def test_bytes_value_over_max_bytes_names_the_row_length_and_limit() -> None:
    encoder = fit_encoder("bytes", [b"abc"], max_bytes=4)
    with pytest.raises(
        ValidationFailed, match=r"row 1 is 6 bytes, over the encoder's max_bytes of 4"
    ):
        encoder.encode([b"ab", b"abcdef"], "column 'blob'")
    with pytest.raises(ValidationFailed, match=r"row 0 is 5 bytes.*max_bytes of 2"):
        fit_encoder("bytes", [b"hello"], max_bytes=2)


def test_bytes_encoder_reads_sliced_and_chunked_columns() -> None:
    values = [b"first", b"", b"second value", b"x", b"third"]
    encoder = fit_encoder("bytes", values)
    whole = encoder.encode(values)
    sliced = pa.array(values)[2:]
    assert np.array_equal(encoder.encode(sliced), whole[2:])
    chunked = pa.chunked_array([pa.array(values[:2]), pa.array(values[2:])])
    assert np.array_equal(encoder.encode(chunked), whole)
    text = encoder.encode(pa.array([v.decode() for v in values]))
    assert np.array_equal(text, whole)


# -- vocabulary -------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(values=blobs, compress=st.booleans())
def test_vocabulary_encoding_round_trips_random_blobs(values: list[bytes], compress: bool) -> None:
    # A vocabulary of repetitive text meets data it was not built from, and
    # one built from the blobs themselves.
    for vocabulary in (build_vocabulary(REPETITIVE, size=64), build_vocabulary(values, size=64)):
        for value in values:
            assert vocabulary.detokenize(vocabulary.tokenize(value)) == value
        encoder = fit_encoder("bytes", values, vocabulary=vocabulary, compress=compress)
        assert encoder.decode(encoder.encode(values)) == values


def test_vocabulary_shortens_and_round_trips_repetitive_data() -> None:
    vocabulary = build_vocabulary(REPETITIVE, size=32)
    assert 0 < len(vocabulary.entries) <= 32
    for value in REPETITIVE:
        tokens = vocabulary.tokenize(value)
        assert len(tokens) < len(value)
        assert vocabulary.detokenize(tokens) == value
    # The message repeated through the corpus shrinks the most.
    assert len(vocabulary.tokenize(REPETITIVE[0])) < len(REPETITIVE[0]) / 3
    encoder = fit_encoder("bytes", REPETITIVE, vocabulary=vocabulary)
    plain = fit_encoder("bytes", REPETITIVE)
    assert encoder.width < plain.width
    assert encoder.decode(encoder.encode(REPETITIVE)) == REPETITIVE


def test_tokenize_is_greedy_longest_match_from_the_left() -> None:
    vocabulary = Vocabulary([b"ab", b"abc", b"cd"])
    # "abc" wins over "ab" at 0; then "d" alone ("cd" would need the used "c").
    assert vocabulary.tokenize(b"abcd").tolist() == [256 + 1, ord("d")]
    assert vocabulary.tokenize(b"xcd").tolist() == [ord("x"), 256 + 2]
    assert vocabulary.tokenize(b"").tolist() == []
    with pytest.raises(ValidationFailed, match=r"token 300 at position 1 is outside"):
        vocabulary.detokenize([97, 300])


def test_tokenize_layout_matches_tokenizing_each_value() -> None:
    vocabulary = build_vocabulary(REPETITIVE, size=16)
    values = [*REPETITIVE, b"", b"Host: elsewhere", b"\r\n\r\n"]
    array = pa.array(values)
    offsets = np.concatenate([[0], np.cumsum([len(v) for v in values])]).astype(np.int64)
    data = np.frombuffer(b"".join(values), dtype=np.uint8)
    token_offsets, tokens = vocabulary.tokenize_layout(offsets, data)
    for row, value in enumerate(values):
        expected = vocabulary.tokenize(value)
        assert tokens[token_offsets[row] : token_offsets[row + 1]].tolist() == expected.tolist()
    assert len(array) == len(token_offsets) - 1


def test_build_vocabulary_ranks_grams_by_savings() -> None:
    # "abcd" x5 saves 5*3 = 15; "xy-x" and "y-xy" x4 save 12 each (a tie goes
    # to the smaller bytes); "abc" and "bcd" x5 save 10; "-xy-" x3 saves 9;
    # "xy" x5 only 5; "zz" once saves nothing.
    corpus = [b"abcd"] * 5 + [b"xy-xy-xy-xy-xy zz"]
    vocabulary = build_vocabulary(corpus, size=6, min_len=2, max_len=4)
    assert vocabulary.entries == [b"abcd", b"xy-x", b"y-xy", b"abc", b"bcd", b"-xy-"]
    assert build_vocabulary(corpus, size=0).entries == []
    assert b"zz" not in build_vocabulary(corpus, size=100).entries


def test_vocabulary_bytes_round_trip_and_digest() -> None:
    vocabulary = build_vocabulary(REPETITIVE, size=40)
    data = vocabulary.to_bytes()
    assert data.startswith(b"MRBLVOC\x01")
    again = Vocabulary.from_bytes(data)
    assert again == vocabulary
    assert again.entries == vocabulary.entries
    assert again.digest == vocabulary.digest
    assert re.fullmatch(r"[0-9a-f]{64}", vocabulary.digest)
    assert Vocabulary([b"ab"]).digest != Vocabulary([b"ba"]).digest


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"NOTVOCAB\x00\x00\x00\x00", "MRBLVOC header"),
        (b"MRBLVOC\x02\x00\x00\x00\x00", "version 2"),
        (b"MRBLVOC\x01\x00\x00\x00\x02\x02ab", "ends after 1 of 2 entries"),
        (b"MRBLVOC\x01\x00\x00\x00\x01\x05ab", "claims 5 bytes"),
        (b"MRBLVOC\x01\x00\x00\x00\x01\x02abX", "1 bytes after its 1 entries"),
        (b"MRBLVOC\x01\x00\x00\x00\x01\x01a", "length must be in"),
    ],
)
def test_vocabulary_from_bytes_rejects_malformed_data(data: bytes, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        Vocabulary.from_bytes(data)


def test_record_holds_the_vocabulary_digest_and_lookup_resolves_it() -> None:
    vocabulary = build_vocabulary(REPETITIVE, size=8)
    encoder = fit_encoder("bytes", REPETITIVE, vocabulary=vocabulary)
    record = json.loads(json.dumps(encoder.to_record()))
    assert record["vocabulary"] == vocabulary.digest
    assert "entries" not in json.dumps(record)
    known = {vocabulary.digest: vocabulary}
    rebuilt = encoder_from_record(record, vocabularies=known.get)
    assert np.array_equal(rebuilt.encode(REPETITIVE), encoder.encode(REPETITIVE))
    nothing: dict[str, Vocabulary] = {}
    with pytest.raises(NotFound, match=vocabulary.digest):
        encoder_from_record(record, vocabularies=nothing.get)
    with pytest.raises(NotFound, match=vocabulary.digest):
        encoder_from_record(record)
    # A digest given as the fit option is looked up the same way.
    by_digest = fit_encoder(
        "bytes", REPETITIVE, vocabulary=vocabulary.digest, vocabularies=known.get
    )
    assert by_digest == encoder


# -- text ---------------------------------------------------------------------


def test_text_encoding_is_deterministic_and_follows_the_documented_hash() -> None:
    texts = ["hello world", "hi", "", "naïve café", "a", "zzzzqqq"]
    encoder = fit_encoder("text", texts)
    first = encoder.encode(texts)
    assert np.array_equal(first, TextEncoder().encode(pa.array(texts)))
    expected = np.stack([reference_text_row(t) for t in texts]).astype(np.float32)
    np.testing.assert_allclose(first, expected, rtol=1e-6)
    assert not first[2].any()  # an empty string stays all zeros
    np.testing.assert_allclose(np.linalg.norm(first[[0, 1, 3, 4, 5]], axis=1), 1.0, rtol=1e-6)


def test_text_encoding_puts_similar_strings_in_shared_buckets() -> None:
    encoder = fit_encoder("text", ["x"])
    hello, hello_bang, other = encoder.encode(["hello world", "hello world!", "zzzzqqq"])
    assert cosine(hello, hello_bang) > 0.9
    assert cosine(hello, hello_bang) > cosine(hello, other)


def test_text_encoding_of_sliced_column_equals_the_whole() -> None:
    texts = [f"row {i} {'ab' * (i % 5)}" for i in range(50)]
    encoder = TextEncoder(width=32, n=4)
    whole = encoder.encode(texts)
    assert np.array_equal(encoder.encode(pa.array(texts)[17:31]), whole[17:31])
    expected = np.stack([reference_text_row(t, 32, 4) for t in texts]).astype(np.float32)
    np.testing.assert_allclose(whole, expected, rtol=1e-6)


def test_text_encoder_cannot_decode() -> None:
    encoder = fit_encoder("text", ["abc"])
    with pytest.raises(ValidationFailed, match="text encoder cannot decode"):
        encoder.decode(encoder.encode(["abc"]))
    assert not encoder.lossless


# -- numeric and vector -------------------------------------------------------


def test_numeric_normalisation_is_recorded_and_decode_inverts_it() -> None:
    prices = pa.array([100.0, 200.0, 300.0, 600.0])
    encoder = fit_encoder("numeric", prices)
    record = encoder.to_record()
    assert record["kind"] == "numeric"
    assert record["mean"] == [300.0]
    assert record["std"] == [pytest.approx(float(np.std([100, 200, 300, 600])))]
    encoded = encoder.encode(prices)
    np.testing.assert_allclose(encoded.mean(), 0.0, atol=1e-6)
    np.testing.assert_allclose(encoded.std(), 1.0, atol=1e-6)
    np.testing.assert_allclose(encoder.decode(encoded), [100.0, 200.0, 300.0, 600.0], rtol=1e-6)
    assert encoder_from_record(json.loads(json.dumps(record))) == encoder


def test_constant_numbers_are_only_centred() -> None:
    encoder = fit_encoder("numeric", [0.5, 0.5, 0.5])
    assert encoder.to_record()["std"] == [1.0]
    assert encoder.encode([0.5, 1.5]).ravel().tolist() == [0.0, 1.0]


def test_vector_records_per_dimension_statistics() -> None:
    column = pa.array([[1.0, 10.0], [3.0, 10.0]], type=pa.list_(pa.float32(), 2))
    encoder = fit_encoder("vector", column)
    assert isinstance(encoder, VectorEncoder)
    assert encoder.to_record() == {
        "kind": "vector",
        "width": 2,
        "mean": [2.0, 10.0],
        "std": [1.0, 1.0],
    }
    assert encoder.encode(column).tolist() == [[-1.0, 0.0], [1.0, 0.0]]
    assert encoder.decode(np.array([[0.0, 0.0]])) == [[2.0, 10.0]]


def test_vector_rows_of_other_widths_name_the_row_and_widths() -> None:
    column = pa.array([[1.0, 2.0], [3.0, 4.0], [5.0], [6.0, 7.0, 8.0]])
    with pytest.raises(
        ValidationFailed,
        match=r"column 'emb': row 2 holds 1 values, expected 2 \(widths seen: 1, 2, 3\)",
    ):
        fit_encoder("vector", column, "emb")
    encoder = fit_encoder("vector", [[1.0, 2.0]])
    with pytest.raises(ValidationFailed, match=r"row 1 holds 3 values, expected 2"):
        encoder.encode([[1.0, 2.0], [1.0, 2.0, 3.0]])


def test_numbers_reject_nulls_and_non_finite_values_by_row() -> None:
    with pytest.raises(ValidationFailed, match=r"column 'age': row 1 is null"):
        fit_encoder("numeric", [1.0, None, 3.0], "age")
    with pytest.raises(ValidationFailed, match=r"row 2 is nan"):
        fit_encoder("numeric", [1.0, 2.0, float("nan")])
    with pytest.raises(ValidationFailed, match="needs numbers, got Arrow type string"):
        fit_encoder("numeric", ["a"])


# -- labels -------------------------------------------------------------------


def test_label_round_trip_through_indices_and_outputs() -> None:
    labels = pa.array(["cat", "dog", "bird", "dog"])
    encoder = fit_encoder("label", labels)
    assert isinstance(encoder, LabelEncoder)
    assert encoder.classes == ["bird", "cat", "dog"]
    assert encoder.indices(labels).tolist() == [1, 2, 0, 2]
    assert encoder.decode(encoder.encode(labels)) == labels.to_pylist()
    assert encoder.decode(np.array([2, 0])) == ["dog", "bird"]
    outputs = np.array([[0.1, 2.0, -1.0], [5.0, 0.0, 0.0]])
    assert encoder.decode(outputs) == ["cat", "bird"]
    integer_labels = fit_encoder("label", [3, 1, 2, 3])
    assert integer_labels.to_record()["classes"] == [1, 2, 3]
    assert integer_labels.decode(integer_labels.encode([3, 1])) == [3, 1]


def test_unknown_label_names_the_row_label_and_known_classes() -> None:
    encoder = fit_encoder("label", ["cat", "dog"])
    with pytest.raises(
        ValidationFailed,
        match=r"column 'animal': row 1 has unknown label 'cow' \(known classes: cat, dog\)",
    ):
        encoder.encode(["dog", "cow"], "column 'animal'")


# -- registry and records -----------------------------------------------------


def test_unknown_encoder_lists_the_known_ones() -> None:
    with pytest.raises(ValidationFailed) as caught:
        fit_encoder("xyz", [1, 2], "price")
    assert str(caught.value) == (
        "unknown encoder 'xyz' for column 'price'; "
        "known encoders: bytes, label, numeric, text, vector"
    )
    with pytest.raises(ValidationFailed, match=r"unknown encoder 'xyz'; known encoders"):
        encoder_from_record({"kind": "xyz"})


def test_unknown_option_names_the_allowed_ones() -> None:
    with pytest.raises(ValidationFailed, match=r"unknown option\(s\) size .*options: width, n"):
        fit_encoder("text", ["a"], size=3)


@pytest.mark.parametrize(
    "encoder",
    [
        NumericEncoder(np.array([2.0]), np.array([0.5])),
        VectorEncoder(np.array([1.0, 2.0]), np.array([1.0, 3.0])),
        TextEncoder(width=8, n=2),
        BytesEncoder(capacity=5, compress=True),
        LabelEncoder(["a", "b"]),
    ],
)
def test_encoder_record_round_trips_through_json(encoder: ColumnEncoder) -> None:
    record = json.loads(json.dumps(encoder.to_record()))
    assert record["kind"] == encoder.kind
    assert record["width"] == encoder.width
    assert encoder_from_record(record) == encoder


def test_malformed_records_are_rejected_with_the_field_named() -> None:
    with pytest.raises(ValidationFailed, match="'std' must hold positive numbers"):
        encoder_from_record({"kind": "numeric", "width": 1, "mean": [0.0], "std": [0.0]})
    with pytest.raises(ValidationFailed, match="says width 99"):
        encoder_from_record({"kind": "bytes", "width": 99, "compress": False, "max_bytes": 4})
    with pytest.raises(ValidationFailed, match="must be an object"):
        encoder_from_record(["numeric"])


def test_default_kinds_by_arrow_type_and_role() -> None:
    assert default_encoder_kind(pa.float64(), "input") == "numeric"
    assert default_encoder_kind(pa.int32(), "target") == "numeric"
    assert default_encoder_kind(pa.list_(pa.float32()), "input") == "vector"
    assert default_encoder_kind(pa.string(), "input") == "text"
    assert default_encoder_kind(pa.string(), "target") == "label"
    assert default_encoder_kind(pa.binary(), "input") == "bytes"
    with pytest.raises(ValidationFailed, match="no default encoder for Arrow type date32"):
        default_encoder_kind(pa.date32(), "input", "day")


# -- table encoding -----------------------------------------------------------


def mixed_table() -> pa.Table:
    return pa.table(
        {
            "size": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "name": ["small cat", "big dog", "cat", "dog", "tiny cat", "huge dog"],
            "embedding": [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [1.0, 1.0], [0.0, 0.0], [2.0, 1.0]],
            "blob": [b"GET /a", b"GET /b", b"", b"POST /c", b"GET /a", b"GET /d"],
            "target": ["cat", "dog", "cat", "dog", "cat", "dog"],
        }
    )


def test_table_encoding_builds_the_dataset_and_decodes_labels() -> None:
    table = mixed_table()
    encoding = TableEncoding.fit(table, encoders={"name": {"width": 8}})
    assert encoding.task == "classification"
    assert encoding.input_columns == ["size", "name", "embedding", "blob"]
    dataset = encoding.encode(table, "pets")
    blob_width = 32 + 7 * 8
    assert dataset.features.shape == (6, 1 + 8 + 2 + blob_width)
    assert dataset.feature_names[:3] == ["size", "name[0]", "name[1]"]
    assert dataset.feature_names[9:11] == ["embedding[0]", "embedding[1]"]
    assert dataset.target_names == ["cat", "dog"]
    assert dataset.targets.tolist() == [0, 1, 0, 1, 0, 1]
    assert dataset.prescaled
    outputs = np.eye(2)[[1, 0]]
    assert encoding.decode_outputs(outputs) == ["dog", "cat"]


def test_table_encoding_record_round_trip_encodes_identically() -> None:
    table = mixed_table()
    vocabulary = build_vocabulary(table.column("blob"), size=4)
    known = {vocabulary.digest: vocabulary}
    encoding = TableEncoding.fit(
        table,
        encoders={"blob": {"kind": "bytes", "vocabulary": vocabulary.digest, "compress": True}},
        vocabularies=known.get,
    )
    record = json.loads(json.dumps(encoding.to_record()))
    rebuilt = TableEncoding.from_record(record, vocabularies=known.get)
    assert rebuilt.to_record() == encoding.to_record()
    first, second = encoding.encode(table, "a"), rebuilt.encode(table, "a")
    assert np.array_equal(first.features, second.features)
    assert np.array_equal(first.targets, second.targets)
    assert first.content_hash() == second.content_hash()
    with pytest.raises(NotFound, match=vocabulary.digest):
        TableEncoding.from_record(record)


def test_encode_inputs_takes_raw_values_like_the_table() -> None:
    table = mixed_table()
    encoding = TableEncoding.fit(table)
    raw = {name: table.column(name).to_pylist() for name in encoding.input_columns}
    assert np.array_equal(encoding.encode_inputs(raw), encoding.encode(table, "t").features)
    with pytest.raises(ValidationFailed, match=r"missing column\(s\) blob"):
        encoding.encode_inputs({k: v for k, v in raw.items() if k != "blob"})


def test_numeric_target_is_regression_and_decodes_to_units() -> None:
    table = pa.table({"x": [1.0, 2.0, 3.0, 4.0], "price": [100.0, 250.0, 400.0, 550.0]})
    encoding = TableEncoding.fit(table)
    assert encoding.target[0] == "price"
    dataset = encoding.encode(table, "prices")
    assert dataset.task == "regression"
    assert dataset.target_names == ["price"]
    prices = encoding.decode_outputs(dataset.targets)
    assert prices is not None
    np.testing.assert_allclose(np.array(prices), [100.0, 250.0, 400.0, 550.0], rtol=1e-5)


def test_few_distinct_integer_targets_are_classes() -> None:
    table = pa.table({"x": [0.1, 0.2, 0.3, 0.4], "y": [3, 7, 3, 7]})
    encoding = TableEncoding.fit(table)
    assert encoding.task == "classification"
    assert encoding.target_names == ["3", "7"]
    assert encoding.decode_outputs(np.array([[0.0, 1.0]])) == [7]


def test_bytes_target_is_regression_over_bits_and_decodes_to_bytes() -> None:
    table = pa.table({"x": [1.0, 2.0, 3.0], "reply": [b"ok", b"error", b""]})
    encoding = TableEncoding.fit(table)
    dataset = encoding.encode(table, "replies")
    assert dataset.task == "regression"
    assert encoding.decode_outputs(dataset.targets) == [b"ok", b"error", b""]
    text_target = TableEncoding.fit(
        pa.table({"x": [1.0], "t": ["a"]}), encoders={"t": {"kind": "text"}}
    )
    assert text_target.decode_outputs(np.zeros((1, 64))) is None


def test_table_encoding_names_unknown_columns() -> None:
    table = mixed_table()
    with pytest.raises(
        ValidationFailed,
        match=(
            r"column\(s\) not in the table: 'colour' "
            r"\(columns: size, name, embedding, blob, target\)"
        ),
    ):
        TableEncoding.fit(table, encoders={"colour": {"kind": "text"}})
    with pytest.raises(ValidationFailed, match=r"input column\(s\) 'weight' not in the table"):
        TableEncoding.fit(table, input_columns=["size", "weight"])
    with pytest.raises(ValidationFailed, match=r"unknown encoder 'xyz' for column 'size'"):
        TableEncoding.fit(table, encoders={"size": {"kind": "xyz"}})
    with pytest.raises(ValidationFailed, match=r"column 'name': row 1 is null"):
        TableEncoding.fit(table.set_column(1, "name", pa.array(["a", None, "b", "c", "d", "e"])))
