"""Bringing the two stores back into agreement after a crash.

The metadata store is the truth: a committed brain's current generation is
``Brain.graph_key``. Anything else in the graph store (brains without a
committed row, generations of failed or superseded versions) and any
metadata row that never committed is removed; a committed version's missing
lineage (version nodes and edges, store/lineage.py) is added. Then every current
generation is checked against its version's record
(``integrity.verify_brains``). Runs on every open.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import select

from marble_graph.store.graph import GraphStore
from marble_graph.store.lineage import sync_lineage
from marble_graph.store.metadata import (
    Brain,
    BrainState,
    BrainVersion,
    MetadataStore,
    RunState,
    TrainingRun,
    VersionState,
)

log = logging.getLogger(__name__)


def reconcile_stores(metadata: MetadataStore, graph: GraphStore) -> list[str]:
    """Finish or undo half-done creates, deletes and write-backs; return brains touched."""
    with metadata.session() as session:
        rows = session.scalars(select(Brain)).all()
        current = {b.name: b.graph_key for b in rows if b.state == BrainState.COMMITTED}
        unfinished = [b.name for b in rows if b.state != BrainState.COMMITTED]
        pending_versions = session.scalars(
            select(BrainVersion).where(BrainVersion.state != VersionState.COMMITTED)
        ).all()
        for version in pending_versions:
            session.delete(version)
        # Only one process opens the stores, so a run still marked running died with it.
        for run in session.scalars(
            select(TrainingRun).where(TrainingRun.state == RunState.RUNNING)
        ):
            run.state = RunState.INTERRUPTED
            run.error = run.error or "the process stopped while this run was training"
    touched = set(unfinished) | (graph.brain_names() - set(current))
    for name in sorted(touched):
        log.warning("reconciling brain %r: removing an unfinished create or delete", name)
        graph.delete_brain(name)
    touched |= remove_superseded_generations(metadata, graph, current_keys=current)
    for name, key in graph.brain_node_keys().items():
        if name in current and key != current[name]:
            graph.set_brain_key(name, current[name])
            touched.add(name)
    if unfinished:
        with metadata.session() as session:
            for brain in session.scalars(select(Brain).where(Brain.name.in_(unfinished))):
                session.delete(brain)
    touched |= sync_lineage(metadata, graph)
    return sorted(touched)


def remove_superseded_generations(
    metadata: MetadataStore,
    graph: GraphStore,
    names: Iterable[str] | None = None,
    current_keys: dict[str, int] | None = None,
) -> set[str]:
    """Delete every generation of ``names`` (default: all brains) that is not current.

    Call it only while no write-back is in flight (on open, or holding the
    service's write lock): a pending version's generation is not current yet.
    """
    if current_keys is None:
        with metadata.session() as session:
            rows = session.execute(
                select(Brain.name, Brain.graph_key).where(Brain.state == BrainState.COMMITTED)
            )
            current_keys = {name: key for name, key in rows}
    wanted = set(current_keys) if names is None else set(names) & set(current_keys)
    found = (
        graph.generations()
        if names is None
        else set().union(*(graph.generations(name) for name in wanted))
    )
    removed: set[str] = set()
    for name, key in sorted(found):
        if name in wanted and key != current_keys[name]:
            log.info("removing superseded generation %d of brain %r", key, name)
            graph.delete_generation(name, key)
            removed.add(name)
    return removed
