"""Brain history: naming, listing, comparing, serving and restoring a brain's versions.

Every committed version keeps its whole graph as a snapshot in the blob store
(``snapshots.py``) and its shared layer as a tensor blob, until retention
collects them (``retention.py``, ``versions.keep``). So any retained version
can be loaded exactly as it was committed: to serve it (``serving.py``), to
compare two of them (:func:`diff_versions`), or to make it current again as
a new version (:func:`rollback`), bit for bit: the new version's graph hashes
to the old one's recorded ``graph_hash`` and answers every input identically.

A version reference is a number (``3``, or the text ``"3"``) or a tag
(``"best"``), which names one version of the brain at a time.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pyarrow as pa
import torch
from torch import Tensor

from marble_graph.brain_graph import BrainGraph, graph_hash
from marble_graph.brains.versions import LoadedBrain, load_brain_tensors, write_back
from marble_graph.errors import NotFound, StoreError, ValidationFailed, VersionCollected
from marble_graph.snapshots import get_graph_snapshot
from marble_graph.store.home_stores import Stores
from marble_graph.store.metadata import BrainVersion
from marble_graph.store.metadata.brain_records import BrainInfo, brain_config, get_brain
from marble_graph.store.metadata.dataset_records import DatasetLink, dataset_version_by_id
from marble_graph.store.metadata.tag_names import validate_tag
from marble_graph.store.metadata.version_history import (
    StoredVersion,
    VersionRef,
    VersionRefs,
    add_tag,
    list_version_history,
    remove_tag,
    stored_version,
    version_history_record,
    version_refs,
)
from marble_graph.tensors import BrainTensors

# Ids a diff lists per kind of change; the counts are always exact.
DIFF_ID_LIMIT = 1000


def resolve_version(stores: Stores, name: str, ref: VersionRef) -> int:
    """The committed version ``ref`` names: a number (or its digits) or a tag.

    NotFound names the versions and tags the brain has; a collected version
    still resolves (its record exists), reading its snapshot raises.
    """
    refs = version_refs(stores.metadata, name)
    return _resolve(refs, name, ref)


def resolve_retained_version(stores: Stores, name: str, ref: VersionRef) -> int:
    """:func:`resolve_version`, and VersionCollected when that version's snapshot is gone."""
    refs = version_refs(stores.metadata, name)
    number = _resolve(refs, name, ref)
    if number in refs.collected:
        raise _collected(stores, name, number, refs)
    return number


def list_versions(stores: Stores, name: str) -> list[dict[str, Any]]:
    """The brain's committed versions, oldest first, with tags, current and collected flags."""
    return list_version_history(stores.metadata, name)


def show_version(stores: Stores, name: str, ref: VersionRef) -> dict[str, Any]:
    """One version's record (metrics, note, hashes, counts, tags, collected)."""
    return version_history_record(stores.metadata, name, resolve_version(stores, name, ref))


def tag_version(stores: Stores, name: str, ref: VersionRef, tag: str) -> dict[str, Any]:
    """Name version ``ref`` by ``tag``; a tagged version is never collected by retention.

    Conflict when the brain already has ``tag`` (naming the version holding
    it); VersionCollected for a version whose snapshot is already gone.
    """
    validate_tag(tag)
    # Under the write lock: retention, which reads the tags, never runs half-way
    # through a tag being added (and would collect the version just tagged).
    with stores.write_lock:
        refs = version_refs(stores.metadata, name)
        number = _resolve(refs, name, ref)
        if number in refs.collected:
            raise _collected(stores, name, number, refs)
        add_tag(stores.metadata, name, number, tag)
        stores.committed()  # serving caches re-resolve tags after a commit
    return version_history_record(stores.metadata, name, number)


def untag_version(stores: Stores, name: str, tag: str) -> dict[str, Any]:
    """Remove ``tag`` from the brain; return the record of the version it named."""
    with stores.write_lock:
        number = remove_tag(stores.metadata, name, tag)
        stores.committed()
    return version_history_record(stores.metadata, name, number)


def diff_versions(stores: Stores, name: str, a: VersionRef, b: VersionRef) -> dict[str, Any]:
    """What changed from version ``a`` to version ``b`` of a brain.

    Neurons added and removed (by neuron id), synapses added and removed (a
    synapse is its id with its two endpoints: pruning can free the largest id
    and growth reuse it for another pair), and over the synapses in both, the
    weight changes: how many changed, mean and largest absolute change, mean
    change and root mean square. Id lists hold at most ``DIFF_ID_LIMIT`` each.
    """
    refs = version_refs(stores.metadata, name)
    first = _retained(stores, name, _resolve(refs, name, a), refs)
    second = _retained(stores, name, _resolve(refs, name, b), refs)
    graph_a, graph_b = _graph_of(stores, name, first), _graph_of(stores, name, second)
    neurons_added, neurons_removed = _neuron_changes(graph_a.neurons, graph_b.neurons)
    synapses = _synapse_changes(graph_a.synapses, graph_b.synapses)
    return {
        "brain": name,
        "a": _side(first),
        "b": _side(second),
        "neurons": _changes(neurons_added, neurons_removed),
        "synapses": {
            **_changes(synapses.added, synapses.removed),
            "common": int(synapses.weight_a.size),
        },
        "weights": _weight_change(synapses.weight_a, synapses.weight_b),
        "ids_limit": DIFF_ID_LIMIT,
    }


def load_version_tensors(
    stores: Stores, name: str, version: int, device: torch.device | str = "cpu"
) -> LoadedBrain:
    """A retained version as tensors with its shared layer and metrics, ready to serve.

    The current version is read from the graph store, like ``load_brain_tensors``
    (a damaged brain raises BrainDamaged); any other from its snapshot.
    """
    info = get_brain(stores.metadata, name)
    if version == info.version:
        loaded = load_brain_tensors(stores, name, device)
        tensors, current = loaded.tensors, loaded.info
        if (current.version, tensors.num_neurons, tensors.num_synapses) == (
            version,
            current.neuron_count,
            current.synapse_count,
        ):
            return loaded
        # A write-back committed in between: the version is no longer current,
        # so it is read from its snapshot below.
    refs = version_refs(stores.metadata, name)
    stored = _retained(stores, name, _resolve(refs, name, version), refs)
    graph = _graph_of(stores, name, stored)
    shared = stores.blobs.get_tensors(stored.params_blob) if stored.params_blob else None
    return LoadedBrain(
        info=_version_info(info, stored),
        config=brain_config(stores.metadata, name),
        tensors=BrainTensors.from_graph(graph, device),
        shared_state=shared,
        metrics=dict(stored.metrics),
        experience=_experience_of(stores, stored),
    )


def rollback(stores: Stores, name: str, ref: VersionRef) -> BrainInfo:
    """Make version ``ref`` current again, as a new version written back from its snapshot.

    The new version carries ``ref``'s graph, shared layer and metrics (plus
    ``rolled_back_from``, the version that was current, and ``restored_version``),
    so its graph hashes to ``ref``'s recorded ``graph_hash`` and it answers
    every input exactly as ``ref`` did. Rolling back to the current version
    changes nothing. Conflict when the brain moves meanwhile (a training run's
    write-back), as for any write-back.
    """
    refs = version_refs(stores.metadata, name)
    number = _resolve(refs, name, ref)
    info = get_brain(stores.metadata, name)
    if number == info.version:
        return info
    stored = _retained(stores, name, number, refs)
    graph = _graph_of(stores, name, stored)
    tensors = BrainTensors.from_graph(graph, "cpu")
    # Checked before anything is written: the version written back must be the
    # version recorded, bit for bit (write_back hashes what it writes the same way).
    restored = graph_hash(tensors.to_graph())
    if restored != stored.graph_hash:
        raise StoreError(
            f"version {number} of brain {name!r} does not round-trip exactly from its "
            f"snapshot (hash {restored[:12]}..., recorded {stored.graph_hash[:12]}...); "
            "nothing was written"
        )
    shared = stores.blobs.get_tensors(stored.params_blob) if stored.params_blob else None
    metrics = {**stored.metrics, "rolled_back_from": info.version, "restored_version": number}
    # The new version is version `number` again: its parent, in SQL and in the
    # lineage, is that version, and it was trained on that version's data.
    return write_back(
        stores,
        name,
        tensors,
        shared,
        base_version=info.version,
        metrics=metrics,
        note=f"rollback to version {number}",
        dataset=_dataset_of(stores, stored.id),
        parent_version=number,
        # The restored version's buffers ({} when it had none), not the current one's.
        experience=_experience_of(stores, stored) or {},
    )


def _dataset_of(stores: Stores, version_row_id: int) -> DatasetLink | None:
    with stores.metadata.session() as session:
        row = session.get(BrainVersion, version_row_id)
        dataset_version_id = None if row is None else row.dataset_version_id
    if dataset_version_id is None:
        return None
    return dataset_version_by_id(stores.metadata, dataset_version_id).link


# -- resolving and loading ---------------------------------------------------------------


def _resolve(refs: VersionRefs, name: str, ref: VersionRef) -> int:
    if isinstance(ref, bool) or not isinstance(ref, int | str):
        raise ValidationFailed(
            f"version reference {ref!r}: expected a version number or a tag, "
            f"got {type(ref).__name__}"
        )
    number = int(ref) if isinstance(ref, int) or ref.isdigit() else None
    if number is not None:
        if number in refs.versions:
            return number
        raise NotFound(f"brain {name!r} has no version {number} ({refs.describe()})")
    if ref in refs.tags:
        return refs.tags[ref]
    raise NotFound(f"brain {name!r} has no version or tag {ref!r} ({refs.describe()})")


def _retained(stores: Stores, name: str, number: int, refs: VersionRefs) -> StoredVersion:
    """The version's record if its snapshot is kept; VersionCollected otherwise."""
    stored = stored_version(stores.metadata, name, number)
    if stored.collected:
        raise _collected(stores, name, number, refs)
    return stored


def _collected(stores: Stores, name: str, number: int, refs: VersionRefs) -> VersionCollected:
    return VersionCollected(name, number, stores.versions.keep, refs.retained)


def _graph_of(stores: Stores, name: str, stored: StoredVersion) -> BrainGraph:
    """A retained version's graph: its snapshot, or the graph store for a current version
    written before snapshots existed."""
    if stored.snapshot_blob is not None:
        return get_graph_snapshot(stores.blobs, stored.snapshot_blob)
    info = get_brain(stores.metadata, name)
    if stored.version == info.version:
        return stores.graph.load_graph(name, info.graph_key)
    raise NotFound(
        f"version {stored.version} of brain {name!r} was written before versions kept "
        "snapshots; only its record remains"
    )


def _version_info(current: BrainInfo, stored: StoredVersion) -> BrainInfo:
    """The brain's record as it was at ``stored`` (what a serving model reports)."""
    return dataclasses.replace(
        current,
        version=stored.version,
        neuron_count=stored.neuron_count,
        synapse_count=stored.synapse_count,
        graph_hash=stored.graph_hash,
        config_hash=stored.config_hash,
        damage=None,  # a snapshot is the version as committed, whatever the store holds
    )


# -- comparing -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _SynapseChanges:
    added: np.ndarray  # [k] synapse ids in b only
    removed: np.ndarray  # [k] synapse ids in a only
    weight_a: np.ndarray  # [c] float64 weights of the synapses in both, in a
    weight_b: np.ndarray  # [c] ... and in b


def _neuron_changes(a: pa.Table, b: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    ids_a, ids_b = _ids(a), _ids(b)
    return np.setdiff1d(ids_b, ids_a), np.setdiff1d(ids_a, ids_b)


def _synapse_changes(a: pa.Table, b: pa.Table) -> _SynapseChanges:
    ids_a, ids_b = _ids(a), _ids(b)
    # Ids are unique within a version: intersect1d pairs each id once.
    _, rows_a, rows_b = np.intersect1d(ids_a, ids_b, assume_unique=True, return_indices=True)
    same = (_column(a, "src")[rows_a] == _column(b, "src")[rows_b]) & (
        _column(a, "dst")[rows_a] == _column(b, "dst")[rows_b]
    )
    in_a = np.zeros(ids_a.size, dtype=bool)
    in_b = np.zeros(ids_b.size, dtype=bool)
    in_a[rows_a[same]] = True
    in_b[rows_b[same]] = True
    return _SynapseChanges(
        added=np.sort(ids_b[~in_b]),
        removed=np.sort(ids_a[~in_a]),
        weight_a=_column(a, "weight")[rows_a[same]].astype(np.float64),
        weight_b=_column(b, "weight")[rows_b[same]].astype(np.float64),
    )


def _weight_change(before: np.ndarray, after: np.ndarray) -> dict[str, Any]:
    delta = after - before  # [c] float64: a small change is not lost to float32 rounding
    if delta.size == 0:
        return {
            "compared": 0,
            "changed": 0,
            "mean_abs_change": 0.0,
            "max_abs_change": 0.0,
            "mean_change": 0.0,
            "rms_change": 0.0,
        }
    magnitude = np.abs(delta)
    return {
        "compared": int(delta.size),
        "changed": int(np.count_nonzero(delta)),
        "mean_abs_change": float(magnitude.mean()),
        "max_abs_change": float(magnitude.max()),
        "mean_change": float(delta.mean()),
        "rms_change": float(np.sqrt(np.mean(delta * delta))),
    }


def _changes(added: np.ndarray, removed: np.ndarray) -> dict[str, Any]:
    return {
        "added": int(added.size),
        "removed": int(removed.size),
        "added_ids": added[:DIFF_ID_LIMIT].tolist(),
        "removed_ids": removed[:DIFF_ID_LIMIT].tolist(),
    }


def _side(stored: StoredVersion) -> dict[str, Any]:
    return {
        "version": stored.version,
        "graph_hash": stored.graph_hash,
        "neuron_count": stored.neuron_count,
        "synapse_count": stored.synapse_count,
    }


def _ids(table: pa.Table) -> np.ndarray:
    return _column(table, "id")


def _column(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy()


def _experience_of(stores: Stores, stored: StoredVersion) -> dict[str, Tensor] | None:
    """A version's experience buffers (None when it recorded none)."""
    return stores.blobs.get_tensors(stored.experience_blob) if stored.experience_blob else None
