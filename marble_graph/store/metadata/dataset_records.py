"""Dataset versions in the metadata store: their records, numbers, tags and parents.

A dataset version's rows live in the blob store (one Parquet blob, or the
``.npz`` arrays of a version registered by a training run on a built-in or
file dataset); its record here says how many rows and columns it has, its
content hash (the rows as a multiset, datasets/rowsets.py), how its rows are
encoded into tensors, which version it was derived from, and its tags.
Versions never change once recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marble_graph.errors import Conflict, NotFound
from marble_graph.store.metadata.database import MetadataStore
from marble_graph.store.metadata.models import Dataset as DatasetRow
from marble_graph.store.metadata.models import DatasetTag, DatasetVersion
from marble_graph.store.metadata.tag_names import validate_tag


@dataclass(frozen=True)
class DatasetLink:
    """The dataset version a write-back trained on, for its record and lineage."""

    dataset_version_id: int
    content_hash: str
    dataset: str
    version: int
    n_rows: int


@dataclass(frozen=True)
class DatasetVersionInfo:
    """One recorded dataset version, as callers see it."""

    id: int
    dataset: str
    version: int
    content_hash: str
    n_rows: int
    n_features: int
    columns: list[dict[str, Any]]
    rows_blob: str | None
    blob_path: str
    encoding: dict[str, Any] | None
    parent: tuple[str, int] | None
    note: str | None
    created_at: datetime
    tags: list[str] = field(default_factory=list)

    @property
    def spec(self) -> str:
        """The spec that names this version: ``"<dataset>@<version>"``."""
        return f"{self.dataset}@{self.version}"

    @property
    def link(self) -> DatasetLink:
        return DatasetLink(self.id, self.content_hash, self.dataset, self.version, self.n_rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "version": self.version,
            "content_hash": self.content_hash,
            "n_rows": self.n_rows,
            "n_features": self.n_features,
            "columns": self.columns,
            "encoding": self.encoding,
            "parent": None if self.parent is None else f"{self.parent[0]}@{self.parent[1]}",
            "note": self.note,
            "tags": list(self.tags),
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class NewDatasetVersion:
    """What ``record_dataset_version`` records (the rows are already in blobs)."""

    content_hash: str
    n_rows: int
    n_features: int
    columns: list[dict[str, Any]]
    blob_path: str
    rows_blob: str | None = None
    encoding: dict[str, Any] | None = None
    parent_id: int | None = None
    note: str | None = None
    description: str | None = None


def record_dataset_version(
    metadata: MetadataStore, name: str, new: NewDatasetVersion, *, reuse_any: bool = False
) -> tuple[DatasetVersionInfo, bool]:
    """Record a version of dataset ``name``; return it and whether it is new.

    A version identical to the dataset's latest one (same rows, same
    encoding) is not recorded twice: uploading the same file again is a
    no-op. ``reuse_any`` extends that to every earlier version (training on
    a built-in dataset registers its content once, whatever came between).
    """
    with metadata.session() as session:
        row = session.scalars(select(DatasetRow).where(DatasetRow.name == name)).one_or_none()
        if row is None:
            row = DatasetRow(name=name[:128], description=new.description)
            session.add(row)
            session.flush()
        same = select(DatasetVersion).where(
            DatasetVersion.dataset_id == row.id, DatasetVersion.content_hash == new.content_hash
        )
        candidates = session.scalars(same.order_by(DatasetVersion.version.desc())).all()
        latest = _latest_number(session, row.id)
        for candidate in candidates:
            if candidate.encoding == new.encoding and (reuse_any or candidate.version == latest):
                return _info(session, candidate), False
        version = DatasetVersion(
            dataset_id=row.id,
            version=latest + 1,
            content_hash=new.content_hash,
            n_rows=new.n_rows,
            n_features=new.n_features,
            columns=new.columns,
            blob_path=new.blob_path,
            rows_blob=new.rows_blob,
            encoding=new.encoding,
            parent_id=new.parent_id,
            note=None if new.note is None else new.note[:512],
        )
        session.add(version)
        session.flush()
        return _info(session, version), True


def dataset_names(metadata: MetadataStore) -> list[str]:
    with metadata.session() as session:
        return list(session.scalars(select(DatasetRow.name).order_by(DatasetRow.name)))


def find_dataset(metadata: MetadataStore, name: str) -> bool:
    with metadata.session() as session:
        return _dataset_row(session, name) is not None


def list_datasets(metadata: MetadataStore) -> list[dict[str, Any]]:
    """Every dataset with its version count and latest version, by name."""
    with metadata.session() as session:
        rows = session.execute(
            select(
                DatasetRow.name,
                DatasetRow.description,
                DatasetRow.created_at,
                func.count(DatasetVersion.id),
                func.max(DatasetVersion.version),
            )
            .outerjoin(DatasetVersion, DatasetVersion.dataset_id == DatasetRow.id)
            .group_by(DatasetRow.id)
            .order_by(DatasetRow.name)
        ).all()
    return [
        {
            "name": name,
            "description": description,
            "created_at": created.isoformat(),
            "versions": int(count),
            "latest_version": None if latest is None else int(latest),
        }
        for name, description, created, count, latest in rows
    ]


def list_dataset_versions(metadata: MetadataStore, name: str) -> list[DatasetVersionInfo]:
    """The versions of dataset ``name``, oldest first."""
    with metadata.session() as session:
        row = _require_dataset(session, name)
        versions = session.scalars(
            select(DatasetVersion)
            .where(DatasetVersion.dataset_id == row.id)
            .order_by(DatasetVersion.version)
        ).all()
        return [_info(session, v) for v in versions]


def get_dataset_version(
    metadata: MetadataStore, name: str, ref: str | int | None
) -> DatasetVersionInfo:
    """Version ``ref`` of dataset ``name``: a number, a tag, or None for the latest."""
    with metadata.session() as session:
        return _info(session, _resolve(session, name, ref))


def dataset_version_by_id(metadata: MetadataStore, version_id: int) -> DatasetVersionInfo:
    with metadata.session() as session:
        version = session.get(DatasetVersion, version_id)
        if version is None:
            raise NotFound(f"dataset version #{version_id} does not exist")
        return _info(session, version)


def tag_dataset_version(
    metadata: MetadataStore, name: str, ref: str | int | None, tag: str
) -> DatasetVersionInfo:
    """Name version ``ref`` of ``name`` with ``tag``; a tag already in use is a Conflict."""
    validate_tag(tag)
    with metadata.session() as session:
        version = _resolve(session, name, ref)
        existing = session.scalars(
            select(DatasetTag).where(
                DatasetTag.dataset_id == version.dataset_id, DatasetTag.tag == tag
            )
        ).one_or_none()
        if existing is not None:
            holder = session.get(DatasetVersion, existing.version_id)
            number = holder.version if holder is not None else "?"
            raise Conflict(
                f"tag {tag!r} already names version {number} of dataset {name!r}: "
                "remove it first (marble dataset untag) or pick another tag"
            )
        session.add(DatasetTag(dataset_id=version.dataset_id, tag=tag, version_id=version.id))
        session.flush()
        return _info(session, version)


def untag_dataset(metadata: MetadataStore, name: str, tag: str) -> None:
    with metadata.session() as session:
        row = _require_dataset(session, name)
        existing = session.scalars(
            select(DatasetTag).where(DatasetTag.dataset_id == row.id, DatasetTag.tag == tag)
        ).one_or_none()
        if existing is None:
            raise NotFound(
                f"dataset {name!r} has no tag {tag!r} (tags: {_tag_list(session, row.id)})"
            )
        session.delete(existing)


# -- resolution -------------------------------------------------------------------


def _resolve(session: Session, name: str, ref: str | int | None) -> DatasetVersion:
    row = _require_dataset(session, name)
    query = select(DatasetVersion).where(DatasetVersion.dataset_id == row.id)
    if ref is None or ref == "" or ref == "latest":
        version = session.scalars(query.order_by(DatasetVersion.version.desc()).limit(1)).first()
    elif isinstance(ref, int) or str(ref).isdigit():
        version = session.scalars(query.where(DatasetVersion.version == int(ref))).one_or_none()
    else:
        tag = session.scalars(
            select(DatasetTag).where(DatasetTag.dataset_id == row.id, DatasetTag.tag == str(ref))
        ).one_or_none()
        version = None if tag is None else session.get(DatasetVersion, tag.version_id)
    if version is None:
        numbers = session.scalars(
            select(DatasetVersion.version)
            .where(DatasetVersion.dataset_id == row.id)
            .order_by(DatasetVersion.version)
        ).all()
        raise NotFound(
            f"dataset {name!r} has no version or tag {str(ref)!r} "
            f"(versions: {', '.join(map(str, numbers)) or 'none'}; "
            f"tags: {_tag_list(session, row.id)})"
        )
    return version


def _require_dataset(session: Session, name: str) -> DatasetRow:
    row = _dataset_row(session, name)
    if row is None:
        known = session.scalars(select(DatasetRow.name).order_by(DatasetRow.name).limit(20)).all()
        raise NotFound(f"unknown dataset {name!r} (datasets: {', '.join(known) or 'none yet'})")
    return row


def _dataset_row(session: Session, name: str) -> DatasetRow | None:
    return session.scalars(select(DatasetRow).where(DatasetRow.name == name)).one_or_none()


def _latest_number(session: Session, dataset_id: int) -> int:
    latest = session.scalar(
        select(func.max(DatasetVersion.version)).where(DatasetVersion.dataset_id == dataset_id)
    )
    return int(latest or 0)


def _tag_list(session: Session, dataset_id: int) -> str:
    tags = session.scalars(
        select(DatasetTag.tag).where(DatasetTag.dataset_id == dataset_id).order_by(DatasetTag.tag)
    ).all()
    return ", ".join(tags) or "none"


def _info(session: Session, version: DatasetVersion) -> DatasetVersionInfo:
    dataset = session.get(DatasetRow, version.dataset_id)
    assert dataset is not None
    parent = None
    if version.parent_id is not None:
        row = session.get(DatasetVersion, version.parent_id)
        if row is not None:
            parent_set = session.get(DatasetRow, row.dataset_id)
            assert parent_set is not None
            parent = (parent_set.name, row.version)
    tags = session.scalars(
        select(DatasetTag.tag).where(DatasetTag.version_id == version.id).order_by(DatasetTag.tag)
    ).all()
    return DatasetVersionInfo(
        id=version.id,
        dataset=dataset.name,
        version=version.version,
        content_hash=version.content_hash,
        n_rows=version.n_rows,
        n_features=version.n_features,
        columns=list(version.columns),
        rows_blob=version.rows_blob,
        blob_path=version.blob_path,
        encoding=version.encoding,
        parent=parent,
        note=version.note,
        created_at=version.created_at,
        tags=list(tags),
    )
