"""Creating and deleting brains across the two stores.

Two stores, one truth. The SQL metadata store is the record of which brains
exist; the graph store holds their contents. A brain is created by first
writing an intent row (state ``pending``), then the graph, then marking the
row ``committed`` together with its first version. It is deleted by marking
the row ``deleting``, removing the graph, then the row. A crash anywhere in
between leaves a row that is not ``committed`` or graph data with no row;
``reconcile`` (run on every open) removes both, so readers only ever see
complete brains.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from marble_graph.brain_graph import BrainGraph, graph_hash
from marble_graph.brain_names import validate_brain_name
from marble_graph.brains.retention import keep_written_blobs
from marble_graph.config import MarbleConfig, config_hash
from marble_graph.failpoints import failpoint
from marble_graph.snapshots import put_graph_snapshot
from marble_graph.store.home_stores import Stores
from marble_graph.store.lineage import BrainVersionNode, record_brain_version
from marble_graph.store.metadata import brain_records
from marble_graph.store.metadata.brain_records import BrainInfo, get_brain

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BrainDetails:
    """A brain's record plus live counts from the graph store and its config."""

    info: BrainInfo
    neurons_by_kind: dict[str, int]
    synapses_by_type: dict[str, int]
    config: dict[str, Any] = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.info.as_dict(),
            "neurons_by_kind": self.neurons_by_kind,
            "synapses_by_type": self.synapses_by_type,
            "config": self.config,
        }


def show_brain(stores: Stores, name: str) -> BrainDetails:
    info = get_brain(stores.metadata, name)
    config = brain_records.stored_config(stores.metadata, name)
    kinds, types = stores.graph.counts_by_kind_and_type(info.graph_key)
    return BrainDetails(info=info, neurons_by_kind=kinds, synapses_by_type=types, config=config)


def persist_new_brain(
    stores: Stores,
    name: str,
    config: MarbleConfig,
    graph: BrainGraph,
    progress: Progress | None = None,
    note: str = "seed",
    first_version: brain_records.FirstVersion | None = None,
) -> BrainInfo:
    """Write ``graph`` as brain ``name``'s version 1 (intent row, graph, commit)."""
    validate_brain_name(name)
    first = first_version or brain_records.FirstVersion()
    digest = graph_hash(graph)
    snapshot_blob = put_graph_snapshot(stores.blobs, graph)
    with stores.write_lock:
        # Retention may have removed an equal blob a collected version used while
        # this one was written outside the lock (brains/retention.py).
        _, snapshot_blob = keep_written_blobs(stores, graph, None, None, snapshot_blob)
        graph_key = brain_records.add_pending_brain(
            stores.metadata,
            name,
            config.model_dump(mode="json"),
            config_hash(config),
            config.seed.random_seed,
        )
        try:
            failpoint("create.before_graph")
            report(
                progress, f"writing {graph.neuron_count} neurons, {graph.synapse_count} synapses"
            )
            stores.graph.insert_graph(name, graph_key, graph)
            failpoint("create.after_graph")
            brain_records.commit_new_brain(
                stores.metadata,
                name,
                graph_hash=digest,
                neuron_count=graph.neuron_count,
                synapse_count=graph.synapse_count,
                note=note,
                snapshot_blob=snapshot_blob,
                first=first,
            )
        except BaseException:
            log.warning("create of brain %r failed; removing what was written", name)
            stores.graph.delete_brain(name)
            brain_records.remove_brain_rows(stores.metadata, name)
            raise
        stores.committed()
        record_brain_version(stores.graph, BrainVersionNode(name, 1, digest))
    return get_brain(stores.metadata, name)


def delete_brain(stores: Stores, name: str) -> None:
    """Delete a brain from both stores (mark, remove the graph, remove the rows)."""
    with stores.write_lock:
        brain_records.mark_deleting(stores.metadata, name)
        failpoint("delete.after_mark")
        stores.graph.delete_brain(name)
        stores.committed()
        failpoint("delete.after_graph")
        brain_records.remove_brain_rows(stores.metadata, name)


def report(progress: Progress | None, message: str) -> None:
    log.debug(message)
    if progress is not None:
        progress(message)
