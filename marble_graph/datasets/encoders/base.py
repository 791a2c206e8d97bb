"""The ``ColumnEncoder`` protocol and the registry of encoder kinds.

A column encoder turns one dataset column into a fixed-width float32 block
``[n, width]`` a brain can read, and records everything needed to rebuild
itself (``to_record``, JSON-ready), so a brain version can encode inference
input exactly as its training data was encoded. ``fit_encoder`` learns an
encoder of a named kind from data; ``encoder_from_record`` rebuilds one.

Each kind registers itself here (``register_encoder_kind``) from its own
module; the package's ``__init__`` imports every kind's module, so the
registry is complete whenever the package is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast, runtime_checkable

import numpy as np
import pyarrow as pa

from marble_graph.datasets.encoders.arrow_columns import (
    ColumnData,
    as_arrow_array,
    is_binary_type,
    is_text_type,
)
from marble_graph.datasets.encoders.records import record_kind
from marble_graph.datasets.encoders.vocabulary import VocabularyLookup
from marble_graph.errors import ValidationFailed

Role = Literal["input", "target"]


@runtime_checkable
class ColumnEncoder(Protocol):
    """Turns a column into float32 ``[n, width]`` and back (when ``lossless`` or affine)."""

    @property
    def kind(self) -> str:
        """The registered kind (``numeric``, ``vector``, ``text``, ``bytes``, ``label``)."""
        ...

    @property
    def width(self) -> int:
        """Floats per row of ``encode``'s output."""
        ...

    @property
    def lossless(self) -> bool:
        """True when ``decode(encode(column))`` gives back exactly the column's values."""
        ...

    def encode(self, column: ColumnData, what: str = "column") -> np.ndarray:
        """The column as finite float32 ``[n, width]``; ``what`` names it in error messages."""
        ...

    def decode(self, matrix: np.ndarray, what: str = "column") -> list[Any]:
        """Values from rows of encoded (or predicted) floats; ValidationFailed if impossible."""
        ...

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready record holding ``kind`` and everything ``encoder_from_record`` needs."""
        ...


@dataclass(frozen=True)
class EncoderContext:
    """What a kind's ``fit`` / ``from_record`` get besides the data or record."""

    what: str  # names the column in messages: "column 'price'"
    vocabularies: VocabularyLookup | None


@dataclass(frozen=True)
class EncoderKind:
    """One registered kind: its options, how to fit it and how to rebuild it."""

    name: str
    options: tuple[str, ...]
    fit: Callable[[pa.Array, dict[str, Any], EncoderContext], ColumnEncoder]
    from_record: Callable[[dict[str, Any], EncoderContext], ColumnEncoder]


_KINDS: dict[str, EncoderKind] = {}


def register_encoder_kind(kind: EncoderKind) -> None:
    """Make ``kind`` known to ``fit_encoder`` and ``encoder_from_record``."""
    _KINDS[kind.name] = kind


def encoder_kinds() -> list[str]:
    """The registered kinds, sorted."""
    return sorted(_KINDS)


def fit_encoder(
    kind: str,
    column: ColumnData,
    column_name: str | None = None,
    vocabularies: VocabularyLookup | None = None,
    **options: Any,
) -> ColumnEncoder:
    """An encoder of ``kind`` learnt from ``column`` (statistics, classes, lengths).

    ``options`` are the kind's own (``width``/``n`` for text, ``max_bytes``/
    ``compress``/``vocabulary`` for bytes); an unknown option or kind raises
    ``ValidationFailed`` listing the allowed ones. ``vocabularies`` resolves
    a vocabulary given by digest.
    """
    what = _what(column_name)
    registered = _lookup(kind, column_name)
    unknown = sorted(set(options) - set(registered.options))
    if unknown:
        allowed = ", ".join(registered.options) or "none"
        raise ValidationFailed(
            f"{what}: unknown option(s) {', '.join(unknown)} for the {kind} encoder "
            f"(options: {allowed})"
        )
    array = as_arrow_array(column, what)
    return registered.fit(array, options, EncoderContext(what, vocabularies))


def encoder_from_record(
    record: object,
    vocabularies: VocabularyLookup | None = None,
    column_name: str | None = None,
) -> ColumnEncoder:
    """Rebuild an encoder from ``to_record``'s output.

    A bytes encoder with a vocabulary records only the vocabulary's digest;
    ``vocabularies`` (digest -> Vocabulary) resolves it, and a digest it
    cannot resolve raises ``NotFound``. A malformed record raises
    ``ValidationFailed``.
    """
    kind = record_kind(record)  # also checks that the record is an object
    registered = _lookup(kind, column_name)
    context = EncoderContext(_what(column_name), vocabularies)
    return registered.from_record(cast(dict[str, Any], record), context)


def default_encoder_kind(
    arrow_type: pa.DataType, role: Role, column_name: str | None = None
) -> str:
    """The kind a column of ``arrow_type`` gets unless the caller chooses.

    Numbers -> numeric; lists of numbers -> vector; strings -> text as an
    input, label as a target; booleans and dictionary-encoded (categorical)
    columns -> label; binary -> bytes. An integer target stays numeric here:
    whether its few distinct values are classes is ``TableEncoding``'s call,
    made on the data.
    """
    kind = arrow_type
    if pa.types.is_dictionary(kind):
        return "label"
    if pa.types.is_boolean(kind):
        return "label" if role == "target" else "numeric"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return "numeric"
    if is_list_type(kind):
        return "vector"
    if is_text_type(kind):
        return "label" if role == "target" else "text"
    if is_binary_type(kind):
        return "bytes"
    raise ValidationFailed(
        f"{_what(column_name)}: no default encoder for Arrow type {kind}; "
        f"choose one of {', '.join(encoder_kinds())}"
    )


def is_list_type(kind: pa.DataType) -> bool:
    """True for list, large_list and fixed_size_list types."""
    return bool(
        pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)
    )


def _lookup(kind: str, column_name: str | None) -> EncoderKind:
    registered = _KINDS.get(kind)
    if registered is None:
        where = "" if column_name is None else f" for column {column_name!r}"
        raise ValidationFailed(
            f"unknown encoder {kind!r}{where}; known encoders: {', '.join(encoder_kinds())}"
        )
    return registered


def _what(column_name: str | None) -> str:
    return "column" if column_name is None else f"column {column_name!r}"
