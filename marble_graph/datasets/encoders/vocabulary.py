"""A shared vocabulary of frequent byte n-grams, as in the original MARBLE.

A ``Vocabulary`` lists byte strings (2 to 8 bytes) that recur in a corpus.
Tokenising a value replaces, greedily from the left, the longest entry that
starts at each point by one token: ids 0..255 stand for single bytes and
``256 + i`` for ``entries[i]``. Repetitive data then needs fewer tokens than
it has bytes, and the bytes encoder spends fewer bits on it
(``token_bits`` per token). ``build_vocabulary`` picks the entries that
save the most: ``count * (length - 1)`` tokens over the corpus.

Several datasets can share one vocabulary; a record refers to it by
``digest`` (SHA-256 of ``to_bytes()``), and a ``VocabularyLookup``
(digest -> Vocabulary) finds it again.

Binary format (``to_bytes``), big-endian, no pickle::

    b"MRBLVOC"        7-byte magic
    version           1 byte, 1
    count             uint32, the number of entries
    count times:      length (1 byte, 2..8), then that many bytes

Tokenising many values works on the Arrow layout at once. Every position
gets a uint64 key of the 8 bytes from there on (entries have at most 8
bytes, so an ``n``-byte gram's key is that key shifted right); a table of
entries' first two bytes picks the positions worth a binary search per
entry length, and the longest hit wins. The greedy walk, a chain of jumps
``p -> p + match length``, is followed for all values together by pointer
doubling, so the number of numpy passes grows with the log of the longest
value's token count rather than with the data.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa

from marble_graph.datasets.encoders.arrow_columns import (
    as_arrow_array,
    as_binary_array,
    gather_ranges,
    reject_nulls,
    variable_width_layout,
)
from marble_graph.datasets.encoders.records import check_int_range
from marble_graph.errors import NotFound, ValidationFailed

MIN_ENTRY_BYTES = 2
# Entries up to 8 bytes keep every n-gram a single uint64 key.
MAX_ENTRY_BYTES = 8
# Token ids stay below 2**16.
MAX_ENTRIES = (1 << 16) - 256
BYTE_TOKENS = 256

_MAGIC = b"MRBLVOC"
_FORMAT_VERSION = 1

# Finds a vocabulary by digest; None (or KeyError) when it does not know it.
VocabularyLookup = Callable[[str], "Vocabulary | None"]


@dataclass(frozen=True)
class Vocabulary:
    """Byte strings that tokenise to one token each (ids ``256 + index``)."""

    entries: list[bytes]

    def __post_init__(self) -> None:
        entries = list(self.entries)
        if len(entries) > MAX_ENTRIES:
            raise ValidationFailed(
                f"vocabulary: {len(entries)} entries, at most {MAX_ENTRIES} are allowed"
            )
        for index, entry in enumerate(entries):
            if not isinstance(entry, bytes):
                raise ValidationFailed(
                    f"vocabulary entry {index} must be bytes, got {type(entry).__name__}"
                )
            check_int_range(
                f"vocabulary entry {index} length", len(entry), MIN_ENTRY_BYTES, MAX_ENTRY_BYTES
            )
        if len(set(entries)) != len(entries):
            first_index: dict[bytes, int] = {}
            for index, entry in enumerate(entries):
                if entry in first_index:
                    raise ValidationFailed(
                        f"vocabulary entries {first_index[entry]} and {index} are both "
                        f"{entry.hex()}; each entry must be unique"
                    )
                first_index[entry] = index
        object.__setattr__(self, "entries", entries)

    def __hash__(self) -> int:
        return hash(self.digest)

    @property
    def token_bits(self) -> int:
        """Bits one token takes: ``ceil(log2(256 + len(entries)))``."""
        return math.ceil(math.log2(BYTE_TOKENS + len(self.entries)))

    @cached_property
    def digest(self) -> str:
        """SHA-256 hex digest of ``to_bytes()``: the name records refer to it by."""
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def to_bytes(self) -> bytes:
        """The documented binary form (see the module docstring)."""
        parts = [_MAGIC, bytes([_FORMAT_VERSION]), struct.pack(">I", len(self.entries))]
        for entry in self.entries:
            parts.append(bytes([len(entry)]))
            parts.append(entry)
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> Vocabulary:
        """Read ``to_bytes()``'s form; anything else raises ``ValidationFailed``."""
        header = len(_MAGIC) + 1 + 4
        if len(data) < header or data[: len(_MAGIC)] != _MAGIC:
            raise ValidationFailed("vocabulary data does not start with the MRBLVOC header")
        version = data[len(_MAGIC)]
        if version != _FORMAT_VERSION:
            raise ValidationFailed(
                f"vocabulary format version {version} is not supported (expected {_FORMAT_VERSION})"
            )
        (count,) = struct.unpack(">I", data[len(_MAGIC) + 1 : header])
        entries: list[bytes] = []
        at = header
        for index in range(count):
            if at >= len(data):
                raise ValidationFailed(
                    f"vocabulary data ends after {index} of {count} entries (byte {at})"
                )
            length = data[at]
            entry = data[at + 1 : at + 1 + length]
            if len(entry) != length:
                raise ValidationFailed(
                    f"vocabulary entry {index} claims {length} bytes, only {len(entry)} remain"
                )
            entries.append(entry)
            at += 1 + length
        if at != len(data):
            raise ValidationFailed(
                f"vocabulary data has {len(data) - at} bytes after its {count} entries"
            )
        return cls(entries)

    def tokenize(self, data: bytes) -> np.ndarray:
        """Token ids (int64) of ``data``: greedy longest match from the left."""
        offsets = np.array([0, len(data)], dtype=np.int64)
        _, tokens = self.tokenize_layout(offsets, np.frombuffer(data, dtype=np.uint8))
        return tokens

    def detokenize(self, tokens: np.ndarray | Iterable[int]) -> bytes:
        """The bytes ``tokens`` stand for; an id outside the vocabulary raises ValidationFailed."""
        ids = np.asarray(list(tokens) if not isinstance(tokens, np.ndarray) else tokens)
        _, data = self.detokenize_layout(np.array([0, ids.size], dtype=np.int64), ids.ravel())
        return data.tobytes()

    def tokenize_layout(
        self, offsets: np.ndarray, data: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Tokenise every value of a variable-width layout at once.

        ``offsets`` (int64 ``[n + 1]`` from 0) and ``data`` (uint8) are as
        ``variable_width_layout`` gives them; returns ``(token_offsets,
        tokens)`` in the same layout: value ``i``'s tokens are
        ``tokens[token_offsets[i]:token_offsets[i + 1]]``.
        """
        n_rows = len(offsets) - 1
        n_bytes = len(data)
        lengths = np.diff(offsets)
        end_of_byte = np.repeat(offsets[1:], lengths)
        # Longest entry starting at each position; a lone byte is its own token.
        match_length = np.ones(n_bytes, dtype=np.int64)
        token = data.astype(np.int64)
        window = window_keys(data)
        first_two = (window >> np.uint64(48)).astype(np.int64)
        # Only positions whose first two bytes begin some entry are searched,
        # longest entries first, and a position leaves the search once matched.
        pending = np.flatnonzero(self._entry_starts[first_two])
        for length, (sorted_keys, ids, starts) in reversed(self._tables_by_length.items()):
            fits = starts[first_two[pending]] & (end_of_byte[pending] - pending >= length)
            here = pending[fits]
            keys = window[here] >> np.uint64(8 * (MAX_ENTRY_BYTES - length))
            slot = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
            hit = sorted_keys[slot] == keys
            match_length[here[hit]] = length
            token[here[hit]] = ids[slot[hit]]
            fits[fits] = hit  # now: matched at this length
            pending = pending[~fits]
        visited = _greedy_walk(offsets, lengths, match_length, end_of_byte)
        tokens = token[visited]
        row_of_byte = np.repeat(np.arange(n_rows, dtype=np.int64), lengths)
        counts = np.bincount(row_of_byte[visited], minlength=n_rows)
        token_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return token_offsets, tokens

    def detokenize_layout(
        self, token_offsets: np.ndarray, tokens: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The inverse of ``tokenize_layout``: ``(offsets, data)`` of the values' bytes."""
        ids = np.asarray(tokens, dtype=np.int64)
        vocabulary_size = BYTE_TOKENS + len(self.entries)
        bad = (ids < 0) | (ids >= vocabulary_size)
        if bad.any():
            at = int(np.flatnonzero(bad)[0])
            raise ValidationFailed(
                f"token {int(ids[at])} at position {at} is outside the vocabulary "
                f"(ids 0..{vocabulary_size - 1})"
            )
        piece_offsets, piece_data = self._pieces
        piece_lengths = np.diff(piece_offsets)
        token_lengths = piece_lengths[ids]
        data = piece_data[gather_ranges(piece_offsets[:-1][ids], token_lengths)]
        ends = np.concatenate([[0], np.cumsum(token_lengths)]).astype(np.int64)
        return ends[np.asarray(token_offsets, dtype=np.int64)], data

    @cached_property
    def _tables_by_length(self) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Entry length, ascending -> (sorted uint64 keys, their token ids, first-two-bytes mask).

        The mask (65536 booleans) tells which two leading bytes begin an
        entry of that length.
        """
        tables: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for length in sorted({len(e) for e in self.entries}):
            indices = [i for i, e in enumerate(self.entries) if len(e) == length]
            keys = np.array(
                [int.from_bytes(self.entries[i], "big") for i in indices], dtype=np.uint64
            )
            order = np.argsort(keys)
            ids = np.array(indices, dtype=np.int64)[order] + BYTE_TOKENS
            starts = np.zeros(1 << 16, dtype=bool)
            starts[[int.from_bytes(self.entries[i][:2], "big") for i in indices]] = True
            tables[length] = (keys[order], ids, starts)
        return tables

    @cached_property
    def _entry_starts(self) -> np.ndarray:
        """65536 booleans: which two leading bytes begin any entry."""
        starts = np.zeros(1 << 16, dtype=bool)
        for _, _, starts_of_length in self._tables_by_length.values():
            starts |= starts_of_length
        return starts

    @cached_property
    def _pieces(self) -> tuple[np.ndarray, np.ndarray]:
        """(offsets, data) of the bytes of every token id, single bytes first."""
        pieces = [bytes([b]) for b in range(BYTE_TOKENS)] + self.entries
        lengths = np.array([len(p) for p in pieces], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return offsets, np.frombuffer(b"".join(pieces), dtype=np.uint8)


def build_vocabulary(
    values: Iterable[bytes] | pa.Array | pa.ChunkedArray,
    size: int = 256,
    min_len: int = 2,
    max_len: int = 8,
) -> Vocabulary:
    """The ``size`` byte n-grams (``min_len <= n <= max_len``) that save the most tokens.

    A gram's saving is ``count * (n - 1)``: each occurrence turns ``n``
    byte tokens into one. Occurrences are counted wherever they start, so
    overlapping ones all count (an estimate: a greedy tokenisation uses at
    most the non-overlapping ones). Grams seen only once save nothing worth
    a vocabulary slot and are never picked. Ties go to the longer gram,
    then to the smaller bytes, so the result does not depend on hashing.
    """
    check_int_range("vocabulary size", size, 0, MAX_ENTRIES)
    check_int_range("vocabulary min_len", min_len, MIN_ENTRY_BYTES, MAX_ENTRY_BYTES)
    check_int_range("vocabulary max_len", max_len, min_len, MAX_ENTRY_BYTES)
    if isinstance(values, pa.Array | pa.ChunkedArray):
        array = as_binary_array(as_arrow_array(values, "vocabulary corpus"), "vocabulary corpus")
    else:
        array = pa.array(list(values), type=pa.large_binary())
    reject_nulls(array, "vocabulary corpus")
    offsets, data = variable_width_layout(array)
    room = np.repeat(offsets[1:], np.diff(offsets)) - np.arange(len(data))  # bytes left
    window = window_keys(data)
    candidate_keys, candidate_lengths, candidate_savings = [], [], []
    for length in range(min_len, max_len + 1):
        gram_keys = window[room >= length] >> np.uint64(8 * (MAX_ENTRY_BYTES - length))
        grams, counts = np.unique(gram_keys, return_counts=True)
        repeated = counts >= 2
        candidate_keys.append(grams[repeated])
        candidate_lengths.append(np.full(int(repeated.sum()), length, dtype=np.int64))
        candidate_savings.append(counts[repeated].astype(np.int64) * (length - 1))
    keys = np.concatenate(candidate_keys)
    lengths = np.concatenate(candidate_lengths)
    savings = np.concatenate(candidate_savings)
    # lexsort sorts by the last key first: savings, then length (both
    # descending), then the gram's bytes (a longer gram's key is larger).
    chosen = np.lexsort((keys, -lengths, -savings))[:size]
    entries = [
        int(k).to_bytes(int(n), "big") for k, n in zip(keys[chosen], lengths[chosen], strict=True)
    ]
    return Vocabulary(entries)


def window_keys(data: np.ndarray) -> np.ndarray:
    """uint64 per position: the 8 bytes from there on, big-endian, zero past the end.

    The key of an ``n``-byte gram at a position is its window key shifted
    right by ``8 * (8 - n)``. Built as eight strided copies: the windows at
    positions ``o, o + 8, o + 16, ...`` are consecutive 8-byte words of the
    data shifted by ``o``.
    """
    n_bytes = len(data)
    padded = np.zeros(n_bytes + MAX_ENTRY_BYTES, dtype=np.uint8)
    padded[:n_bytes] = data
    keys = np.empty(n_bytes, dtype=np.uint64)
    for shift in range(MAX_ENTRY_BYTES):
        count = (n_bytes - shift + MAX_ENTRY_BYTES - 1) // MAX_ENTRY_BYTES
        words = padded[shift : shift + MAX_ENTRY_BYTES * count]
        keys[shift::MAX_ENTRY_BYTES] = words.view(">u8")
    return keys


def resolve_vocabulary(
    digest: str, vocabularies: VocabularyLookup | None, what: str = "column"
) -> Vocabulary:
    """The vocabulary with ``digest``; ``NotFound`` naming the digest when none is known."""
    found: Vocabulary | None = None
    if vocabularies is not None:
        try:
            found = vocabularies(digest)
        except KeyError:
            found = None
    if found is None:
        hint = "" if vocabularies is not None else " (no vocabularies were given to look it up)"
        raise NotFound(f"{what}: vocabulary {digest} not found{hint}")
    if not isinstance(found, Vocabulary) or found.digest != digest:
        got = found.digest if isinstance(found, Vocabulary) else type(found).__name__
        raise ValidationFailed(f"{what}: looking up vocabulary {digest} returned {got}")
    return found


def _greedy_walk(
    offsets: np.ndarray, lengths: np.ndarray, match_length: np.ndarray, end_of_byte: np.ndarray
) -> np.ndarray:
    """Sorted positions where the greedy tokenisation starts a token, over all values.

    Each value's tokens start at its first byte and jump by the match
    length. ``jump`` maps a position to the next token's start (or to a
    sink past the data at the value's end); after round ``k`` the set holds
    every start reachable in fewer than ``2**k`` jumps, and ``jump`` is
    squared, so ``log2(tokens)`` rounds find them all.
    """
    n_bytes = len(match_length)
    sink = n_bytes
    following = np.arange(n_bytes, dtype=np.int64) + match_length
    jump = np.append(np.where(following < end_of_byte, following, sink), sink)
    known = offsets[:-1][lengths > 0].astype(np.int64)  # jump count 0: each value's start
    while True:
        # ``known`` holds the starts at jump counts 0 .. 2**k - 1 and ``jump``
        # goes 2**k tokens ahead, so this reaches counts 2**k .. 2**(k+1) - 1.
        reached = jump[known]
        reached = reached[reached != sink]
        if reached.size == 0:
            return np.sort(known)
        known = np.concatenate([known, reached])
        jump = jump[jump]
