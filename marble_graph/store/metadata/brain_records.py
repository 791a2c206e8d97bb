"""The SQL side of brains: their records, names, graph keys and committed versions.

Readers only ever see committed brains and committed versions: a row in any
other state belongs to a create, delete or write-back still in flight (or to
a crash that ``reconcile`` will clean up).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marble_graph.config import MarbleConfig, config_from_mapping
from marble_graph.errors import Conflict, UnknownBrain
from marble_graph.store.metadata.database import MetadataStore
from marble_graph.store.metadata.models import Brain, BrainState, BrainVersion, VersionState


@dataclass(frozen=True)
class BrainInfo:
    """What the metadata store knows about a committed brain."""

    name: str
    version: int
    neuron_count: int
    synapse_count: int
    graph_hash: str
    config_hash: str
    random_seed: int
    created_at: datetime
    graph_key: int = field(compare=False, repr=False)
    # Why the graph store no longer matches this version (None: it does).
    damage: str | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "neuron_count": self.neuron_count,
            "synapse_count": self.synapse_count,
            "graph_hash": self.graph_hash,
            "config_hash": self.config_hash,
            "random_seed": self.random_seed,
            "created_at": self.created_at.isoformat(),
            "damage": self.damage,
        }


def brain_info(brain: Brain) -> BrainInfo:
    return BrainInfo(
        name=brain.name,
        version=brain.current_version,
        neuron_count=brain.neuron_count,
        synapse_count=brain.synapse_count,
        graph_hash=brain.graph_hash or "",
        config_hash=brain.config_hash,
        random_seed=brain.random_seed,
        created_at=brain.created_at,
        graph_key=brain.graph_key,
        damage=brain.damage,
    )


def committed_brain(session: Session, name: str) -> Brain | None:
    """The brain's metadata row, if it exists and is committed."""
    return session.scalars(
        select(Brain).where(Brain.name == name, Brain.state == BrainState.COMMITTED)
    ).one_or_none()


def committed_brain_row(metadata: MetadataStore, session: Session, name: str) -> Brain:
    """The committed row of ``name``; UnknownBrain (naming the known brains) otherwise."""
    brain = committed_brain(session, name)
    if brain is None:
        raise UnknownBrain(name, [b.name for b in list_brains(metadata)])
    return brain


def find_brain(metadata: MetadataStore, name: str) -> BrainInfo | None:
    with metadata.session() as session:
        brain = committed_brain(session, name)
        return None if brain is None else brain_info(brain)


def get_brain(metadata: MetadataStore, name: str) -> BrainInfo:
    """The committed brain ``name``; UnknownBrain (naming the known brains) otherwise."""
    info = find_brain(metadata, name)
    if info is None:
        raise UnknownBrain(name, [b.name for b in list_brains(metadata)])
    return info


def list_brains(metadata: MetadataStore) -> list[BrainInfo]:
    with metadata.session() as session:
        rows = session.scalars(
            select(Brain).where(Brain.state == BrainState.COMMITTED).order_by(Brain.name)
        ).all()
        return [brain_info(b) for b in rows]


def stored_config(metadata: MetadataStore, name: str) -> dict[str, Any]:
    """The brain's config as stored (a plain mapping; validate it before use)."""
    with metadata.session() as session:
        return dict(committed_brain_row(metadata, session, name).config)


def next_graph_key(session: Session) -> int:
    """A graph key no brain or version has used (keys are never reused)."""
    used = [
        session.scalar(select(func.max(Brain.graph_key))),
        session.scalar(select(func.max(BrainVersion.graph_key))),
    ]
    return max((k or 0) for k in used) + 1


def count_brains(metadata: MetadataStore) -> int:
    """Brain rows in any state (a home with none can change its graph engine)."""
    with metadata.session() as session:
        return session.scalar(select(func.count()).select_from(Brain)) or 0


def version_record(row: BrainVersion) -> dict[str, Any]:
    """A committed version as a plain record (REST, GraphQL and the CLI show these)."""
    return {
        "version": row.version,
        "state": row.state.value,
        "parent_version": row.parent_version,
        "graph_hash": row.graph_hash or "",
        "neuron_count": row.neuron_count,
        "synapse_count": row.synapse_count,
        "note": row.note,
        "metrics": dict(row.metrics),
        "run_id": row.run_id,
        "created_at": row.created_at,
        "committed_at": row.committed_at,
    }


def list_versions(metadata: MetadataStore, name: str) -> list[dict[str, Any]]:
    """The brain's committed versions, oldest first (versions being written are not listed)."""
    get_brain(metadata, name)  # UnknownBrain names the known brains
    with metadata.session() as session:
        rows = session.scalars(
            select(BrainVersion)
            .join(Brain)
            .where(Brain.name == name, BrainVersion.state == VersionState.COMMITTED)
            .order_by(BrainVersion.version)
        ).all()
        return [version_record(row) for row in rows]


def current_version_row(session: Session, name: str, version: int) -> BrainVersion:
    return session.scalars(
        select(BrainVersion).join(Brain).where(Brain.name == name, BrainVersion.version == version)
    ).one()


def brain_config(metadata: MetadataStore, name: str) -> MarbleConfig:
    """The brain's stored config, validated."""
    return config_from_mapping(stored_config(metadata, name), source=f"brain {name!r}")


# -- creating and deleting brain rows (the steps of brains/lifecycle.py) -------------


@dataclass(frozen=True)
class FirstVersion:
    """What version 1 carries beyond its graph: nothing for a seed, the trained
    shared layer and serving metrics for an imported brain."""

    metrics: dict[str, Any] = field(default_factory=dict)
    params_blob: str | None = None


def add_pending_brain(
    metadata: MetadataStore, name: str, config: dict[str, Any], digest: str, random_seed: int
) -> int:
    """The intent row of a new brain (state pending); returns its fresh graph key."""
    with metadata.session() as session:
        if session.scalar(select(Brain.id).where(Brain.name == name)) is not None:
            raise Conflict(f"brain {name!r} already exists (delete it first or pick another name)")
        graph_key = next_graph_key(session)
        session.add(
            Brain(
                name=name,
                graph_key=graph_key,
                state=BrainState.PENDING,
                config=config,
                config_hash=digest,
                random_seed=random_seed,
            )
        )
    return graph_key


def commit_new_brain(
    metadata: MetadataStore,
    name: str,
    *,
    graph_hash: str,
    neuron_count: int,
    synapse_count: int,
    note: str,
    snapshot_blob: str,
    first: FirstVersion,
) -> None:
    """Mark the pending brain committed together with its version 1 (one transaction)."""
    with metadata.session() as session:
        brain = session.scalars(select(Brain).where(Brain.name == name)).one()
        now = datetime.now(UTC)
        brain.state = BrainState.COMMITTED
        brain.graph_hash = graph_hash
        brain.neuron_count = neuron_count
        brain.synapse_count = synapse_count
        brain.current_version = 1
        session.add(
            BrainVersion(
                brain_id=brain.id,
                version=1,
                state=VersionState.COMMITTED,
                config_hash=brain.config_hash,
                graph_hash=graph_hash,
                neuron_count=neuron_count,
                synapse_count=synapse_count,
                metrics=dict(first.metrics),
                params_blob=first.params_blob,
                note=note,
                graph_key=brain.graph_key,
                snapshot_blob=snapshot_blob,
                created_at=now,
                committed_at=now,
            )
        )


def mark_deleting(metadata: MetadataStore, name: str) -> None:
    """First step of a delete: the committed brain ``name`` leaves readers' view."""
    with metadata.session() as session:
        committed_brain_row(metadata, session, name).state = BrainState.DELETING


def remove_brain_rows(metadata: MetadataStore, name: str) -> None:
    """Remove ``name``'s rows in any state (its versions go with them)."""
    with metadata.session() as session:
        for brain in session.scalars(select(Brain).where(Brain.name == name)):
            session.delete(brain)
