"""Reading dataset columns as Arrow arrays and their raw buffers.

Encoders take a column in any of the shapes a caller has at hand (an Arrow
array, a chunked array from a table, a list of Python values, a numpy
array) and work on one contiguous ``pa.Array``. Variable-length columns
(strings, binary, lists) are read through their offsets and data buffers
so the encoders can work on every value at once with numpy instead of
looping over rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa

from marble_graph.errors import ValidationFailed

# What an encoder accepts as a column.
ColumnData: TypeAlias = pa.Array | pa.ChunkedArray | Sequence[Any] | np.ndarray


def as_arrow_array(column: ColumnData, what: str = "column") -> pa.Array:
    """``column`` as one contiguous ``pa.Array`` (chunks combined, Python values converted)."""
    if isinstance(column, pa.ChunkedArray):
        array = column.combine_chunks()
    elif isinstance(column, pa.Array):
        array = column
    else:
        try:
            array = pa.array(column)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
            raise ValidationFailed(f"{what}: values are not one Arrow type: {exc}") from exc
    if pa.types.is_dictionary(array.type):
        # Dictionary encoding is a storage choice; the encoders see the values.
        array = array.dictionary_decode()
    return array


def reject_nulls(array: pa.Array, what: str = "column") -> None:
    """Raise ``ValidationFailed`` naming the first null row; encoders never guess a value."""
    if array.null_count == 0:
        return
    row = int(np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False))[0])
    raise ValidationFailed(
        f"{what}: row {row} is null ({array.null_count} null values in all); "
        "fill or drop missing values before encoding"
    )


def variable_width_layout(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets int64 [n+1] starting at 0, data uint8) of a string or binary array.

    Value ``i`` is ``data[offsets[i]:offsets[i + 1]]``. Works on sliced
    arrays: the offsets are rebased and the data cut to the values' span.
    """
    large = pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type)
    offset_type = np.int64 if large else np.int32
    buffers = array.buffers()
    n_rows = len(array)
    if buffers[1] is None:  # only for an empty array
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    raw_offsets = np.frombuffer(buffers[1], dtype=offset_type)
    offsets = raw_offsets[array.offset : array.offset + n_rows + 1].astype(np.int64)
    start, end = int(offsets[0]), int(offsets[-1])
    data_buffer = buffers[2]
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)[start:end]
        if data_buffer is not None and end > start
        else np.zeros(0, dtype=np.uint8)
    )
    return offsets - start, data


def is_text_type(kind: pa.DataType) -> bool:
    """True for string, large_string and string_view."""
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or _type_check("is_string_view", kind)
    )


def is_binary_type(kind: pa.DataType) -> bool:
    """True for binary, large_binary, fixed_size_binary and binary_view."""
    return bool(
        pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_fixed_size_binary(kind)
        or _type_check("is_binary_view", kind)
    )


def as_binary_array(array: pa.Array, what: str = "column") -> pa.Array:
    """A binary or string column as ``binary`` / ``large_binary`` (text as its UTF-8 bytes)."""
    kind = array.type
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return array
    if pa.types.is_string(kind):
        return array.cast(pa.binary())
    if is_text_type(kind) or is_binary_type(kind):
        return array.cast(pa.large_binary())
    raise ValidationFailed(f"{what}: expected a binary or string column, got Arrow type {kind}")


def as_string_array(array: pa.Array, what: str = "column") -> pa.Array:
    """A text column as ``string`` / ``large_string``."""
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return array
    if is_text_type(kind):
        return array.cast(pa.large_string())
    raise ValidationFailed(f"{what}: expected a string column, got Arrow type {kind}")


def gather_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Indices ``starts[i] .. starts[i] + lengths[i] - 1`` of every range, concatenated, int64."""
    lengths = lengths.astype(np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    # Each element's index is its range's start plus its place in the range:
    # the place is the running count minus where the range began in the output.
    range_begins = np.cumsum(lengths) - lengths
    positions = np.arange(total, dtype=np.int64)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    return starts.astype(np.int64)[owner] + (positions - range_begins[owner])


def _type_check(name: str, kind: pa.DataType) -> bool:
    """``pa.types.<name>(kind)``, False on a pyarrow too old to have that type."""
    check = getattr(pa.types, name, None)
    return bool(check is not None and check(kind))
