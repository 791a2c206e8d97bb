"""Bringing the two stores back into agreement after a crash.

The metadata store is the truth: a committed brain's current generation is
``Brain.graph_key``. Anything else in the graph store (brains without a
committed row, generations of failed or superseded versions) and any
metadata row that never committed is removed; a committed version's missing
dataset link (a crash right after its commit) is added. Then every current
generation is checked against its version's record
(``integrity.verify_brains``). Runs on every open.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import select

from marble_graph.store.graph import GraphStore
from marble_graph.store.metadata import (
    Brain,
    BrainState,
    BrainVersion,
    Dataset,
    DatasetVersion,
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
        trained_on = session.execute(
            select(
                Brain.name,
                BrainVersion.version,
                DatasetVersion.content_hash,
                Dataset.name,
                DatasetVersion.version,
                DatasetVersion.n_rows,
            )
            .join(Brain, BrainVersion.brain_id == Brain.id)
            .join(DatasetVersion, BrainVersion.dataset_version_id == DatasetVersion.id)
            .join(Dataset, DatasetVersion.dataset_id == Dataset.id)
            .where(
                BrainVersion.state == VersionState.COMMITTED,
                Brain.state == BrainState.COMMITTED,
            )
        ).all()
    touched = set(unfinished) | (graph.brain_names() - set(current))
    for name in sorted(touched):
        log.warning("reconciling brain %r: removing an unfinished create or delete", name)
        graph.delete_brain(name)
    touched |= remove_superseded_generations(metadata, graph, current_keys=current)
    for name, key in graph.brain_node_keys().items():
        if name in current and key != current[name]:
            graph.set_brain_key(name, current[name])
            touched.add(name)
    links = [
        (str(name), int(number), str(digest), str(dataset), int(dataset_version), int(rows))
        for name, number, digest, dataset, dataset_version, rows in trained_on
    ]
    touched |= add_missing_dataset_links(graph, links)
    if unfinished:
        with metadata.session() as session:
            for brain in session.scalars(select(Brain).where(Brain.name.in_(unfinished))):
                session.delete(brain)
    return sorted(touched)


def add_missing_dataset_links(
    graph: GraphStore, links: list[tuple[str, int, str, str, int, int]]
) -> set[str]:
    """Add the TRAINED_ON edge of each committed version that lacks one (a crash right
    after its commit); recovery only ever adds these edges, never deletes one."""
    present = graph.trained_on_versions()
    added: set[str] = set()
    for name, number, content_hash, dataset, dataset_version, n_rows in links:
        if (name, number) not in present:
            graph.link_dataset_version(name, number, content_hash, dataset, dataset_version, n_rows)
            added.add(name)
    return added


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
