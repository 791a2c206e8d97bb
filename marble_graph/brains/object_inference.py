"""Inference on raw objects (text, bytes, numbers, vectors): encoded as the brain's data was.

A brain trained on a stored dataset version keeps that version's encoding
(datasets/encoders): the same encoders turn a caller's objects into input
features, and the target's encoder turns outputs back into labels, numbers
or bytes where it can.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy import select

from marble_graph.dataset_versions.loading import table_encoding
from marble_graph.datasets.encoders import TableEncoding
from marble_graph.errors import ValidationFailed
from marble_graph.store.home_stores import Stores
from marble_graph.store.metadata import Brain, BrainVersion, VersionState
from marble_graph.store.metadata.dataset_records import dataset_version_by_id


def version_encoding(stores: Stores, name: str, version: int) -> TableEncoding:
    """The encoding of the data version ``version`` of ``name`` was trained on, found by
    walking its parents (a rollback's parent is the version it restored) to the
    nearest one trained on a stored dataset."""
    with stores.metadata.session() as session:
        rows = session.execute(
            select(
                BrainVersion.version, BrainVersion.parent_version, BrainVersion.dataset_version_id
            )
            .join(Brain, BrainVersion.brain_id == Brain.id)
            .where(Brain.name == name, BrainVersion.state == VersionState.COMMITTED)
        ).all()
    parents = {int(v): (p, d) for v, p, d in rows}
    number: int | None = version
    while number is not None and number in parents:
        parent, dataset_version_id = parents.pop(number)  # pop: a cycle cannot loop
        if dataset_version_id is not None:
            info = dataset_version_by_id(stores.metadata, dataset_version_id)
            encoding = table_encoding(stores, info)
            if encoding is not None:
                return encoding
            break
        number = parent
    raise ValidationFailed(
        f"brain {name!r} version {version} was not trained on a stored dataset with an "
        "encoding, so it takes feature vectors only (train it on a dataset version first)"
    )


def objects_table(encoding: TableEncoding, objects: object) -> pa.Table:
    """The caller's objects as input columns.

    Accepts a list of values (a brain with one input column), a list of
    mappings column -> value, or a mapping column -> list of values.
    """
    columns = [column for column, _ in encoding.inputs]
    if isinstance(objects, Mapping):
        data = {str(k): list(v) for k, v in objects.items()}
    elif isinstance(objects, Sequence) and not isinstance(objects, str | bytes):
        items = list(objects)
        if not items:
            raise ValidationFailed("objects: the list is empty")
        if all(isinstance(item, Mapping) for item in items):
            data = {c: [item.get(c) for item in items] for c in columns}
        elif len(columns) == 1:
            data = {columns[0]: items}
        else:
            raise ValidationFailed(
                f"objects: this brain reads {len(columns)} input columns "
                f"({', '.join(columns)}); pass a mapping per object"
            )
    else:
        raise ValidationFailed(
            f"objects: expected a list or a mapping of columns, got {type(objects).__name__}"
        )
    missing = [c for c in columns if c not in data]
    if missing:
        raise ValidationFailed(
            f"objects: missing input column(s) {', '.join(missing)} (inputs: {', '.join(columns)})"
        )
    return pa.table({c: _column(data[c], c) for c in columns})


def _column(values: list[Any], column: str) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValidationFailed(
            f"objects: column {column!r} has values of mixed kinds: {exc}"
        ) from exc
