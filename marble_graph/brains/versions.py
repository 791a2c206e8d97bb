"""Loading a brain version into tensors, and writing a new version back (docs/learning.md).

Write-back is copy-on-write: the new version's graph is bulk-copied under a
fresh ``graph_key`` next to the current one (the copy counts what landed),
the Brain node's key is switched, and only then does one metadata transaction commit the
version and point the brain at the new key. Until that commit every reader
sees the previous version; after it, the new one; nothing of the version's
graph is written after it, so a crash at any instant leaves one of the two
whole (the lineage edge added after the commit mirrors SQL, and reconcile
adds it if a crash came first). The generation the new version superseded is deleted at
the start of the next write-back or on the next open, never after a commit.
Rewriting every row is what makes this fast: Kùzu copies a million synapses
in about a second but needs several to update or delete them in place
(bench/io_roundtrip.py measures both).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import torch
from sqlalchemy.orm import Session
from torch import Tensor

from marble_graph.brain_graph import BrainGraph, graph_hash
from marble_graph.brains.retention import (
    collect_after_write_back,
    keep_experience_blob,
    keep_written_blobs,
)
from marble_graph.config import MarbleConfig
from marble_graph.errors import BrainDamaged, Conflict, StoreError
from marble_graph.failpoints import failpoint
from marble_graph.integrity import check_loaded_hash, damage_message
from marble_graph.reconcile import remove_superseded_generations
from marble_graph.snapshots import put_graph_snapshot
from marble_graph.store.home_stores import Stores
from marble_graph.store.lineage import BrainVersionNode, record_brain_version
from marble_graph.store.metadata import Brain, BrainVersion, VersionState
from marble_graph.store.metadata.brain_records import (
    BrainInfo,
    brain_config,
    committed_brain,
    current_version_row,
    get_brain,
    next_graph_key,
)
from marble_graph.store.metadata.dataset_records import DatasetLink
from marble_graph.tensors import BrainTensors

log = logging.getLogger(__name__)


@dataclass
class LoadedBrain:
    """A brain's current version as tensors, with what training needs to continue it."""

    info: BrainInfo
    config: MarbleConfig
    tensors: BrainTensors
    shared_state: dict[str, Tensor] | None  # None until the brain has been trained
    metrics: dict[str, Any]  # the version's recorded metrics (step, signals, task...)
    # The experience buffers dreams replay (learning/experience.py); None: nothing recorded.
    experience: dict[str, Tensor] | None = None


def load_brain_tensors(
    stores: Stores, name: str, device: torch.device | str = "cpu", verify: bool = False
) -> LoadedBrain:
    """Read the current version with one bulk read per table and place it on ``device``.

    A damaged brain raises BrainDamaged. ``verify`` also re-hashes the graph
    read against the version's record (training does, so it never builds on
    a damaged brain whatever its size).
    """
    info = get_brain(stores.metadata, name)
    if info.damage:
        raise BrainDamaged(damage_message(name, info.damage))
    graph = stores.graph.load_graph(name, info.graph_key)
    if verify:
        check_loaded_hash(stores.metadata, name, info.graph_hash, graph_hash(graph))
    with stores.metadata.session() as session:
        version = current_version_row(session, name, info.version)
        params_blob, metrics = version.params_blob, dict(version.metrics)
        experience_blob = version.experience_blob
    shared = stores.blobs.get_tensors(params_blob) if params_blob else None
    return LoadedBrain(
        info=info,
        config=brain_config(stores.metadata, name),
        tensors=BrainTensors.from_graph(graph, device),
        shared_state=shared,
        metrics=metrics,
        experience=stores.blobs.get_tensors(experience_blob) if experience_blob else None,
    )


def write_back(
    stores: Stores,
    name: str,
    tensors: BrainTensors,
    shared_state: dict[str, Tensor] | None,
    *,
    base_version: int,
    metrics: dict[str, Any],
    note: str,
    run_id: int | None = None,
    dataset: DatasetLink | None = None,
    parent_version: int | None = None,
    experience: dict[str, Tensor] | None = None,
) -> BrainInfo:
    """Persist ``tensors`` as version ``base_version + 1``; return the brain's new record.

    ``parent_version`` is the version the new one came from (default
    ``base_version``; a rollback names the version it restores), recorded in
    SQL and as the lineage's PARENT edge.

    ``experience`` is the version's experience buffers (``DreamBuffers.state_dict``):
    None carries the base version's forward unchanged, ``{}`` records none.

    The version's whole graph is written before the SQL commit that makes it
    current, and none of it after: a crash at any instant leaves either the
    old version or the new one whole. Raises Conflict when
    the brain moved past ``base_version`` meanwhile, so two writers never
    overwrite each other's version.
    """
    graph = tensors.to_graph()
    digest = graph_hash(graph)
    # None: a version never trained (a rollback to one) has no shared layer.
    params_blob = stores.blobs.put_tensors(shared_state) if shared_state is not None else None
    experience_blob = stores.blobs.put_tensors(experience) if experience else None
    snapshot_blob = put_graph_snapshot(stores.blobs, graph)
    with stores.write_lock:
        # The generation the current version superseded goes now, while nothing
        # is in flight, never after a commit (see docs/storage.md).
        remove_superseded_generations(stores.metadata, stores.graph, [name])
        params_blob, snapshot_blob = keep_written_blobs(
            stores, graph, shared_state, params_blob, snapshot_blob
        )
        experience_blob = keep_experience_blob(stores, experience, experience_blob)
        version_id, old_key, new_key = _add_pending_version(
            stores,
            name,
            graph,
            digest,
            base_version,
            metrics,
            note,
            run_id,
            dataset,
            params_blob,
            snapshot_blob,
            base_version if parent_version is None else parent_version,
            experience_blob,
            carry_experience=experience is None,
        )
        new_version = base_version + 1
        try:
            failpoint("writeback.after_pending")
            stores.graph.insert_graph(name, new_key, graph, create_brain_node=False)
            failpoint("writeback.after_graph")
            stores.graph.set_brain_key(name, new_key)
            failpoint("writeback.before_commit")
            with stores.metadata.session() as session:
                brain = _brain_row(session, name)
                row = session.get(BrainVersion, version_id)
                assert row is not None
                row.state = VersionState.COMMITTED
                row.committed_at = datetime.now(UTC)
                brain.graph_key = new_key
                brain.current_version = new_version
                brain.graph_hash = digest
                brain.neuron_count = graph.neuron_count
                brain.synapse_count = graph.synapse_count
        except BaseException:
            log.warning("write-back of brain %r failed; removing the new generation", name)
            _undo_pending_version(stores, name, version_id, new_version, old_key, new_key)
            raise
        stores.committed()
        failpoint("writeback.after_commit")
        # Lineage mirrors the SQL record and only ever adds; a crash before it
        # lands is made good by reconcile (store/lineage.py sync_lineage).
        record_brain_version(
            stores.graph,
            BrainVersionNode(
                name,
                new_version,
                digest,
                parent_version=base_version if parent_version is None else parent_version,
                trained_on=(dataset.dataset, dataset.version) if dataset else None,
            ),
        )
        # Old versions beyond versions.keep give up their snapshots (brains/retention.py).
        collect_after_write_back(stores, name)
    return get_brain(stores.metadata, name)


def _add_pending_version(
    stores: Stores,
    name: str,
    graph: BrainGraph,
    digest: str,
    base_version: int,
    metrics: dict[str, Any],
    note: str,
    run_id: int | None,
    dataset: DatasetLink | None,
    params_blob: str | None,
    snapshot_blob: str,
    parent_version: int,
    experience_blob: str | None,
    carry_experience: bool,
) -> tuple[int, int, int]:
    """The intent row of a write-back; returns (version row id, old key, new key)."""
    with stores.metadata.session() as session:
        brain = _brain_row(session, name)
        if brain.current_version != base_version:
            raise Conflict(
                f"brain {name!r} is at version {brain.current_version}, not {base_version}: "
                "it changed while this run trained; nothing was written"
            )
        if brain.damage:
            raise BrainDamaged(damage_message(name, brain.damage))
        old_key, new_key = brain.graph_key, next_graph_key(session)
        if carry_experience:
            # Read under the write lock with the base version's check: it is the base's.
            experience_blob = current_version_row(session, name, base_version).experience_blob
        version = BrainVersion(
            brain_id=brain.id,
            version=base_version + 1,
            state=VersionState.PENDING,
            parent_version=parent_version,
            dataset_version_id=dataset.dataset_version_id if dataset else None,
            config_hash=brain.config_hash,
            graph_hash=digest,
            neuron_count=graph.neuron_count,
            synapse_count=graph.synapse_count,
            metrics=metrics,
            note=note[:512],
            graph_key=new_key,
            params_blob=params_blob,
            snapshot_blob=snapshot_blob,
            experience_blob=experience_blob,
            run_id=run_id,
        )
        session.add(version)
    return version.id, old_key, new_key


def _undo_pending_version(
    stores: Stores,
    name: str,
    version_id: int,
    new_version: int,
    old_key: int,
    new_key: int,
) -> None:
    with stores.metadata.session() as session:
        row = session.get(BrainVersion, version_id)
        if row is not None and row.state == VersionState.COMMITTED:
            return  # the commit went through; the failure came after it
        if row is not None:
            session.delete(row)
    stores.graph.set_brain_key(name, old_key)
    stores.graph.delete_generation(name, new_key)


def _brain_row(session: Session, name: str) -> Brain:
    brain = committed_brain(session, name)
    if brain is None:
        raise StoreError(f"brain {name!r} disappeared during write-back")
    return brain
