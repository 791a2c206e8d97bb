"""The SQL side of brain history: version tags, retained and collected versions.

A brain's committed versions are numbered 1, 2, ...; a tag (``best``,
``before-pruning``) names one of them, unique per brain. Retention
(``versions.keep``) removes the snapshots of old versions from the blob store
and records when on the version (``collected_at``); the version's row stays,
so its record is still listed. Tagged versions and the current version are
never collected.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from marble_graph.errors import Conflict, NotFound
from marble_graph.store.metadata.brain_records import committed_brain_row, version_record
from marble_graph.store.metadata.database import MetadataStore
from marble_graph.store.metadata.models import (
    BrainVersion,
    BrainVersionTag,
    VersionState,
)
from marble_graph.store.metadata.tag_names import validate_tag

VersionRef = int | str
# Tags an error message lists (a brain may have many).
TAGS_LISTED = 30


@dataclass(frozen=True)
class StoredVersion:
    """One committed version's record: what serving, diffing and rollback read."""

    id: int
    version: int
    graph_hash: str
    config_hash: str
    neuron_count: int
    synapse_count: int
    params_blob: str | None
    snapshot_blob: str | None
    experience_blob: str | None  # experience buffers (dream replay); None: none recorded
    metrics: dict[str, Any] = field(repr=False)
    note: str | None
    created_at: datetime
    committed_at: datetime | None
    collected_at: datetime | None

    @property
    def collected(self) -> bool:
        return self.collected_at is not None


@dataclass(frozen=True)
class VersionRefs:
    """What a brain's version references can name: its committed versions and its tags."""

    current: int
    versions: list[int]  # committed, oldest first
    tags: dict[str, int]  # tag -> version
    collected: set[int]

    @property
    def retained(self) -> list[int]:
        """Committed versions whose snapshots are kept, oldest first."""
        return [v for v in self.versions if v not in self.collected]

    def describe(self) -> str:
        """The versions and tags that exist, for error messages."""
        versions = _ranges(self.versions) or "none"
        named = sorted(self.tags.items())
        tags = ", ".join(f"{t}={v}" for t, v in named[:TAGS_LISTED]) or "none"
        if len(named) > TAGS_LISTED:
            tags += f" and {len(named) - TAGS_LISTED} more"
        return f"versions: {versions}; tags: {tags}"


def version_refs(metadata: MetadataStore, name: str) -> VersionRefs:
    """The brain's committed versions, tags and collected versions (UnknownBrain if none)."""
    with metadata.session() as session:
        brain = committed_brain_row(metadata, session, name)
        rows = session.execute(
            select(BrainVersion.version, BrainVersion.collected_at)
            .where(
                BrainVersion.brain_id == brain.id,
                BrainVersion.state == VersionState.COMMITTED,
            )
            .order_by(BrainVersion.version)
        ).all()
        tags = session.execute(
            select(BrainVersionTag.tag, BrainVersionTag.version).where(
                BrainVersionTag.brain_id == brain.id
            )
        ).all()
        return VersionRefs(
            current=brain.current_version,
            versions=[int(v) for v, _ in rows],
            tags={str(t): int(v) for t, v in tags},
            collected={int(v) for v, collected in rows if collected is not None},
        )


def stored_version(metadata: MetadataStore, name: str, version: int) -> StoredVersion:
    """The committed version ``version`` of ``name``; NotFound naming what exists otherwise."""
    with metadata.session() as session:
        brain = committed_brain_row(metadata, session, name)
        row = _committed_row(session, brain.id, version)
        if row is not None:
            return _stored(row)
    refs = version_refs(metadata, name)
    raise NotFound(f"brain {name!r} has no version {version} ({refs.describe()})")


def list_version_history(metadata: MetadataStore, name: str) -> list[dict[str, Any]]:
    """The brain's committed versions, oldest first, each with its tags and collected flag."""
    with metadata.session() as session:
        brain = committed_brain_row(metadata, session, name)
        rows = session.scalars(
            select(BrainVersion)
            .where(
                BrainVersion.brain_id == brain.id,
                BrainVersion.state == VersionState.COMMITTED,
            )
            .order_by(BrainVersion.version)
        ).all()
        tags = _tags_by_version(session, brain.id)
        current = brain.current_version
        return [history_record(row, tags.get(row.version, []), current) for row in rows]


def history_record(row: BrainVersion, tags: list[str], current: int) -> dict[str, Any]:
    """A committed version as a plain record with its tags, current and collected flags."""
    return {
        **version_record(row),
        "tags": sorted(tags),
        "current": row.version == current,
        "collected": row.collected_at is not None,
        "collected_at": row.collected_at,
    }


def version_history_record(metadata: MetadataStore, name: str, version: int) -> dict[str, Any]:
    """One committed version as :func:`history_record` shows it."""
    with metadata.session() as session:
        brain = committed_brain_row(metadata, session, name)
        row = _committed_row(session, brain.id, version)
        if row is not None:
            tags = _tags_by_version(session, brain.id).get(version, [])
            return history_record(row, tags, brain.current_version)
    refs = version_refs(metadata, name)
    raise NotFound(f"brain {name!r} has no version {version} ({refs.describe()})")


def add_tag(metadata: MetadataStore, name: str, version: int, tag: str) -> None:
    """Name ``version`` of ``name`` by ``tag``; Conflict when the brain already uses the tag."""
    validate_tag(tag)
    with metadata.session() as session:
        brain = committed_brain_row(metadata, session, name)
        holder = session.scalars(
            select(BrainVersionTag).where(
                BrainVersionTag.brain_id == brain.id, BrainVersionTag.tag == tag
            )
        ).one_or_none()
        if holder is not None:
            raise Conflict(
                f"brain {name!r} already has tag {tag!r}, on version {holder.version}; "
                f"remove it first (`marble version untag {name} {tag}`) or choose another tag"
            )
        session.add(BrainVersionTag(brain_id=brain.id, tag=tag, version=version))


def remove_tag(metadata: MetadataStore, name: str, tag: str) -> int:
    """Remove ``tag`` from ``name``; return the version it named (NotFound naming the tags)."""
    with metadata.session() as session:
        brain = committed_brain_row(metadata, session, name)
        row = session.scalars(
            select(BrainVersionTag).where(
                BrainVersionTag.brain_id == brain.id, BrainVersionTag.tag == tag
            )
        ).one_or_none()
        if row is not None:
            version = int(row.version)
            session.delete(row)
            return version
    refs = version_refs(metadata, name)
    raise NotFound(f"brain {name!r} has no tag {tag!r} ({refs.describe()})")


# -- retention -------------------------------------------------------------------------


def versions_to_collect(metadata: MetadataStore, name: str, keep: int) -> list[StoredVersion]:
    """Committed versions of ``name`` retention removes now: not collected yet, not among
    the ``keep`` most recent, not tagged, not current."""
    with metadata.session() as session:
        brain = committed_brain_row(metadata, session, name)
        rows = session.scalars(
            select(BrainVersion)
            .where(
                BrainVersion.brain_id == brain.id,
                BrainVersion.state == VersionState.COMMITTED,
            )
            .order_by(BrainVersion.version.desc())
        ).all()
        tagged = set(_tags_by_version(session, brain.id))
        kept = {row.version for row in rows[:keep]} | tagged | {brain.current_version}
        return [
            _stored(row) for row in rows if row.version not in kept and row.collected_at is None
        ]


def mark_collected(metadata: MetadataStore, version_ids: list[int]) -> None:
    """Record that retention removed these versions' snapshots (one transaction)."""
    if not version_ids:
        return
    now = datetime.now(UTC)
    with metadata.session() as session:
        for row in session.scalars(select(BrainVersion).where(BrainVersion.id.in_(version_ids))):
            row.collected_at = now


def blobs_in_use(
    metadata: MetadataStore, excluding_ids: Collection[int] = ()
) -> tuple[set[str], set[str]]:
    """(tensor blobs, snapshot blobs) of every version of every brain not collected,
    leaving out the version rows ``excluding_ids`` (those being collected). Tensor
    blobs are shared layers and experience buffers (both ``.pt`` files).

    Versions in any state count: a pending row belongs to a write still in flight
    (or to a crash that reconcile will clean up), whose blobs must stay.
    """
    with metadata.session() as session:
        query = select(
            BrainVersion.params_blob, BrainVersion.snapshot_blob, BrainVersion.experience_blob
        ).where(BrainVersion.collected_at.is_(None))
        if excluding_ids:
            query = query.where(BrainVersion.id.not_in(list(excluding_ids)))
        rows = session.execute(query).all()
    tensors = {str(p) for p, _, _ in rows if p} | {str(e) for _, _, e in rows if e}
    snapshots = {str(s) for _, s, _ in rows if s}
    return tensors, snapshots


# -- helpers ---------------------------------------------------------------------------


def _committed_row(session: Session, brain_id: int, version: int) -> BrainVersion | None:
    return session.scalars(
        select(BrainVersion).where(
            BrainVersion.brain_id == brain_id,
            BrainVersion.version == version,
            BrainVersion.state == VersionState.COMMITTED,
        )
    ).one_or_none()


def _tags_by_version(session: Session, brain_id: int) -> dict[int, list[str]]:
    tags: dict[int, list[str]] = {}
    for tag, version in session.execute(
        select(BrainVersionTag.tag, BrainVersionTag.version)
        .where(BrainVersionTag.brain_id == brain_id)
        .order_by(BrainVersionTag.tag)
    ).all():
        tags.setdefault(int(version), []).append(str(tag))
    return tags


def _stored(row: BrainVersion) -> StoredVersion:
    return StoredVersion(
        id=row.id,
        version=row.version,
        graph_hash=row.graph_hash or "",
        config_hash=row.config_hash,
        neuron_count=row.neuron_count,
        synapse_count=row.synapse_count,
        params_blob=row.params_blob,
        snapshot_blob=row.snapshot_blob,
        experience_blob=row.experience_blob,
        metrics=dict(row.metrics),
        note=row.note,
        created_at=row.created_at,
        committed_at=row.committed_at,
        collected_at=row.collected_at,
    )


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 5]`` as ``1-3, 5``: a brain may have hundreds of versions."""
    parts: list[str] = []
    start = previous = None
    for number in numbers:
        if previous is not None and number == previous + 1:
            previous = number
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = number
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}-{previous}")
    return ", ".join(parts)
