"""Is each brain's graph what its current version recorded? And rebuilding it when not.

Every open checks each committed brain's current generation against its
version record: neuron and synapse counts always (two grouped queries for
all brains), and the graph hash for brains up to
``storage.verify_hash_max_synapses`` synapses (a hash reads the whole graph).
Training re-checks the hash of the graph it loads, whatever the size. A
mismatch is recorded on the brain (``Brain.damage``): nothing trains or
serves it until ``marble brain repair NAME`` rebuilds the version from its
snapshot blob (``snapshots.py``), which restores it exactly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from marble_graph.blobs import BlobStore
from marble_graph.brain_graph import graph_hash
from marble_graph.errors import BrainDamaged, NotFound, StoreError
from marble_graph.snapshots import get_graph_snapshot
from marble_graph.store.graph import GraphStore
from marble_graph.store.metadata import Brain, BrainState, BrainVersion, MetadataStore

log = logging.getLogger(__name__)


def damage_message(name: str, damage: str) -> str:
    """The one message every interface shows for a damaged brain."""
    return (
        f"brain {name!r} is damaged: {damage}; nothing trains or serves it until it is "
        f"repaired: run `marble brain repair {name}`"
    )


def verify_brains(
    metadata: MetadataStore, graph: GraphStore, hash_max_synapses: int
) -> dict[str, str | None]:
    """Check every committed brain; record and return each one's damage (None: intact)."""
    stored = graph.generation_counts()
    with metadata.session() as session:
        brains = session.scalars(select(Brain).where(Brain.state == BrainState.COMMITTED)).all()
        found: dict[str, str | None] = {}
        for brain in brains:
            damage = _count_mismatch(brain, stored.get(brain.graph_key, (0, 0)))
            if damage is None and brain.synapse_count <= hash_max_synapses:
                damage = _hash_mismatch(brain.graph_hash or "", graph, brain.name, brain.graph_key)
            if damage != brain.damage:
                if damage:
                    log.error("brain %r: %s", brain.name, damage)
                brain.damage = damage
            found[brain.name] = damage
    return found


def check_loaded_hash(metadata: MetadataStore, name: str, recorded: str, loaded: str) -> None:
    """Record damage when a loaded graph's hash differs from the version's (before training)."""
    if loaded == recorded:
        return
    damage = _hash_damage(loaded, recorded)
    with metadata.session() as session:
        brain = session.scalars(select(Brain).where(Brain.name == name)).one_or_none()
        if brain is not None:
            brain.damage = damage
    raise BrainDamaged(damage_message(name, damage))


@dataclass(frozen=True)
class RepairReport:
    name: str
    version: int
    repaired: bool  # False: the brain was intact, nothing was written
    graph_hash: str
    detail: str


def repair_brain(
    metadata: MetadataStore, graph: GraphStore, blobs: BlobStore, name: str, new_graph_key: int
) -> RepairReport:
    """Rebuild ``name``'s current version from its snapshot under ``new_graph_key``.

    Copy-on-write like a write-back: the rebuilt generation is written and
    counted first, then one SQL commit points the version and the brain at it.
    The caller holds the service's write lock.
    """
    with metadata.session() as session:
        brain = session.scalars(
            select(Brain).where(Brain.name == name, Brain.state == BrainState.COMMITTED)
        ).one_or_none()
        if brain is None:
            raise NotFound(f"unknown brain {name!r}")
        version = session.scalars(
            select(BrainVersion).where(
                BrainVersion.brain_id == brain.id, BrainVersion.version == brain.current_version
            )
        ).one()
        recorded, snapshot, old_key = (
            version.graph_hash or "",
            version.snapshot_blob,
            brain.graph_key,
        )
        current_version = brain.current_version
    stored = graph.generation_size(old_key)
    damage = _count_mismatch(brain, stored) or _hash_mismatch(recorded, graph, name, old_key)
    if damage is None:
        with metadata.session() as session:
            row = session.get(Brain, brain.id)
            if row is not None:
                row.damage = None
        return RepairReport(name, current_version, False, recorded, "intact; nothing to repair")
    if snapshot is None:
        raise StoreError(
            f"brain {name!r} version {current_version} is damaged ({damage}) and has no "
            "snapshot (it was written before snapshots existed): restore it from a backup "
            "(`marble restore`) or delete it"
        )
    rebuilt = get_graph_snapshot(blobs, snapshot)
    if graph_hash(rebuilt) != recorded:
        raise StoreError(
            f"the snapshot of brain {name!r} version {current_version} does not hash to the "
            "recorded value; restore the brain from a backup"
        )
    try:
        graph.insert_graph(name, new_graph_key, rebuilt, create_brain_node=False)
    except BaseException:
        graph.delete_generation(name, new_graph_key)
        raise
    graph.set_brain_key(name, new_graph_key)
    with metadata.session() as session:
        row = session.get(Brain, brain.id)
        version_row = session.get(BrainVersion, version.id)
        assert row is not None and version_row is not None
        row.graph_key = new_graph_key
        row.damage = None
        version_row.graph_key = new_graph_key
    log.warning("brain %r version %d rebuilt from its snapshot (%s)", name, current_version, damage)
    return RepairReport(name, current_version, True, recorded, f"rebuilt from snapshot: {damage}")


def _count_mismatch(brain: Brain, stored: tuple[int, int]) -> str | None:
    expected = (brain.neuron_count, brain.synapse_count)
    if stored == expected:
        return None
    return (
        f"the graph store holds {stored[0]} neurons and {stored[1]} synapses, "
        f"version {brain.current_version} recorded {expected[0]} and {expected[1]}"
    )


def _hash_mismatch(recorded: str, graph: GraphStore, name: str, graph_key: int) -> str | None:
    actual = graph_hash(graph.load_graph(name, graph_key))
    return None if actual == recorded else _hash_damage(actual, recorded)


def _hash_damage(actual: str, recorded: str) -> str:
    return f"its graph hashes to {actual[:12]}…, its version recorded {recorded[:12]}…"
