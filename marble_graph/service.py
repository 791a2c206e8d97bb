"""The service facade: every brain operation the CLI and the server perform.

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
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from torch import Tensor

from marble_graph import exchange
from marble_graph.blobs import BlobStore
from marble_graph.brain_graph import BrainGraph, graph_hash
from marble_graph.config import MarbleConfig, config_from_mapping, config_hash
from marble_graph.data_home import DataHome
from marble_graph.datasets import load_dataset
from marble_graph.errors import Conflict, StoreError, UnknownBrain, ValidationFailed
from marble_graph.failpoints import failpoint
from marble_graph.integrity import RepairReport, repair_brain, verify_brains
from marble_graph.model import BrainModel
from marble_graph.presets import preset_config
from marble_graph.reconcile import reconcile_stores
from marble_graph.resources import graph_schema_dir
from marble_graph.seed import seed_brain_graph
from marble_graph.snapshots import put_graph_snapshot
from marble_graph.store.graph import GraphStore, QueryRows
from marble_graph.store.metadata import (
    Brain,
    BrainState,
    BrainVersion,
    MetadataStore,
    VersionState,
)
from marble_graph.tensors import BrainTensors

log = logging.getLogger(__name__)

BRAIN_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")
Progress = Callable[[str], None]


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


def validate_brain_name(name: str) -> None:
    if not BRAIN_NAME.match(name):
        raise ValidationFailed(
            f"invalid brain name {name!r}: use 1-128 letters, digits, '_', '-' or '.', "
            "starting with a letter"
        )


class BrainService:
    """Opens both stores under one data home and performs brain operations."""

    def __init__(self, config: MarbleConfig, home: DataHome | None = None) -> None:
        self.config = config
        self.home = home or DataHome.resolve(configured=config.storage.home)
        self.home.create_dirs()
        # Counts commits made through this service (creates, deletes, new versions).
        # This process is the graph database's only writer, so an unchanged count
        # means every brain is still at the version a reader last saw.
        self.changes = 0
        # Held by every write to the stores (create, delete, import, write-back,
        # repair, garbage collection): a backup holds it to copy one consistent state.
        self.write_lock = threading.RLock()
        self.blobs = BlobStore(self.home.blobs_dir)
        storage = config.storage
        self.metadata = MetadataStore(storage.metadata_url or self.home.metadata_url)
        self.metadata.upgrade()
        _check_engine_matches_home(self.home, storage.graph_engine, self.metadata)
        self.graph = GraphStore(
            self.home.graph_path(storage.graph_engine),
            engine=storage.graph_engine,
            buffer_pool_mb=storage.buffer_pool_mb,
            query_concurrency=storage.query_concurrency,
        )
        try:
            self.graph.migrate(graph_schema_dir())
            self.reconcile()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self.graph.close()
        self.metadata.dispose()

    def __enter__(self) -> BrainService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- consistency between the stores --------------------------------------------

    def reconcile(self) -> list[str]:
        """Finish or undo half-done writes, then verify every brain (reconcile.py, integrity.py)."""
        with self.write_lock:
            touched = reconcile_stores(self.metadata, self.graph)
            verify_brains(self.metadata, self.graph, self.config.storage.verify_hash_max_synapses)
        return touched

    def repair_brain(self, name: str) -> RepairReport:
        """Rebuild a damaged brain's current version from its snapshot (integrity.py)."""
        with self.write_lock:
            with self.metadata.session() as session:
                self._committed_row(session, name)
                new_key = next_graph_key(session)
            report = repair_brain(self.metadata, self.graph, self.blobs, name, new_key)
            if report.repaired:
                self.changes += 1
        return report

    # -- lifecycle -----------------------------------------------------------------

    def create_brain(
        self,
        name: str,
        config: MarbleConfig | None = None,
        exist_ok: bool = False,
        progress: Progress | None = None,
    ) -> BrainInfo:
        """Seed a new brain from ``config`` (default: the service's) and persist it."""
        validate_brain_name(name)
        existing = self._find(name)
        if existing is not None:
            if exist_ok:
                return existing
            raise Conflict(f"brain {name!r} already exists (delete it first or pick another name)")
        config = config or self.config
        _report(progress, f"seeding {config.seed.width}x{config.seed.height} Mandelbrot grid")
        graph = seed_brain_graph(config)
        return self._persist_new_brain(name, config, graph, progress)

    def create_brain_for_dataset(
        self,
        name: str,
        dataset_spec: str,
        config: MarbleConfig | None = None,
        exist_ok: bool = False,
        progress: Progress | None = None,
    ) -> BrainInfo:
        """Create a brain from the preset of a dataset's task, sized to the dataset."""
        config = config or self.config
        dataset = load_dataset(
            dataset_spec,
            feature_columns=config.dataset.feature_columns,
            target_column=config.dataset.target_column,
        )
        sized = preset_config(
            dataset.task, dataset.n_features, dataset.n_outputs, config, n_rows=dataset.n_rows
        )
        return self.create_brain(name, sized, exist_ok=exist_ok, progress=progress)

    def _persist_new_brain(
        self,
        name: str,
        config: MarbleConfig,
        graph: BrainGraph,
        progress: Progress | None = None,
        note: str = "seed",
        shared_state: dict[str, Tensor] | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> BrainInfo:
        """Commit ``graph`` as version 1 of a new brain, with an imported version's
        shared layer and metrics when given (a seeded brain has neither)."""
        digest = graph_hash(graph)
        snapshot_blob = put_graph_snapshot(self.blobs, graph)
        params_blob = None if shared_state is None else self.blobs.put_tensors(shared_state)
        with self.write_lock:
            return self._commit_new_brain(
                name,
                config,
                graph,
                digest,
                snapshot_blob,
                progress,
                note,
                params_blob=params_blob,
                metrics=metrics or {},
            )

    def _commit_new_brain(
        self,
        name: str,
        config: MarbleConfig,
        graph: BrainGraph,
        digest: str,
        snapshot_blob: str,
        progress: Progress | None,
        note: str,
        params_blob: str | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> BrainInfo:
        with self.metadata.session() as session:
            if session.scalar(select(Brain.id).where(Brain.name == name)) is not None:
                raise Conflict(f"brain {name!r} already exists")
            graph_key = next_graph_key(session)
            session.add(
                Brain(
                    name=name,
                    graph_key=graph_key,
                    state=BrainState.PENDING,
                    config=config.model_dump(mode="json"),
                    config_hash=config_hash(config),
                    random_seed=config.seed.random_seed,
                )
            )
        try:
            failpoint("create.before_graph")
            _report(
                progress, f"writing {graph.neuron_count} neurons, {graph.synapse_count} synapses"
            )
            self.graph.insert_graph(name, graph_key, graph)
            failpoint("create.after_graph")
            with self.metadata.session() as session:
                brain = session.scalars(select(Brain).where(Brain.name == name)).one()
                now = datetime.now(UTC)
                brain.state = BrainState.COMMITTED
                brain.graph_hash = digest
                brain.neuron_count = graph.neuron_count
                brain.synapse_count = graph.synapse_count
                brain.current_version = 1
                session.add(
                    BrainVersion(
                        brain_id=brain.id,
                        version=1,
                        state=VersionState.COMMITTED,
                        config_hash=brain.config_hash,
                        graph_hash=digest,
                        neuron_count=graph.neuron_count,
                        synapse_count=graph.synapse_count,
                        metrics=metrics or {},
                        note=note,
                        graph_key=graph_key,
                        params_blob=params_blob,
                        snapshot_blob=snapshot_blob,
                        created_at=now,
                        committed_at=now,
                    )
                )
        except BaseException:
            self._undo_create(name)
            raise
        self.changes += 1
        info = self._find(name)
        assert info is not None
        return info

    def _undo_create(self, name: str) -> None:
        log.warning("create of brain %r failed; removing what was written", name)
        self.graph.delete_brain(name)
        with self.metadata.session() as session:
            for brain in session.scalars(select(Brain).where(Brain.name == name)):
                session.delete(brain)

    def delete_brain(self, name: str) -> None:
        """Delete a brain from both stores."""
        with self.write_lock:
            with self.metadata.session() as session:
                brain = self._committed_row(session, name)
                brain.state = BrainState.DELETING
            failpoint("delete.after_mark")
            self.graph.delete_brain(name)
            self.changes += 1
            failpoint("delete.after_graph")
            with self.metadata.session() as session:
                for brain in session.scalars(select(Brain).where(Brain.name == name)):
                    session.delete(brain)

    # -- reads ---------------------------------------------------------------------

    def list_brains(self) -> list[BrainInfo]:
        with self.metadata.session() as session:
            rows = session.scalars(
                select(Brain).where(Brain.state == BrainState.COMMITTED).order_by(Brain.name)
            ).all()
            return [_info(b) for b in rows]

    def get_brain(self, name: str) -> BrainInfo:
        info = self._find(name)
        if info is None:
            raise UnknownBrain(name, [b.name for b in self.list_brains()])
        return info

    def show_brain(self, name: str) -> BrainDetails:
        info = self.get_brain(name)
        with self.metadata.session() as session:
            config = dict(self._committed_row(session, name).config)
        kinds, types = self.graph.counts_by_kind_and_type(info.graph_key)
        return BrainDetails(info=info, neurons_by_kind=kinds, synapses_by_type=types, config=config)

    def brain_config(self, name: str) -> MarbleConfig:
        with self.metadata.session() as session:
            stored = dict(self._committed_row(session, name).config)
        return config_from_mapping(stored, source=f"brain {name!r}")

    def load_graph(self, name: str) -> BrainGraph:
        """The brain's current version, read from the graph store."""
        return self.graph.load_graph(name, self.get_brain(name).graph_key)

    def stored_graph_hash(self, name: str) -> str:
        """Hash recomputed from the graph store's contents (not the recorded value)."""
        return graph_hash(self.load_graph(name))

    def query(
        self, cypher: str, params: dict[str, Any] | None = None, limit: int | None = None
    ) -> QueryRows:
        """Run a read-only exploration query against the graph."""
        storage = self.config.storage
        return self.graph.read_only_query(
            cypher,
            params,
            row_limit=limit or storage.query_row_limit,
            timeout_s=storage.query_timeout_s,
        )

    # -- export and import ---------------------------------------------------------

    def export_brain(self, name: str, path: Path, fmt: str = "auto") -> Path:
        """Write a brain's current version to ``path`` (``.json`` file or Parquet
        directory): graph, config, shared layer and metrics (exchange.py)."""
        info = self.get_brain(name)
        config = self.brain_config(name)
        graph = self.graph.load_graph(name, info.graph_key)
        with self.metadata.session() as session:
            version = session.scalars(
                select(BrainVersion)
                .join(Brain)
                .where(Brain.name == name, BrainVersion.version == info.version)
            ).one()
            params_blob, metrics = version.params_blob, dict(version.metrics)
        shared = self.blobs.get_tensors(params_blob) if params_blob else None
        return exchange.write_export(path, info.as_dict(), config, graph, fmt, shared, metrics)

    def import_brain(
        self, path: Path, name: str | None = None, progress: Progress | None = None
    ) -> BrainInfo:
        """Create a brain from an export whose graph and model hashes check out.

        Version 1 of the new brain carries the export's shared layer and
        metrics, so it infers exactly as the exported version did.
        """
        exported = exchange.read_brain_export(path)
        new_name = name or str(exported.manifest["name"])
        validate_brain_name(new_name)
        config = config_from_mapping(exported.manifest["config"], source=f"{path} (config)")
        if self._find(new_name) is not None:
            raise Conflict(f"brain {new_name!r} already exists (import with --name NEW)")
        if exported.shared_state is not None:
            _check_shared_layer(exported.graph, config, exported.shared_state, path)
        return self._persist_new_brain(
            new_name,
            config,
            exported.graph,
            progress,
            note=f"import {path}",
            shared_state=exported.shared_state,
            metrics=exported.metrics,
        )

    # -- helpers -------------------------------------------------------------------

    def _find(self, name: str) -> BrainInfo | None:
        with self.metadata.session() as session:
            brain = committed_brain(session, name)
            return None if brain is None else _info(brain)

    def _committed_row(self, session: Session, name: str) -> Brain:
        brain = committed_brain(session, name)
        if brain is None:
            raise UnknownBrain(name, [b.name for b in self.list_brains()])
        return brain


def _info(brain: Brain) -> BrainInfo:
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


def next_graph_key(session: Session) -> int:
    """A graph key no brain or version has used (keys are never reused)."""
    used = [
        session.scalar(select(func.max(Brain.graph_key))),
        session.scalar(select(func.max(BrainVersion.graph_key))),
    ]
    return max((k or 0) for k in used) + 1


def _check_engine_matches_home(home: DataHome, engine: str, metadata: MetadataStore) -> None:
    """Refuse to open a home whose brains live in the other engine's database file."""
    if home.graph_path(engine).exists():
        return
    others = [e for e in ("kuzu", "ladybug") if e != engine and home.graph_path(e).exists()]
    if not others:
        return
    with metadata.session() as session:
        has_brains = session.scalar(select(func.count()).select_from(Brain)) or 0
    if has_brains:
        raise StoreError(
            f"the brains of {home.root} are in a {others[0]} database "
            f"({home.graph_path(others[0])}) but storage.graph_engine is {engine!r}: "
            f"set storage.graph_engine: {others[0]} in marble.yaml, or back the home "
            "up with that engine and restore it into a new home"
        )


def _check_shared_layer(
    graph: BrainGraph, config: MarbleConfig, shared: dict[str, Tensor], path: Path
) -> None:
    """Refuse a shared layer the model cannot load: names or shapes that do not fit."""
    model = BrainModel(BrainTensors.from_graph(graph, "cpu"), config.core, config.seed.random_seed)
    try:
        model.load_shared_state(shared)
    except (ValueError, RuntimeError) as exc:
        raise ValidationFailed(
            f"{path}: the shared layer does not fit the brain's graph and config ({exc})"
        ) from exc


def _report(progress: Progress | None, message: str) -> None:
    log.debug(message)
    if progress is not None:
        progress(message)
