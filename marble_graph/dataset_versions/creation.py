"""Creating dataset versions: from rows, and registering what a run trained on.

A version is recorded once its rows are in the blob store: SQL gets the
record, the graph a ``DatasetVersion`` node (store/lineage.py). Nothing
about it changes afterwards; a change is a new version whose parent is
the one it changed.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from marble_graph.brain_names import BRAIN_NAME
from marble_graph.dataset_versions.row_storage import ROWS_SUFFIX, get_rows, put_rows
from marble_graph.dataset_versions.vocabularies import VOCABULARY_SUFFIX, vocabulary_lookup
from marble_graph.datasets import BUILTIN_DATASETS, Dataset
from marble_graph.datasets.encoders import TableEncoding, build_vocabulary
from marble_graph.datasets.rowsets import rows_hash
from marble_graph.errors import ValidationFailed
from marble_graph.store.home_stores import Stores
from marble_graph.store.lineage import DatasetVersionNode, record_dataset_version
from marble_graph.store.metadata import dataset_records
from marble_graph.store.metadata.dataset_records import (
    DatasetLink,
    DatasetVersionInfo,
    NewDatasetVersion,
)

# Dataset names follow the brain-name rule (brain_names.py).
DATASET_NAME = BRAIN_NAME
# The encoding of versions registered from ready arrays (built-in and file
# datasets): the input column is the feature vector, the target column the
# target, exactly as the Dataset held them.
ARRAYS_ENCODING = "arrays"


def validate_dataset_name(name: str) -> None:
    """Dataset names follow the brain-name rule and cannot shadow a built-in set."""
    if not DATASET_NAME.match(name):
        raise ValidationFailed(
            f"invalid dataset name {name!r}: use 1-128 letters, digits, '_', '-' or '.', "
            "starting with a letter"
        )
    if name in BUILTIN_DATASETS:
        raise ValidationFailed(
            f"dataset name {name!r} is a built-in dataset's; pick another name "
            f"(built-ins: {', '.join(BUILTIN_DATASETS)})"
        )


def create_version(
    stores: Stores,
    name: str,
    table: pa.Table,
    *,
    input_columns: list[str] | None = None,
    target_column: str | None = None,
    encoders: dict[str, dict[str, Any]] | None = None,
    parent: DatasetVersionInfo | None = None,
    note: str | None = None,
    description: str | None = None,
) -> tuple[DatasetVersionInfo, bool]:
    """Record ``table`` as the next version of ``name``; return it and whether it is new.

    The encoding (which columns are inputs, which is the target, and how each
    becomes numbers) is fitted here and stored with the version; every row
    is encoded once, so a table that cannot train a brain is refused now,
    with the column and row named, rather than at training time.
    """
    validate_dataset_name(name)
    if table.num_rows == 0:
        raise ValidationFailed(f"dataset {name!r}: the rows are empty")
    content_hash = rows_hash(table)
    table = _stored_order_if_unchanged(stores, name, table, content_hash)
    encoders = _store_built_vocabularies(stores, table, encoders or {})
    encoding = TableEncoding.fit(
        table,
        input_columns=input_columns,
        target_column=target_column,
        encoders=encoders,
        vocabularies=vocabulary_lookup(stores.blobs),
    )
    return record_table(
        stores,
        name,
        table,
        encoding,
        parent=parent,
        note=note,
        description=description,
        content_hash=content_hash,
    )


def record_table(
    stores: Stores,
    name: str,
    table: pa.Table,
    encoding: TableEncoding,
    *,
    parent: DatasetVersionInfo | None = None,
    note: str | None = None,
    description: str | None = None,
    content_hash: str | None = None,
) -> tuple[DatasetVersionInfo, bool]:
    """Record ``table`` with an encoding already chosen (a parent's, or a fitted one).

    ``content_hash`` is ``rows_hash(table)`` when the caller has it already.
    """
    dataset = encoding.encode(table, name)
    roles = {column: "input" for column, _ in encoding.inputs}
    roles[encoding.target[0]] = "target"
    columns = [
        {"name": f.name, "type": str(f.type), "role": roles.get(f.name, "unused")}
        for f in table.schema
    ]
    rows_blob = put_rows(stores.blobs, table)
    new = NewDatasetVersion(
        content_hash=content_hash or rows_hash(table),
        n_rows=table.num_rows,
        n_features=dataset.n_features,
        columns=columns,
        blob_path=str(stores.blobs.path(rows_blob, ROWS_SUFFIX)),
        rows_blob=rows_blob,
        encoding=encoding.to_record(),
        parent_id=None if parent is None else parent.id,
        note=note,
        description=description,
    )
    return _record(stores, name, new)


def register_dataset(stores: Stores, dataset: Dataset) -> DatasetLink:
    """The dataset version of a built-in or file dataset a run trains on (recorded once)."""
    table = dataset.as_table()
    rows_blob = put_rows(stores.blobs, table)
    new = NewDatasetVersion(
        content_hash=rows_hash(table),
        n_rows=dataset.n_rows,
        n_features=dataset.n_features,
        columns=[{"name": n, "role": "feature"} for n in dataset.feature_names]
        + [{"name": n, "role": "target"} for n in dataset.target_names],
        blob_path=str(stores.blobs.path(rows_blob, ROWS_SUFFIX)),
        rows_blob=rows_blob,
        encoding={
            "kind": ARRAYS_ENCODING,
            "task": dataset.task,
            "feature_names": dataset.feature_names,
            "target_names": dataset.target_names,
            "prescaled": dataset.prescaled,
        },
        description=dataset.source,
    )
    info, _ = _record(stores, dataset.name[:128], new, reuse_any=True)
    return info.link


def _record(
    stores: Stores, name: str, new: NewDatasetVersion, reuse_any: bool = False
) -> tuple[DatasetVersionInfo, bool]:
    with stores.write_lock:
        info, created = dataset_records.record_dataset_version(
            stores.metadata, name, new, reuse_any=reuse_any
        )
        stores.committed()
        # After the SQL commit, like every lineage write; reconcile adds it
        # should the process stop first.
        record_dataset_version(
            stores.graph,
            DatasetVersionNode(
                info.dataset, info.version, info.content_hash, info.n_rows, info.parent
            ),
        )
    return info, created


def _stored_order_if_unchanged(
    stores: Stores, name: str, table: pa.Table, content_hash: str
) -> pa.Table:
    """The latest version's stored rows when ``table`` holds the same rows in any order.

    Fitted encoders (means, deviations) depend on the order floats are summed
    in; fitting on the stored order makes re-creating the latest version's
    rows, however shuffled, give the very same version instead of a new one.
    """
    if not dataset_records.find_dataset(stores.metadata, name):
        return table
    latest = dataset_records.get_dataset_version(stores.metadata, name, None)
    if latest.rows_blob is None or latest.n_rows != table.num_rows:
        return table
    if content_hash != latest.content_hash:
        return table
    return get_rows(stores.blobs, latest.rows_blob)


def _store_built_vocabularies(
    stores: Stores, table: pa.Table, encoders: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Replace ``vocabulary: build`` by the digest of a vocabulary built from that column."""
    resolved = {}
    for column, options in encoders.items():
        options = dict(options)
        if options.get("vocabulary") == "build":
            if column not in table.column_names:
                raise ValidationFailed(
                    f"encoders: no column {column!r} to build a vocabulary from "
                    f"(columns: {', '.join(table.column_names)})"
                )
            size = int(options.pop("vocabulary_size", 256))
            vocabulary = build_vocabulary(table.column(column).combine_chunks(), size=size)
            options["vocabulary"] = stores.blobs.put_bytes(vocabulary.to_bytes(), VOCABULARY_SUFFIX)
        resolved[column] = options
    return resolved
