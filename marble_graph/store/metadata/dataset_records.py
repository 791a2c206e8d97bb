"""Dataset versions in the metadata store: which data each run trained on.

A dataset version is registered once per content hash; its arrays go to the
blob store (content-addressed), its record to SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from marble_graph.blobs import BlobStore
from marble_graph.datasets import Dataset
from marble_graph.store.metadata.database import MetadataStore
from marble_graph.store.metadata.models import Dataset as DatasetRow
from marble_graph.store.metadata.models import DatasetVersion


@dataclass(frozen=True)
class DatasetLink:
    """The dataset version a write-back trained on, for the graph's TRAINED_ON edge."""

    dataset_version_id: int
    content_hash: str
    dataset: str
    version: int
    n_rows: int


def register_dataset(metadata: MetadataStore, blobs: BlobStore, dataset: Dataset) -> DatasetLink:
    """The SQL dataset version for this content (created once; the data goes to blobs/)."""
    digest = dataset.content_hash()
    with metadata.session() as session:
        row = session.scalars(
            select(DatasetRow).where(DatasetRow.name == dataset.name)
        ).one_or_none()
        if row is None:
            row = DatasetRow(name=dataset.name[:128], description=dataset.source)
            session.add(row)
            session.flush()
        version = session.scalars(
            select(DatasetVersion).where(
                DatasetVersion.dataset_id == row.id, DatasetVersion.content_hash == digest
            )
        ).one_or_none()
        if version is None:
            blob = blobs.put_arrays({"features": dataset.features, "targets": dataset.targets})
            number = (
                session.scalar(
                    select(func.max(DatasetVersion.version)).where(
                        DatasetVersion.dataset_id == row.id
                    )
                )
                or 0
            ) + 1
            version = DatasetVersion(
                dataset_id=row.id,
                version=number,
                content_hash=digest,
                n_rows=dataset.n_rows,
                n_features=dataset.n_features,
                columns=[{"name": n, "role": "feature"} for n in dataset.feature_names]
                + [{"name": n, "role": "target"} for n in dataset.target_names],
                blob_path=str(blobs.path(blob, ".npz")),
            )
            session.add(version)
            session.flush()
        return DatasetLink(version.id, digest, dataset.name, version.version, dataset.n_rows)
