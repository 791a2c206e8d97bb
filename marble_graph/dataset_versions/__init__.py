"""Dataset versions as operations: create, read, diff, apply, revert, tag, train on.

Operations receive the stores (never the service). Rows are Arrow tables;
``datasets.rowsets`` gives their multiset hash and diffs, ``datasets.encoders``
turns them into the tensors a brain reads, ``datasets.ingest`` reads them
from files and Python objects. Specs name a version: ``"name"`` (the latest),
``"name@3"`` or ``"name@tag"``.
"""

from marble_graph.dataset_versions.changes import apply_changes, diff_versions, revert_version
from marble_graph.dataset_versions.creation import create_version, register_dataset
from marble_graph.dataset_versions.loading import (
    DatasetRef,
    load_training_dataset,
    parse_spec,
    version_rows,
)
from marble_graph.dataset_versions.row_storage import get_rows, put_rows

__all__ = [
    "DatasetRef",
    "apply_changes",
    "create_version",
    "diff_versions",
    "get_rows",
    "load_training_dataset",
    "parse_spec",
    "put_rows",
    "register_dataset",
    "revert_version",
    "version_rows",
]
