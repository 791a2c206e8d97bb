"""``BrainService``: the one door to MARBLE's brains.

The CLI and the server (REST, GraphQL, jobs) call this class and nothing
below it. It opens the stores of one data home (``Stores``) and hands them to
the operations, which live below it by concept and never see the service:

- ``marble_graph.brains``: lifecycle (create, delete), training, evaluation,
  serving (inference), versions (load, write-back), signal settings, transfer
  (export, import), pathway;
- ``marble_graph.export_files``: the export file formats (``brains.transfer`` uses them);
- ``marble_graph.backup``: backups of the whole home;
- ``marble_graph.store``: SQL records (metadata) and graph reads (graph).

docs/architecture.md draws the layers; ``make lint`` checks them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from marble_graph import backup
from marble_graph.backup_format import BackupManifest
from marble_graph.blobs import BlobStore
from marble_graph.brain_graph import BrainGraph, graph_hash
from marble_graph.brain_names import BRAIN_NAME, validate_brain_name
from marble_graph.brains import (
    brain_datasets,
    evaluation,
    lifecycle,
    serving,
    signal_settings,
    training,
    transfer,
)
from marble_graph.brains.lifecycle import BrainDetails, Progress, report
from marble_graph.brains.pathway import StrongestPath, find_pathway
from marble_graph.brains.serving import Inference, ModelCache, ServingModel
from marble_graph.brains.training import EpochCallback, RunSummary
from marble_graph.bundled_files import graph_schema_dir
from marble_graph.config import MarbleConfig
from marble_graph.data_home import DataHome
from marble_graph.datasets import load_dataset
from marble_graph.devices import resolve_device
from marble_graph.errors import Conflict, NotFound, StoreError
from marble_graph.integrity import RepairReport, repair_brain, verify_brains
from marble_graph.presets import preset_config
from marble_graph.reconcile import reconcile_stores
from marble_graph.seed import seed_brain_graph
from marble_graph.store.graph import GraphStore, QueryRows
from marble_graph.store.graph_reads import (
    GraphReads,
    NeuronSelection,
    Row,
    SynapseSelection,
    uid_range,
)
from marble_graph.store.home_stores import Stores
from marble_graph.store.metadata import MetadataStore, brain_records, training_runs
from marble_graph.store.metadata.brain_records import BrainInfo
from marble_graph.store.metadata.idempotency import IdempotencyKeyStore, StoredResponse
from marble_graph.store.metadata.job_records import JOB_STATES, RESUMABLE, JobRecords, JobView
from marble_graph.store.metadata.models import JobState, RunState
from marble_graph.tokens import TokenStore

__all__ = [
    "BRAIN_NAME",
    "JOB_STATES",
    "RESUMABLE",
    "BrainDetails",
    "BrainInfo",
    "BrainService",
    "GraphReads",
    "IdempotencyKeyStore",
    "Inference",
    "JobRecords",
    "JobState",
    "JobView",
    "ModelCache",
    "NeuronSelection",
    "Row",
    "RunState",
    "RunSummary",
    "ServingModel",
    "StoredResponse",
    "StrongestPath",
    "SynapseSelection",
    "TokenStore",
    "uid_range",
]


class BrainService:
    """Opens the stores under one data home; every brain operation is a method."""

    def __init__(self, config: MarbleConfig, home: DataHome | None = None) -> None:
        self.config = config
        home = home or DataHome.resolve(configured=config.storage.home)
        home.create_dirs()
        storage = config.storage
        metadata = MetadataStore(storage.metadata_url or home.metadata_url)
        metadata.upgrade()
        _check_engine_matches_home(home, storage.graph_engine, metadata)
        graph = GraphStore(
            home.graph_path(storage.graph_engine),
            engine=storage.graph_engine,
            buffer_pool_mb=storage.buffer_pool_mb,
            query_concurrency=storage.query_concurrency,
        )
        self.stores = Stores(home, metadata, graph, BlobStore(home.blobs_dir), storage)
        # Background jobs' rows; the server's job manager queues and moves them.
        self.jobs = JobRecords(metadata)
        # Graph exploration reads (GraphQL's neurons, synapses, lobes), one query each.
        self.reads = GraphReads(graph)
        # Keyed POSTs' stored answers (the server's Idempotency-Key middleware).
        self.idempotency_keys = IdempotencyKeyStore(metadata)
        # API tokens, stored hashed.
        self.tokens = TokenStore(metadata)
        try:
            graph.migrate(graph_schema_dir())
            self.reconcile()
        except BaseException:
            self.close()
            raise

    @staticmethod
    def ensure_home_available(config: MarbleConfig, home: DataHome) -> None:
        """Raise StoreLocked at once when another process holds the home's graph database."""
        GraphStore.ensure_available(home.graph_path(config.storage.graph_engine))

    def close(self) -> None:
        self.stores.graph.close()
        self.stores.metadata.dispose()

    def __enter__(self) -> BrainService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # The stores, for tools and tests that work below the door (benchmarks,
    # crash tests); the CLI and the server use the methods.
    @property
    def home(self) -> DataHome:
        return self.stores.home

    @property
    def metadata(self) -> MetadataStore:
        return self.stores.metadata

    @property
    def graph(self) -> GraphStore:
        return self.stores.graph

    @property
    def blobs(self) -> BlobStore:
        return self.stores.blobs

    @property
    def write_lock(self) -> Any:
        return self.stores.write_lock

    @property
    def changes(self) -> int:
        """Commits made through this service; unchanged means no brain moved."""
        return self.stores.changes

    def device(self, requested: str | torch.device | None = None) -> torch.device:
        """The device to run on: ``requested`` when given, else ``core.device``."""
        return resolve_device(requested, self.config.core.device)

    # -- consistency between the stores --------------------------------------------

    def reconcile(self) -> list[str]:
        """Finish or undo half-done writes, then verify every brain (reconcile.py, integrity.py)."""
        stores = self.stores
        with stores.write_lock:
            touched = reconcile_stores(stores.metadata, stores.graph)
            verify_brains(stores.metadata, stores.graph, stores.storage.verify_hash_max_synapses)
        return touched

    def repair_brain(self, name: str) -> RepairReport:
        """Rebuild a damaged brain's current version from its snapshot (integrity.py)."""
        stores = self.stores
        with stores.write_lock:
            with stores.metadata.session() as session:
                brain_records.committed_brain_row(stores.metadata, session, name)
                new_key = brain_records.next_graph_key(session)
            result = repair_brain(stores.metadata, stores.graph, stores.blobs, name, new_key)
            if result.repaired:
                stores.committed()
        return result

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
        existing = brain_records.find_brain(self.metadata, name)
        if existing is not None:
            if exist_ok:
                return existing
            raise Conflict(f"brain {name!r} already exists (delete it first or pick another name)")
        config = config or self.config
        report(progress, f"seeding {config.seed.width}x{config.seed.height} Mandelbrot grid")
        graph = seed_brain_graph(config)
        return lifecycle.persist_new_brain(self.stores, name, config, graph, progress)

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

    def delete_brain(self, name: str) -> None:
        """Delete a brain from both stores."""
        lifecycle.delete_brain(self.stores, name)

    # -- reads ---------------------------------------------------------------------

    def list_brains(self) -> list[BrainInfo]:
        return brain_records.list_brains(self.metadata)

    def get_brain(self, name: str) -> BrainInfo:
        return brain_records.get_brain(self.metadata, name)

    def show_brain(self, name: str) -> BrainDetails:
        return lifecycle.show_brain(self.stores, name)

    def brain_config(self, name: str) -> MarbleConfig:
        return brain_records.brain_config(self.metadata, name)

    def list_versions(self, name: str) -> list[dict[str, Any]]:
        """The brain's committed versions, oldest first."""
        return brain_records.list_versions(self.metadata, name)

    def list_runs(self, name: str, state: str | None = None) -> list[dict[str, Any]]:
        """The brain's training runs, oldest first (optionally only those in ``state``)."""
        return training_runs.list_runs(self.metadata, name, state)

    def run_epochs(self, run_id: int) -> list[dict[str, Any]]:
        """The per-epoch metrics of run ``run_id``."""
        return training_runs.run_epochs(self.metadata, run_id)

    def resumable_epochs(self, name: str) -> int | None:
        """Epochs planned by the brain's latest unfinished run; None when there is none."""
        try:
            run = training_runs.latest_unfinished_run(self.metadata, name)
        except NotFound:
            return None
        return int(run.summary.get("epochs_planned", 0))

    def graph_counts(self, graph_key: int) -> tuple[dict[str, int], dict[str, int]]:
        """Neurons by kind and synapses by type of one brain generation."""
        return self.graph.counts_by_kind_and_type(graph_key)

    def load_graph(self, name: str, graph_key: int | None = None) -> BrainGraph:
        """The brain's current version (or the generation ``graph_key`` of a record
        the caller already read), from the graph store."""
        key = self.get_brain(name).graph_key if graph_key is None else graph_key
        return self.graph.load_graph(name, key)

    def stored_graph_hash(self, name: str) -> str:
        """Hash recomputed from the graph store's contents (not the recorded value)."""
        return graph_hash(self.load_graph(name))

    def pathway(
        self, graph_key: int, start: int, end: int
    ) -> tuple[StrongestPath, pa.Table] | None:
        """The strongest path between two neurons of one brain generation (brains/pathway.py)."""
        return find_pathway(self.graph, graph_key, start, end)

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

    # -- training, evaluation, inference -------------------------------------------

    def train(
        self,
        name: str,
        dataset_spec: str,
        *,
        epochs: int | None = None,
        device: str | None = None,
        resume: bool = False,
        on_epoch: EpochCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> RunSummary:
        """Train ``name`` on a dataset; the result is committed as a new version."""
        return training.train_brain(
            self.stores,
            name,
            dataset_spec,
            epochs=epochs,
            device=self.device(device),
            resume=resume,
            on_epoch=on_epoch,
            should_stop=should_stop,
        )

    def evaluate(
        self, name: str, dataset_spec: str, *, split: str = "test", device: str | None = None
    ) -> dict[str, float]:
        """Score the current version on a dataset's test split (or ``all``); changes nothing."""
        return evaluation.evaluate_brain(
            self.stores, name, dataset_spec, split=split, device=self.device(device)
        )

    def infer(self, name: str, features: np.ndarray, device: str | None = None) -> Inference:
        """Outputs of the brain's current version; deterministic and changes nothing."""
        return serving.infer(self.stores, name, features, self.device(device))

    def serving_model(self, name: str, device: str | None = None) -> ServingModel:
        """The brain's current version, held in memory for repeated inference."""
        return ServingModel.load(self.stores, name, self.device(device))

    def model_cache(self, device: str | None = None) -> ModelCache:
        """A cache of serving models that follows each brain's current version."""
        return ModelCache(self.stores, self.device(device))

    def check_dataset_fits(self, name: str, dataset_spec: str) -> None:
        """Raise ValidationFailed unless ``dataset_spec`` loads with the brain's widths."""
        info = self.get_brain(name)
        config = self.brain_config(name)
        kinds, _ = self.graph.counts_by_kind_and_type(info.graph_key)
        brain_datasets.load_dataset_for_brain(
            dataset_spec, config, kinds.get("input", 0), kinds.get("output", 0)
        )

    def set_neuromodulation(self, name: str, **signals: Any) -> dict[str, Any]:
        """Set the signals the brain's next training run starts from; returns the section."""
        return signal_settings.set_neuromodulation(self.metadata, name, **signals)

    # -- backups -------------------------------------------------------------------

    def create_backup(self, dest: Path, progress: Progress | None = None) -> BackupManifest:
        """Copy this home, consistently, to ``dest`` while the service keeps serving."""
        return backup.create_backup(self.stores, dest, progress)

    def backup_into_home(self, name: str, progress: Progress | None = None) -> BackupManifest:
        """Back up to ``<home>/backups/<name>``."""
        return backup.backup_into_home(self.stores, name, progress)

    def restore_backup(self, src: Path, progress: Progress | None = None) -> BackupManifest:
        """Restore the backup at ``src`` into this home, which must be empty."""
        return backup.restore_backup(self.stores, src, progress)

    # -- export and import ---------------------------------------------------------

    def export_brain(self, name: str, path: Path, fmt: str = "auto") -> Path:
        """Write a brain's current version to ``path`` (``.json`` file or Parquet
        directory): graph, config, shared layer and metrics (export_files.py)."""
        return transfer.export_brain(self.stores, name, path, fmt)

    def import_brain(
        self, path: Path, name: str | None = None, progress: Progress | None = None
    ) -> BrainInfo:
        """Create a brain from an export whose graph and model hashes check out; it
        infers exactly as the exported version did."""
        return transfer.import_brain(self.stores, path, name, progress)


def _check_engine_matches_home(home: DataHome, engine: str, metadata: MetadataStore) -> None:
    """Refuse to open a home whose brains live in the other engine's database file."""
    if home.graph_path(engine).exists():
        return
    others = [e for e in ("kuzu", "ladybug") if e != engine and home.graph_path(e).exists()]
    if not others:
        return
    if brain_records.count_brains(metadata):
        raise StoreError(
            f"the brains of {home.root} are in a {others[0]} database "
            f"({home.graph_path(others[0])}) but storage.graph_engine is {engine!r}: "
            f"set storage.graph_engine: {others[0]} in marble.yaml, or back the home "
            "up with that engine and restore it into a new home"
        )
