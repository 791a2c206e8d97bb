"""Raw bytes as bits: a lossless encoding of binary values.

A row is a 32-bit length header followed by the payload, every bit one
float (0.0 or 1.0), most significant bit first, zero-padded to the
encoder's capacity::

    [ length: 32 bits ][ unit 0 ][ unit 1 ] ... [ unit capacity-1 ]

Without a vocabulary a unit is a byte (8 bits) and the capacity is
``max_bytes``; with a ``Vocabulary`` a unit is a token of
``vocabulary.token_bits`` bits and the capacity is ``max_tokens``; the
header counts units. With ``compress`` each value is zlib-compressed
before that (and decompressed after decoding). Decoding reads a bit as 1
when its float is above 0.5, so it gives back exactly the original bytes.

Rows are laid out for all values at once from the Arrow offsets and data
buffers (one boolean mask places every byte in its padded row) and turned
into bits with ``np.unpackbits``; only zlib works value by value.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from marble_graph.datasets.encoders.arrow_columns import (
    ColumnData,
    as_arrow_array,
    as_binary_array,
    reject_nulls,
    variable_width_layout,
)
from marble_graph.datasets.encoders.base import EncoderContext, EncoderKind, register_encoder_kind
from marble_graph.datasets.encoders.records import (
    option_bool,
    option_int,
    record_bool,
    record_int,
)
from marble_graph.datasets.encoders.vocabulary import Vocabulary, resolve_vocabulary
from marble_graph.errors import ValidationFailed

HEADER_BITS = 32
# The most bytes (or tokens) one value may take: 2**20 bytes are already
# 8M inputs per row.
MAX_CAPACITY = 1 << 20


@dataclass(frozen=True)
class BytesEncoder:
    """Binary values as a length header and payload bits; lossless."""

    capacity: int  # bytes per value, or tokens per value with a vocabulary
    compress: bool = False
    vocabulary: Vocabulary | None = None

    @property
    def kind(self) -> str:
        """Always ``bytes``."""
        return "bytes"

    @property
    def unit_bits(self) -> int:
        """Bits per payload unit: 8 for a byte, ``token_bits`` for a token."""
        return 8 if self.vocabulary is None else self.vocabulary.token_bits

    @property
    def width(self) -> int:
        """``32 + capacity * unit_bits`` floats per row."""
        return HEADER_BITS + self.capacity * self.unit_bits

    @property
    def lossless(self) -> bool:
        """True: decoding gives back exactly the bytes encoded."""
        return True

    def encode(self, column: ColumnData, what: str = "column") -> np.ndarray:
        """Header and payload bits, float32 ``[n, width]``; a value over capacity is an error."""
        offsets, units = self._units(as_arrow_array(column, what), what)
        lengths = np.diff(offsets)
        self.check_capacity(lengths, what)
        n_rows = len(lengths)
        filled = np.arange(self.capacity) < lengths[:, None]  # [n, capacity]
        # Row-major order of the mask's True cells is the order of the units
        # in the data, so one assignment lays out every row.
        padded = np.zeros((n_rows, self.capacity), dtype=units.dtype)
        padded[filled] = units
        header = np.unpackbits(lengths.astype(">u4").view(np.uint8).reshape(n_rows, 4), axis=1)
        out = np.empty((n_rows, self.width), dtype=np.float32)
        out[:, :HEADER_BITS] = header
        if self.vocabulary is None:
            out[:, HEADER_BITS:] = np.unpackbits(padded, axis=1)  # [n, capacity * 8]
        else:
            shifts = np.arange(self.unit_bits - 1, -1, -1, dtype=np.int64)
            out[:, HEADER_BITS:] = ((padded[:, :, None] >> shifts) & 1).reshape(n_rows, -1)
        return out

    def decode(self, matrix: np.ndarray, what: str = "column") -> list[Any]:
        """The original ``bytes`` of each row (a bit is 1 where its float is above 0.5)."""
        values = np.asarray(matrix)
        if values.ndim == 1:
            values = values[None, :]
        if values.ndim != 2 or values.shape[1] != self.width:
            raise ValidationFailed(
                f"{what}: expected encoded rows [n, {self.width}], got shape {values.shape}"
            )
        bits = (values > 0.5).astype(np.uint8)
        n_rows = bits.shape[0]
        lengths = np.packbits(bits[:, :HEADER_BITS], axis=1).view(">u4")[:, 0].astype(np.int64)
        over = np.flatnonzero(lengths > self.capacity)
        if over.size:
            row = int(over[0])
            raise ValidationFailed(
                f"{what}: row {row} has a length header of {int(lengths[row])}, over the "
                f"capacity of {self.capacity}; it is not an encoding of this encoder"
            )
        filled = np.arange(self.capacity) < lengths[:, None]
        unit_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        if self.vocabulary is None:
            data = np.packbits(bits[:, HEADER_BITS:], axis=1)[filled]
            offsets = unit_offsets
        else:
            weights = 1 << np.arange(self.unit_bits - 1, -1, -1, dtype=np.int64)
            token_bits = bits[:, HEADER_BITS:].reshape(n_rows, self.capacity, self.unit_bits)
            tokens = (token_bits.astype(np.int64) @ weights)[filled]
            try:
                offsets, data = self.vocabulary.detokenize_layout(unit_offsets, tokens)
            except ValidationFailed as exc:
                raise ValidationFailed(f"{what}: {exc}") from exc
        decoded = _binary_values(offsets, data)
        if not self.compress:
            return decoded
        return [_decompress(value, row, what) for row, value in enumerate(decoded)]

    def to_record(self) -> dict[str, Any]:
        """Kind, width, compress, and ``max_bytes``, or ``max_tokens`` and the vocabulary digest."""
        record: dict[str, Any] = {
            "kind": self.kind,
            "width": self.width,
            "compress": self.compress,
        }
        if self.vocabulary is None:
            record["max_bytes"] = self.capacity
        else:
            record["max_tokens"] = self.capacity
            record["vocabulary"] = self.vocabulary.digest
        return record

    def check_capacity(self, lengths: np.ndarray, what: str = "column") -> None:
        """Raise ``ValidationFailed`` naming the first value longer than the capacity."""
        too_long = np.flatnonzero(lengths > self.capacity)
        if too_long.size:
            row = int(too_long[0])
            unit, limit = (
                ("bytes", "max_bytes") if self.vocabulary is None else ("tokens", "max_tokens")
            )
            after = " after compression" if self.compress else ""
            raise ValidationFailed(
                f"{what}: row {row} is {int(lengths[row])} {unit}{after}, over the encoder's "
                f"{limit} of {self.capacity}"
            )

    def _units(self, array: pa.Array, what: str) -> tuple[np.ndarray, np.ndarray]:
        """(offsets, units) of the payloads: bytes (uint8) or tokens (int64)."""
        return payload_units(array, self.compress, self.vocabulary, what)


def payload_units(
    array: pa.Array, compress: bool, vocabulary: Vocabulary | None, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """(offsets int64 ``[n + 1]``, units) of a column's payloads, compressed and tokenised."""
    binary = as_binary_array(array, what)
    reject_nulls(binary, what)
    if compress:
        # zlib has no vectorised form; this is the one loop over values.
        compressed = [zlib.compress(value) for value in binary.to_pylist()]
        binary = pa.array(compressed, type=pa.large_binary())
    offsets, data = variable_width_layout(binary)
    if vocabulary is None:
        return offsets, data
    return vocabulary.tokenize_layout(offsets, data)


def _binary_values(offsets: np.ndarray, data: np.ndarray) -> list[bytes]:
    """Python ``bytes`` of each value, built by Arrow rather than a slicing loop."""
    array = pa.Array.from_buffers(
        pa.large_binary(),
        len(offsets) - 1,
        [None, pa.py_buffer(offsets.astype(np.int64)), pa.py_buffer(data.astype(np.uint8))],
    )
    return list(array.to_pylist())


def _decompress(value: bytes, row: int, what: str) -> bytes:
    try:
        return zlib.decompress(value)
    except zlib.error as exc:
        raise ValidationFailed(f"{what}: row {row} does not decompress ({exc})") from exc


def _fit_bytes(array: pa.Array, options: dict[str, Any], context: EncoderContext) -> BytesEncoder:
    compress = option_bool("bytes", "compress", options.get("compress", False))
    vocabulary = _vocabulary_option(options.get("vocabulary"), context)
    max_bytes = options.get("max_bytes")
    offsets, _ = payload_units(array, compress, vocabulary, context.what)
    if max_bytes is None:
        longest = int(np.diff(offsets).max()) if len(offsets) > 1 else 0
        # An all-empty column still gets one unit, so the layout has a payload.
        capacity = max(longest, 1)
        if capacity > MAX_CAPACITY:
            raise ValidationFailed(
                f"{context.what}: the longest value takes {capacity} units, over the bytes "
                f"encoder's limit of {MAX_CAPACITY}"
            )
    else:
        # A value of max_bytes bytes never needs more tokens than bytes, so the
        # same number bounds the tokens with a vocabulary.
        capacity = option_int("bytes", "max_bytes", max_bytes, 1, MAX_CAPACITY)
    encoder = BytesEncoder(capacity=capacity, compress=compress, vocabulary=vocabulary)
    encoder.check_capacity(np.diff(offsets), context.what)
    return encoder


def _vocabulary_option(value: object, context: EncoderContext) -> Vocabulary | None:
    if value is None or isinstance(value, Vocabulary):
        return value
    if isinstance(value, str):
        return resolve_vocabulary(value, context.vocabularies, context.what)
    raise ValidationFailed(
        f"{context.what}: bytes encoder option 'vocabulary' must be a Vocabulary or its "
        f"digest, got {type(value).__name__}"
    )


def _bytes_from_record(record: dict[str, Any], context: EncoderContext) -> BytesEncoder:
    compress = record_bool(record, "compress")
    digest = record.get("vocabulary")
    if digest is None:
        encoder = BytesEncoder(record_int(record, "max_bytes", 1, MAX_CAPACITY), compress)
    else:
        if not isinstance(digest, str):
            raise ValidationFailed(
                f"{context.what}: bytes encoder record: 'vocabulary' must be a digest string"
            )
        vocabulary = resolve_vocabulary(digest, context.vocabularies, context.what)
        capacity = record_int(record, "max_tokens", 1, MAX_CAPACITY)
        encoder = BytesEncoder(capacity, compress, vocabulary)
    width = record_int(record, "width", HEADER_BITS)
    if width != encoder.width:
        raise ValidationFailed(
            f"{context.what}: bytes encoder record says width {width}, its capacity and "
            f"vocabulary give {encoder.width}"
        )
    return encoder


register_encoder_kind(
    EncoderKind("bytes", ("compress", "max_bytes", "vocabulary"), _fit_bytes, _bytes_from_record)
)
