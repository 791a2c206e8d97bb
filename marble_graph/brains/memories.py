"""Hybrid memory: remember inputs and facts, recall by cosine, look up by key, forget.

A remembered input is stored with its embedding: the brain's state for it,
the final states of its output neurons after message passing (the states the
readout reads; ``ServingModel.embed``), computed by the brain's current
version with the signals inference uses. A fact is a key and a value with
no input. Both are ``Memory`` nodes in the graph (``store/memories.py``), per
brain: they survive new versions, rollbacks and restarts, and go when the
brain is deleted. docs/memory.md is the user's guide.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from marble_graph.brains import object_inference
from marble_graph.brains.serving import ModelCache, ServingModel
from marble_graph.errors import NotFound, ValidationFailed
from marble_graph.store.home_stores import Stores
from marble_graph.store.memories import MemoryRecord, NewMemories
from marble_graph.store.metadata.brain_records import get_brain

MAX_K = 1000
MAX_PAGE = 1000
MAX_KEY_LENGTH = 1024
# Rows one remember call may write (a bulk call is one graph copy).
MAX_REMEMBER_ROWS = 100_000

__all__ = [
    "MAX_K",
    "MAX_KEY_LENGTH",
    "MAX_PAGE",
    "MAX_REMEMBER_ROWS",
    "MemoryPage",
    "MemoryRecord",
    "embedding_width",
    "forget",
    "list_memories",
    "lookup",
    "recall",
    "remember",
]


@dataclass(frozen=True)
class MemoryPage:
    """A page of a brain's memories, newest first; pass ``next_before`` for the next page."""

    memories: list[MemoryRecord]
    total: int
    next_before: int | None


def remember(
    stores: Stores,
    models: ModelCache,
    name: str,
    *,
    inputs: Sequence[Sequence[float]] | np.ndarray | None = None,
    objects: object | None = None,
    key: str | None = None,
    keys: Sequence[str | None] | None = None,
    value: Any = None,
    values: Sequence[Any] | None = None,
) -> list[int]:
    """Remember inputs (feature rows), raw objects, or facts; return the new ids.

    With ``inputs`` or ``objects``, each row is embedded by the brain's current
    version and stored with the output neurons that carried it. Without
    either, one fact per key is stored (``key`` or ``keys`` is then required).
    ``key``/``value`` apply to every row; ``keys``/``values`` give one per row.
    """
    if inputs is not None and objects is not None:
        raise ValidationFailed("remember takes inputs or objects, not both")
    if key is not None and keys is not None:
        raise ValidationFailed("remember takes key or keys, not both")
    if value is not None and values is not None:
        raise ValidationFailed("remember takes value or values, not both")
    model = models.get(name)
    embeddings: np.ndarray | None = None
    carriers: np.ndarray | None = None
    if inputs is not None or objects is not None:
        features = (
            _checked_inputs(model, inputs, "inputs")
            if inputs is not None
            else _object_features(stores, model, objects)
        )
        _check_rows(features.shape[0])
        carrier_count = model.loaded.config.memories.carrier_neurons
        embeddings, carriers = model.embed(features, carrier_count)
        rows = features.shape[0]
    else:
        if key is None and keys is None:
            raise ValidationFailed(
                "remember: give inputs or objects to remember, or a key (or keys) for a fact"
            )
        rows = 1 if keys is None else len(keys)
        _check_rows(rows)
    row_keys = _row_keys(key, keys, rows)
    row_values = _row_values(value, values, rows)
    new = NewMemories(row_keys, row_values, embeddings, carriers)
    with stores.write_lock:
        get_brain(stores.metadata, name)  # deleted meanwhile: UnknownBrain
        # The version that computed the embeddings (a newer one may have committed since).
        return stores.memories.insert(name, model.version, new)


def recall(
    stores: Stores,
    models: ModelCache,
    name: str,
    *,
    features: Sequence[float] | np.ndarray | None = None,
    obj: object | None = None,
    embedding: Sequence[float] | np.ndarray | None = None,
    k: int = 10,
    exact: bool = False,
) -> list[MemoryRecord]:
    """The ``k`` memories nearest the query by cosine similarity, nearest first.

    The query is one input (``features``), one raw object (``obj``) embedded
    by the current version, or an ``embedding`` itself. ``exact`` scans every
    memory in the graph engine instead of the in-process index (the same
    answer up to ties; the baseline of bench/memory_recall.py). A brain
    without memories recalls nothing (an empty list).
    """
    given = [q for q in (features, obj, embedding) if q is not None]
    if len(given) != 1:
        raise ValidationFailed(
            f"recall takes exactly one query: features, an object or an embedding "
            f"(got {len(given)})"
        )
    check_k(k)
    model = models.get(name)
    if embedding is not None:
        query = _checked_embedding(model, embedding)
    else:
        rows = (
            _checked_inputs(model, [features], "features")
            if features is not None
            else _object_features(stores, model, [obj])
        )
        query = model.embed(rows, 0)[0][0]
    if exact:
        return stores.memories.exact_recall(name, query, k)
    # The brain's creation time tells a new brain of a deleted one's name apart.
    return stores.memories.recall(name, model.loaded.info.created_at, query, k, model.device)


def lookup(stores: Stores, name: str, key: str) -> list[MemoryRecord]:
    """The memories and facts with ``key``, newest first; NotFound when there is none."""
    get_brain(stores.metadata, name)
    _check_key(key, "key")
    found = stores.memories.lookup(name, key)
    if not found:
        raise NotFound(f"brain {name!r} has no memory with key {key!r}")
    return found


def forget(
    stores: Stores, name: str, *, older_than: datetime | None = None, keep_last: int | None = None
) -> int:
    """Remove memories created before ``older_than``, or all but the newest ``keep_last``;
    return how many were removed."""
    if (older_than is None) == (keep_last is None):
        raise ValidationFailed("forget takes exactly one of older_than and keep_last")
    if keep_last is not None and (isinstance(keep_last, bool) or keep_last < 0):
        raise ValidationFailed(f"keep_last must be 0 or more, got {keep_last}")
    with stores.write_lock:
        get_brain(stores.metadata, name)
        return stores.memories.forget(name, older_than=older_than, keep_last=keep_last)


def list_memories(
    stores: Stores, name: str, limit: int = 50, before: int | None = None
) -> MemoryPage:
    """A page of the brain's memories (facts too), newest first, below id ``before``."""
    get_brain(stores.metadata, name)
    if isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
    page = stores.memories.page(name, limit, before)
    more = len(page) == limit and page[-1].id > 0
    return MemoryPage(page, stores.memories.count(name), page[-1].id if more else None)


def embedding_width(models: ModelCache, name: str) -> int:
    """Values in one embedding of brain ``name``: outputs x representation_size."""
    return models.get(name).embedding_width


def check_k(k: int) -> None:
    """Raise ValidationFailed unless ``k`` is a whole number in 1..MAX_K."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise ValidationFailed(f"k must be a whole number between 1 and {MAX_K}, got {k!r}")


# -- checks and conversions -------------------------------------------------------------


def _checked_inputs(model: ServingModel, rows: Any, what: str) -> np.ndarray:
    """Feature rows [B, I] float32, with a width error that names the brain."""
    if isinstance(rows, list) and rows and all(isinstance(row, list) for row in rows):
        widths = {len(row) for row in rows}
        if len(widths) > 1:
            raise ValidationFailed(
                f"{what}: every row must be as wide as the brain's inputs "
                f"({model.input_width}); rows have {sorted(widths)} values"
            )
    try:
        values = np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"{what}: not a rectangular array of numbers: {exc}") from exc
    if values.ndim == 1:
        values = values[None, :]
    if values.ndim != 2 or values.shape[0] == 0:
        raise ValidationFailed(f"{what}: expected rows of numbers, got shape {values.shape}")
    if values.shape[1] != model.input_width:
        raise ValidationFailed(
            f"{what} width mismatch: {values.shape[1]} values per row; brain {model.name!r} "
            f"reads {model.input_width} inputs"
        )
    return values


def _object_features(stores: Stores, model: ServingModel, objects: object) -> np.ndarray:
    """Raw objects encoded as the data of the version serving ``model`` was."""
    encoding = object_inference.version_encoding(stores, model.name, model.version)
    table = object_inference.objects_table(encoding, objects)
    return np.asarray(encoding.encode_inputs(table), dtype=np.float32)


def _checked_embedding(model: ServingModel, embedding: Sequence[float] | np.ndarray) -> np.ndarray:
    try:
        query = np.asarray(embedding, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"embedding: not a list of numbers: {exc}") from exc
    width = model.embedding_width
    got = query.shape[0] if query.ndim == 1 else query.size
    if query.ndim != 1 or got != width:
        outputs = model.output_width
        size = width // max(outputs, 1)
        raise ValidationFailed(
            f"embedding has {got} values; brain {model.name!r} embeds to {width} "
            f"(outputs x representation_size: {outputs} x {size})"
        )
    bad = np.flatnonzero(~np.isfinite(query))
    if bad.size:
        raise ValidationFailed(f"embedding value {int(bad[0])} is {query[bad[0]]}, not finite")
    return query


def _check_rows(rows: int) -> None:
    if rows > MAX_REMEMBER_ROWS:
        raise ValidationFailed(
            f"remember: {rows} rows in one call; at most {MAX_REMEMBER_ROWS} (split the call)"
        )


def _check_key(key: object, what: str) -> None:
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
        shown = repr(key) if not isinstance(key, str) else f"{len(key)} characters"
        raise ValidationFailed(
            f"{what} must be a string of 1 to {MAX_KEY_LENGTH} characters, got {shown}"
        )


def _row_keys(key: str | None, keys: Sequence[str | None] | None, rows: int) -> list[str | None]:
    if keys is None:
        if key is not None:
            _check_key(key, "key")
        return [key] * rows
    if isinstance(keys, str) or len(keys) != rows:
        got = "a string" if isinstance(keys, str) else f"{len(keys)}"
        raise ValidationFailed(f"keys: expected one per row ({rows}), got {got}")
    for index, each in enumerate(keys):
        if each is not None:
            _check_key(each, f"keys[{index}]")
    return list(keys)


def _row_values(value: Any, values: Sequence[Any] | None, rows: int) -> list[str]:
    if values is None:
        return [_json_text(value, "value")] * rows
    if isinstance(values, str | bytes) or len(values) != rows:
        got = "a string" if isinstance(values, str | bytes) else f"{len(values)}"
        raise ValidationFailed(f"values: expected one per row ({rows}), got {got}")
    return [_json_text(each, f"values[{index}]") for index, each in enumerate(values)]


def _json_text(value: Any, what: str) -> str:
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationFailed(f"{what} is {value}, which JSON cannot hold") from exc
        raise ValidationFailed(f"{what} is not JSON-serialisable: {exc}") from exc
