"""Changes between dataset versions: diff, apply a diff onto a version, revert one.

Each change makes a new version whose parent is the version it changed
(``DERIVED_FROM`` in the graph) and which keeps that version's encoding, so
a brain trained on the parent reads the child the same way.
"""

from __future__ import annotations

import pyarrow as pa

from marble_graph.dataset_versions.creation import record_table
from marble_graph.dataset_versions.loading import DatasetRef, table_encoding, version_rows
from marble_graph.datasets.rowsets import RowDiff, apply_diff, diff_rows
from marble_graph.errors import ValidationFailed
from marble_graph.store.home_stores import Stores
from marble_graph.store.metadata import dataset_records
from marble_graph.store.metadata.dataset_records import DatasetVersionInfo


def diff_versions(
    stores: Stores, name: str, a: str | None, b: str | None
) -> tuple[RowDiff, DatasetVersionInfo, DatasetVersionInfo]:
    """The rows added and removed (with multiplicity) going from version ``a`` to ``b``."""
    info_a, rows_a = version_rows(stores, DatasetRef(name, a))
    info_b, rows_b = version_rows(stores, DatasetRef(name, b))
    return diff_rows(rows_a, rows_b), info_a, info_b


def apply_changes(
    stores: Stores, name: str, diff: RowDiff, onto: str | None = None, note: str | None = None
) -> tuple[DatasetVersionInfo, bool]:
    """A new version: ``diff`` applied to version ``onto`` (default: the latest).

    A diff made against other rows is refused, naming both hashes.
    """
    parent, rows = version_rows(stores, DatasetRef(name, onto))
    changed = apply_diff(rows, diff)  # checks that its rows hash to diff.target_hash
    note = note or f"applied a diff onto {parent.spec}"
    return _record_child(stores, parent, changed, note, diff.target_hash)


def revert_version(
    stores: Stores, name: str, ref: str | None, note: str | None = None
) -> tuple[DatasetVersionInfo, bool]:
    """A new version that undoes version ``ref``'s change to its parent.

    Undoing the change leaves exactly the parent's rows, so those are recorded
    (as a child of ``ref``), with no diff to compute.
    """
    info = dataset_records.get_dataset_version(stores.metadata, name, ref)
    if info.parent is None:
        raise ValidationFailed(
            f"dataset version {info.spec} has no parent: there is no change to revert"
        )
    parent_name, parent_version = info.parent
    parent, parent_rows = version_rows(stores, DatasetRef(parent_name, str(parent_version)))
    note = note or f"reverted {info.spec}"
    return _record_child(stores, info, parent_rows, note, parent.content_hash)


def _record_child(
    stores: Stores, parent: DatasetVersionInfo, table: pa.Table, note: str, content_hash: str
) -> tuple[DatasetVersionInfo, bool]:
    encoding = table_encoding(stores, parent)
    if encoding is None:
        raise ValidationFailed(
            f"dataset version {parent.spec} was registered from ready arrays by a training "
            "run; create a dataset from its rows to change it"
        )
    return record_table(
        stores, parent.dataset, table, encoding, parent=parent, note=note, content_hash=content_hash
    )
