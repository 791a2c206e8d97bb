"""Reading dataset versions: specs, rows, shards, and the Dataset a brain trains on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from marble_graph.dataset_versions.creation import ARRAYS_ENCODING
from marble_graph.dataset_versions.row_storage import get_rows
from marble_graph.dataset_versions.vocabularies import vocabulary_lookup
from marble_graph.datasets import BUILTIN_DATASETS, Dataset
from marble_graph.datasets.encoders import TableEncoding
from marble_graph.datasets.rowsets import hash_split, row_digests, shard_mask
from marble_graph.errors import StoreError, ValidationFailed
from marble_graph.store.home_stores import Stores
from marble_graph.store.metadata import dataset_records
from marble_graph.store.metadata.dataset_records import DatasetVersionInfo


@dataclass(frozen=True)
class DatasetRef:
    """A stored dataset and which of its versions: a number, a tag, or None for the latest."""

    name: str
    ref: str | None = None

    def __str__(self) -> str:
        return self.name if self.ref is None else f"{self.name}@{self.ref}"

    @classmethod
    def parse(cls, spec: str) -> DatasetRef:
        """``"name@ref"`` -> (name, ref); ``"name"`` or ``"name@"`` -> the latest."""
        name, _, ref = spec.partition("@")
        return cls(name, ref or None)


def parse_spec(stores: Stores, spec: str) -> DatasetRef | None:
    """The stored dataset ``spec`` names, or None when it names a built-in set or a file.

    ``name@ref`` always means a stored version; a bare name means the latest
    version of a stored dataset unless it is a built-in name or a path.
    """
    if "@" in spec:
        return DatasetRef.parse(spec)
    if spec in BUILTIN_DATASETS or Path(spec).suffix or "/" in spec:
        return None
    if dataset_records.find_dataset(stores.metadata, spec):
        return DatasetRef(spec)
    return None


def version_rows(stores: Stores, ref: DatasetRef) -> tuple[DatasetVersionInfo, pa.Table]:
    """The version ``ref`` names and its rows."""
    info = dataset_records.get_dataset_version(stores.metadata, ref.name, ref.ref)
    if info.rows_blob is None:
        raise StoreError(
            f"dataset version {info.spec} was registered before rows were stored; "
            "it can be trained on by its original name only"
        )
    return info, get_rows(stores.blobs, info.rows_blob)


def table_encoding(stores: Stores, info: DatasetVersionInfo) -> TableEncoding | None:
    """How the version's rows become tensors; None for versions registered from arrays."""
    if info.encoding is None or info.encoding.get("kind") == ARRAYS_ENCODING:
        return None
    return TableEncoding.from_record(info.encoding, vocabularies=vocabulary_lookup(stores.blobs))


def load_training_dataset(stores: Stores, ref: DatasetRef) -> tuple[Dataset, DatasetVersionInfo]:
    """The version's rows encoded as the Dataset a brain trains on.

    Each row keeps its digest (``Dataset.row_keys``), so the row-hash split
    puts a row in the same split in every version that contains it.
    """
    info, table = version_rows(stores, ref)
    encoding = table_encoding(stores, info)
    dataset = (
        _arrays_dataset(info, table) if encoding is None else encoding.encode(table, info.spec)
    )
    return dataset.with_row_keys(row_digests(table)), info


def select_rows(
    table: pa.Table,
    *,
    split: str | None = None,
    test_fraction: float = 0.25,
    num_shards: int = 1,
    shard_index: int = 0,
) -> pa.Table:
    """The rows of one row-hash split (``train``/``test``) and one shard, in stored order."""
    digests = row_digests(table)
    keep = shard_mask(digests, num_shards, shard_index)
    if split is not None:
        labels = hash_split(digests, test_fraction)
        wanted = {"train": 0, "test": 2}
        if split not in wanted:
            raise ValidationFailed(f"split must be 'train' or 'test', got {split!r}")
        keep &= labels == wanted[split]
    return table.filter(pa.array(keep))


def _arrays_dataset(info: DatasetVersionInfo, table: pa.Table) -> Dataset:
    """A version registered from ready arrays, read back (``Dataset.as_table``'s inverse)."""
    encoding = info.encoding or {}
    return Dataset.from_table(
        table,
        name=info.spec,
        task=encoding.get("task", "regression"),
        feature_names=list(encoding.get("feature_names", [])),
        target_names=list(encoding.get("target_names", [])),
        source=info.spec,
        prescaled=bool(encoding.get("prescaled", False)),
    )
