"""Bringing the two stores back into agreement after a crash.

The metadata store is the truth: a committed brain's current generation is
``Brain.graph_key``. Anything else in the graph store (brains without a
committed row, generations of failed or superseded versions) and any
metadata row that never committed is removed. Runs on every open.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from marble_graph.store.graph import GraphStore
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
    """Finish or undo half-done creates, deletes and write-backs; return brains touched.

    The metadata store is the truth: a committed brain's current generation
    is ``Brain.graph_key``. Everything else in the graph store (brains with
    no committed row, generations of failed or superseded versions) goes.
    """
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
    for name, key in sorted(graph.generations()):
        if name in current and key != current[name]:
            log.info("removing superseded generation %d of brain %r", key, name)
            graph.delete_generation(name, key)
            touched.add(name)
    for name, key in graph.brain_node_keys().items():
        if name in current and key != current[name]:
            graph.set_brain_key(name, current[name])
            touched.add(name)
    if unfinished:
        with metadata.session() as session:
            for brain in session.scalars(select(Brain).where(Brain.name.in_(unfinished))):
                session.delete(brain)
    return sorted(touched)
