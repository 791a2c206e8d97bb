"""Text as hashed character n-grams of its UTF-8 bytes.

Every run of ``n`` consecutive bytes inside a value (a string shorter than
``n`` bytes counts as one gram of all its bytes; an empty string has none)
is hashed into one of ``width`` buckets; a row is its bucket counts, scaled
to unit length (an empty string stays all zeros). Strings that share
substrings share buckets, so similar texts get similar vectors.

The hash is fixed so an encoding is the same in every run and on every
machine (Python's ``hash()`` is salted per process): 32-bit FNV-1a over the
gram's bytes (offset basis 2166136261, prime 16777619), then MurmurHash3's
32-bit finaliser (``h ^= h >> 16; h *= 0x85EBCA6B; h ^= h >> 13;
h *= 0xC2B2AE35; h ^= h >> 16``), because FNV's low bits alone, which
``h % width`` reads, depend only on the low bits of the bytes. The bucket
is ``h % width``.

Encoding works on the Arrow data buffer as a whole: the hash of the gram at
every byte position is built with ``n`` vectorised passes, grams that run
past the end of their value are dropped, and ``np.bincount`` counts them.
Hashing cannot be undone, so the encoder does not decode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from marble_graph.datasets.encoders.arrow_columns import (
    ColumnData,
    as_arrow_array,
    as_string_array,
    reject_nulls,
    variable_width_layout,
)
from marble_graph.datasets.encoders.base import EncoderContext, EncoderKind, register_encoder_kind
from marble_graph.datasets.encoders.records import option_int, record_int
from marble_graph.errors import ValidationFailed

DEFAULT_WIDTH = 64
DEFAULT_GRAM_BYTES = 3
MAX_WIDTH = 1 << 20
MAX_GRAM_BYTES = 16

HASH_NAME = "fnv1a32-murmur3fmix"
_FNV_OFFSET_BASIS = np.uint32(2166136261)
_FNV_PRIME = np.uint32(16777619)


@dataclass(frozen=True)
class TextEncoder:
    """Hashed byte n-gram counts, L2-normalised, ``width`` floats per row."""

    width: int = DEFAULT_WIDTH  # hash buckets: floats per row
    n: int = DEFAULT_GRAM_BYTES  # bytes per gram

    @property
    def kind(self) -> str:
        """Always ``text``."""
        return "text"

    @property
    def lossless(self) -> bool:
        """False: hashed n-grams cannot be turned back into text."""
        return False

    def encode(self, column: ColumnData, what: str = "column") -> np.ndarray:
        """Unit-length n-gram bucket counts, float32 ``[n_rows, width]``."""
        array = as_string_array(as_arrow_array(column, what), what)
        reject_nulls(array, what)
        offsets, data = variable_width_layout(array)
        return hashed_gram_counts(offsets, data, self.width, self.n)

    def decode(self, matrix: np.ndarray, what: str = "column") -> list[Any]:
        """Always raises: hashed n-grams are not reversible."""
        raise ValidationFailed(
            f"{what}: the text encoder cannot decode; hashed n-grams do not give the text back"
        )

    def to_record(self) -> dict[str, Any]:
        """``{"kind": "text", "width": .., "n": .., "hash": "fnv1a32-murmur3fmix"}``."""
        return {"kind": self.kind, "width": self.width, "n": self.n, "hash": HASH_NAME}


def hashed_gram_counts(offsets: np.ndarray, data: np.ndarray, width: int, n: int) -> np.ndarray:
    """Rows of L2-normalised bucket counts of the byte n-grams of each value, float32.

    ``offsets`` (int64 ``[rows + 1]``, from 0) and ``data`` (uint8) are the
    values' layout as ``variable_width_layout`` gives it.
    """
    n_rows = len(offsets) - 1
    lengths = np.diff(offsets)
    row_of_byte = np.repeat(np.arange(n_rows, dtype=np.int64), lengths)
    end_of_byte = np.repeat(offsets[1:], lengths)
    position = np.arange(len(data), dtype=np.int64)
    # Zero padding lets every position read n bytes; grams reaching past
    # their value's end (into the next value or the padding) are dropped.
    padded = np.concatenate([data, np.zeros(n, dtype=np.uint8)]).astype(np.uint32)
    short_rows = np.flatnonzero((lengths > 0) & (lengths < n))
    short_hashes = np.zeros(len(short_rows), dtype=np.uint32)
    state = np.full(len(data), _FNV_OFFSET_BASIS, dtype=np.uint32)
    for k in range(n):
        # FNV-1a step k over every position at once (uint32 arithmetic wraps).
        state = (state ^ padded[k : k + len(data)]) * _FNV_PRIME
        # A value of exactly k+1 bytes (< n) is one gram: its hash is now complete.
        done = lengths[short_rows] == k + 1
        short_hashes[done] = state[offsets[short_rows[done]]]
    whole = position + n <= end_of_byte
    rows = np.concatenate([row_of_byte[whole], short_rows])
    hashes = _finalise(np.concatenate([state[whole], short_hashes]))
    buckets = (hashes % np.uint32(width)).astype(np.int64)
    counts = np.bincount(rows * width + buckets, minlength=n_rows * width)
    matrix = counts.reshape(n_rows, width).astype(np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    np.divide(matrix, norms[:, None], out=matrix, where=norms[:, None] > 0)
    return matrix


def _finalise(hashes: np.ndarray) -> np.ndarray:
    """MurmurHash3's fmix32: spreads every input bit over the low bits the bucket reads."""
    h = hashes.astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def _fit_text(array: pa.Array, options: dict[str, Any], context: EncoderContext) -> TextEncoder:
    encoder = TextEncoder(
        width=option_int("text", "width", options.get("width", DEFAULT_WIDTH), 1, MAX_WIDTH),
        n=option_int("text", "n", options.get("n", DEFAULT_GRAM_BYTES), 1, MAX_GRAM_BYTES),
    )
    # Nothing is learnt from the data, but a column of the wrong type or
    # with nulls should fail at fit time, not at the first encode.
    reject_nulls(as_string_array(array, context.what), context.what)
    return encoder


def _text_from_record(record: dict[str, Any], context: EncoderContext) -> TextEncoder:
    hash_name = record.get("hash", HASH_NAME)
    if hash_name != HASH_NAME:
        raise ValidationFailed(
            f"{context.what}: text encoder record uses hash {hash_name!r}; "
            f"this version computes {HASH_NAME!r} only"
        )
    return TextEncoder(
        width=record_int(record, "width", 1, MAX_WIDTH),
        n=record_int(record, "n", 1, MAX_GRAM_BYTES),
    )


register_encoder_kind(EncoderKind("text", ("width", "n"), _fit_text, _text_from_record))
