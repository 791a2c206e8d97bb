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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import torch

from marble_graph import backup, dataset_versions
from marble_graph.backup_format import BackupManifest
from marble_graph.blobs import BlobStore
from marble_graph.brain_graph import BrainGraph, graph_hash
from marble_graph.brain_names import BRAIN_NAME, validate_brain_name
from marble_graph.brains import (
    brain_datasets,
    dreams,
    evaluation,
    history,
    lifecycle,
    memories,
    object_inference,
    serving,
    signal_settings,
    training,
    transfer,
)
from marble_graph.brains.activations import NeuronActivations, neuron_activations
from marble_graph.brains.dreams import DreamSummary
from marble_graph.brains.lifecycle import BrainDetails, Progress, report
from marble_graph.brains.memories import MemoryPage, MemoryRecord
from marble_graph.brains.pathway import StrongestPath, find_pathway
from marble_graph.brains.serving import Inference, ModelCache, ServingModel
from marble_graph.brains.training import EpochCallback, RunSummary
from marble_graph.bundled_files import graph_schema_dir
from marble_graph.config import MarbleConfig
from marble_graph.data_home import DataHome
from marble_graph.dataset_versions import DatasetRef
from marble_graph.dataset_versions.creation import DATASET_NAME
from marble_graph.dataset_versions.loading import select_rows
from marble_graph.datasets import ingest, python_rows
from marble_graph.datasets.rowsets import RowDiff
from marble_graph.devices import resolve_device
from marble_graph.errors import Conflict, NotFound, StoreError
from marble_graph.integrity import RepairReport, repair_brain, verify_brains
from marble_graph.presets import preset_config
from marble_graph.reconcile import reconcile_stores
from marble_graph.seed import seed_brain_graph
from marble_graph.store import lineage
from marble_graph.store.graph import GraphStore, QueryRows
from marble_graph.store.graph_reads import (
    GraphReads,
    NeuronSelection,
    Row,
    SynapseSelection,
    uid_range,
)
from marble_graph.store.home_stores import Stores
from marble_graph.store.metadata import (
    MetadataStore,
    brain_records,
    dataset_records,
    training_runs,
)
from marble_graph.store.metadata.brain_records import BrainInfo
from marble_graph.store.metadata.dataset_records import DatasetVersionInfo
from marble_graph.store.metadata.idempotency import IdempotencyKeyStore, StoredResponse
from marble_graph.store.metadata.job_records import JOB_STATES, RESUMABLE, JobRecords, JobView
from marble_graph.store.metadata.models import JobState, RunState
from marble_graph.store.metadata.tag_names import TAG_PATTERN as TAG
from marble_graph.store.metadata.version_history import VersionRef
from marble_graph.tokens import TokenStore

__all__ = [
    "BRAIN_NAME",
    "DATASET_NAME",
    "JOB_STATES",
    "RESUMABLE",
    "TAG",
    "BrainDetails",
    "BrainInfo",
    "BrainService",
    "DatasetRef",
    "DatasetVersionInfo",
    "DreamSummary",
    "GraphReads",
    "IdempotencyKeyStore",
    "Inference",
    "JobRecords",
    "JobState",
    "JobView",
    "MemoryPage",
    "MemoryRecord",
    "ModelCache",
    "NeuronActivations",
    "NeuronSelection",
    "ObjectInference",
    "Row",
    "RunState",
    "RunSummary",
    "ServingModel",
    "StoredResponse",
    "StrongestPath",
    "SynapseSelection",
    "TokenStore",
    "VersionRef",
    "uid_range",
]


@dataclass
class ObjectInference:
    """Inference on raw objects: the numeric result and the decoded outputs (None when the
    target's encoder cannot decode)."""

    inference: Inference
    decoded: list[Any] | None


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
            compression=storage.graph_compression,
        )
        self.stores = Stores(
            home, metadata, graph, BlobStore(home.blobs_dir), storage, versions=config.versions
        )
        # Background jobs' rows; the server's job manager queues and moves them.
        self.jobs = JobRecords(metadata)
        # Graph exploration reads (GraphQL's neurons, synapses, lobes), one query each.
        self.reads = GraphReads(graph)
        # Keyed POSTs' stored answers (the server's Idempotency-Key middleware).
        self.idempotency_keys = IdempotencyKeyStore(metadata)
        # API tokens, stored hashed.
        self.tokens = TokenStore(metadata)
        # Serving models that embed remembered inputs and recall queries, on core.device;
        # made at the first memory operation, so a service for other work never
        # resolves (or fails on) a device it does not use.
        self._memory_models: ModelCache | None = None
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
        dataset = brain_datasets.load_any_dataset(self.stores, dataset_spec, config).dataset
        sized = preset_config(
            dataset.task, dataset.n_features, dataset.n_outputs, config, n_rows=dataset.n_rows
        )
        return self.create_brain(name, sized, exist_ok=exist_ok, progress=progress)

    def delete_brain(self, name: str) -> None:
        """Delete a brain from both stores (its memories too)."""
        lifecycle.delete_brain(self.stores, name)
        self.stores.memories.drop(name)
        if self._memory_models is not None:
            self._memory_models.forget(name)

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
        """The brain's committed versions, oldest first, with tags, current and collected."""
        return history.list_versions(self.stores, name)

    # -- brain history (brains/history.py): a version is a number or a tag ---------

    def resolve_version(self, name: str, ref: VersionRef) -> int:
        """The version number ``ref`` (a number, its digits, or a tag) names."""
        return history.resolve_version(self.stores, name, ref)

    def show_version(self, name: str, ref: VersionRef) -> dict[str, Any]:
        """One version's record with its tags and whether retention collected it."""
        return history.show_version(self.stores, name, ref)

    def tag_version(self, name: str, ref: VersionRef, tag: str) -> dict[str, Any]:
        """Name a version by ``tag`` (kept from retention); returns the version's record."""
        return history.tag_version(self.stores, name, ref, tag)

    def untag_version(self, name: str, tag: str) -> dict[str, Any]:
        """Remove a tag; returns the record of the version it named."""
        return history.untag_version(self.stores, name, tag)

    def diff_versions(self, name: str, a: VersionRef, b: VersionRef) -> dict[str, Any]:
        """Neurons and synapses added and removed from ``a`` to ``b``, and weight changes."""
        return history.diff_versions(self.stores, name, a, b)

    def rollback(self, name: str, ref: VersionRef) -> BrainInfo:
        """Make version ``ref`` current again as a new version, bit for bit."""
        return history.rollback(self.stores, name, ref)

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

    def infer(
        self,
        name: str,
        features: np.ndarray,
        device: str | None = None,
        version: VersionRef | None = None,
    ) -> Inference:
        """Outputs of the brain's current version (or exactly ``version``, a number or a
        tag); deterministic and changes nothing."""
        return serving.infer(self.stores, name, features, self.device(device), version)

    def serving_model(
        self, name: str, device: str | None = None, version: VersionRef | None = None
    ) -> ServingModel:
        """The brain's current version (or ``version``), held in memory for repeated inference."""
        return ServingModel.load(self.stores, name, self.device(device), version)

    @property
    def memory_models(self) -> ModelCache:
        """The serving models memory operations embed with and activations run on (made
        on first use)."""
        if self._memory_models is None:
            self._memory_models = ModelCache(self.stores, self.device())
        return self._memory_models

    def model_cache(self, device: str | None = None) -> ModelCache:
        """A cache of serving models that follows each brain's current version."""
        return ModelCache(self.stores, self.device(device))

    def check_dataset_fits(self, name: str, dataset_spec: str) -> None:
        """Raise ValidationFailed unless ``dataset_spec`` loads with the brain's widths."""
        info = self.get_brain(name)
        config = self.brain_config(name)
        kinds, _ = self.graph.counts_by_kind_and_type(info.graph_key)
        brain_datasets.load_dataset_for_brain(
            self.stores, dataset_spec, config, kinds.get("input", 0), kinds.get("output", 0)
        )

    def dream(
        self,
        name: str,
        cycles: int,
        *,
        device: str | None = None,
        on_cycle: Callable[[int, float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> DreamSummary:
        """Replay ``cycles`` batches of the brain's recorded experiences; a completed dream
        is committed as a new version, a cancelled one writes nothing (brains/dreams.py)."""
        return dreams.dream_brain(
            self.stores,
            name,
            cycles,
            device=self.device(device),
            on_cycle=on_cycle,
            should_stop=should_stop,
        )

    def check_dream(self, name: str, cycles: int) -> None:
        """Raise unless ``name`` can dream ``cycles`` cycles now: ValidationFailed for cycles
        out of 1..100000, NotFound, or Conflict when it has recorded no experiences."""
        dreams.check_dream(self.stores, name, cycles)

    def set_neuromodulation(self, name: str, **signals: Any) -> dict[str, Any]:
        """Set the signals the brain's next training run starts from; returns the section."""
        return signal_settings.set_neuromodulation(self.metadata, name, **signals)

    # -- datasets ------------------------------------------------------------------

    def create_dataset(
        self,
        name: str,
        source: str | Path | object,
        *,
        fmt: str | None = None,
        input_columns: list[str] | None = None,
        target_column: str | None = None,
        encoders: dict[str, dict[str, Any]] | None = None,
        parent: str | None = None,
        note: str | None = None,
        description: str | None = None,
    ) -> tuple[DatasetVersionInfo, bool]:
        """Record rows as the next version of dataset ``name``; returns it and whether it is new.

        ``source`` is a file (CSV, JSON Lines, Parquet, Arrow) or Python rows: a
        pyarrow Table, a pandas DataFrame, a mapping of columns, ``(X, y)``
        arrays, or a list of ``(input, target)`` pairs. ``parent`` names the
        version this one derives from (``"3"`` or a tag).
        """
        if isinstance(source, str | Path):
            table = ingest.read_rows_file(source, fmt)
        else:
            table = python_rows.rows_from_objects(source)
        return self._create_dataset_from_table(
            name, table, input_columns, target_column, encoders, parent, note, description
        )

    def upload_dataset(
        self,
        name: str,
        stream: BinaryIO,
        fmt: str,
        *,
        input_columns: list[str] | None = None,
        target_column: str | None = None,
        encoders: dict[str, dict[str, Any]] | None = None,
        parent: str | None = None,
        note: str | None = None,
    ) -> tuple[DatasetVersionInfo, bool]:
        """``create_dataset`` from an uploaded file (already spooled, size-checked)."""
        table = ingest.read_rows_stream(stream, fmt, source=f"upload for dataset {name!r}")
        return self._create_dataset_from_table(
            name, table, input_columns, target_column, encoders, parent, note, None
        )

    def _create_dataset_from_table(
        self,
        name: str,
        table: pa.Table,
        input_columns: list[str] | None,
        target_column: str | None,
        encoders: dict[str, dict[str, Any]] | None,
        parent: str | None,
        note: str | None,
        description: str | None,
    ) -> tuple[DatasetVersionInfo, bool]:
        parent_info = None
        if parent is not None:
            # "3" or a tag names a version of this dataset; "other@3" one of another.
            ref = DatasetRef.parse(parent) if "@" in parent else DatasetRef(name, parent)
            parent_info = dataset_records.get_dataset_version(self.metadata, ref.name, ref.ref)
        return dataset_versions.create_version(
            self.stores,
            name,
            table,
            input_columns=input_columns,
            target_column=target_column,
            encoders=encoders,
            parent=parent_info,
            note=note,
            description=description,
        )

    def list_datasets(self) -> list[dict[str, Any]]:
        """Every stored dataset with its number of versions and latest version."""
        return dataset_records.list_datasets(self.metadata)

    def dataset_versions(self, name: str) -> list[DatasetVersionInfo]:
        """The versions of dataset ``name``, oldest first."""
        return dataset_records.list_dataset_versions(self.metadata, name)

    def dataset_version(self, name: str, ref: str | int | None = None) -> DatasetVersionInfo:
        """Version ``ref`` (a number or tag; None: the latest) of dataset ``name``."""
        return dataset_records.get_dataset_version(self.metadata, name, ref)

    def dataset_rows(
        self,
        name: str,
        ref: str | None = None,
        *,
        split: str | None = None,
        test_fraction: float = 0.25,
        num_shards: int = 1,
        shard_index: int = 0,
    ) -> pa.Table:
        """The rows of a version: all, or one row-hash split and one shard of them."""
        _, table = dataset_versions.version_rows(self.stores, DatasetRef(name, ref))
        if split is None and num_shards == 1:
            return table
        return select_rows(
            table,
            split=split,
            test_fraction=test_fraction,
            num_shards=num_shards,
            shard_index=shard_index,
        )

    def diff_datasets(
        self, name: str, a: str | None, b: str | None
    ) -> tuple[RowDiff, DatasetVersionInfo, DatasetVersionInfo]:
        """Rows added and removed (with multiplicity) from version ``a`` to ``b``."""
        return dataset_versions.diff_versions(self.stores, name, a, b)

    def apply_dataset_diff(
        self, name: str, diff: RowDiff, onto: str | None = None, note: str | None = None
    ) -> tuple[DatasetVersionInfo, bool]:
        """A new version of ``name``: ``diff`` applied onto version ``onto`` (default latest)."""
        return dataset_versions.apply_changes(self.stores, name, diff, onto, note)

    def revert_dataset(
        self, name: str, ref: str | None, note: str | None = None
    ) -> tuple[DatasetVersionInfo, bool]:
        """A new version of ``name`` that undoes version ``ref``'s change to its parent."""
        return dataset_versions.revert_version(self.stores, name, ref, note)

    def tag_dataset(self, name: str, ref: str | None, tag: str) -> DatasetVersionInfo:
        """Name a version with ``tag`` (a tag already in use is a Conflict)."""
        with self.write_lock:
            return dataset_records.tag_dataset_version(self.metadata, name, ref, tag)

    def untag_dataset(self, name: str, tag: str) -> None:
        with self.write_lock:
            dataset_records.untag_dataset(self.metadata, name, tag)

    def brains_trained_on(self, name: str, ref: str | None = None) -> list[dict[str, Any]]:
        """The brain versions trained on a dataset version (lineage in the graph)."""
        info = self.dataset_version(name, ref)
        return lineage.trained_brains(self.graph, info.dataset, info.version)

    def data_of_brain_version(self, name: str, version: int | None = None) -> list[dict[str, Any]]:
        """The dataset versions that trained a brain version and its ancestors, with the
        dataset versions each was derived from (lineage in the graph)."""
        number = self.get_brain(name).version if version is None else version
        return lineage.trained_on(self.graph, name, number)

    def infer_objects(
        self,
        name: str,
        objects: object,
        device: str | None = None,
        version: VersionRef | None = None,
    ) -> ObjectInference:
        """Outputs for raw objects (text, bytes, numbers), encoded as the brain's training
        data was, with outputs decoded by the target's encoder where it can; from the
        current version, or exactly ``version`` (a number or a tag)."""
        if version is None:
            number = self.get_brain(name).version
        else:
            number = self.resolve_version(name, version)
        encoding = object_inference.version_encoding(self.stores, name, number)
        features = encoding.encode_inputs(object_inference.objects_table(encoding, objects))
        result = self.infer(name, features, device, number)
        return ObjectInference(result, encoding.decode_outputs(result.outputs))

    def activations(
        self,
        name: str,
        inputs: Any = None,
        *,
        obj: object | None = None,
        version: VersionRef | None = None,
    ) -> NeuronActivations:
        """Every neuron's final state [N, R] for one input (a row of numbers, or a raw
        object), with the neuron ids, their kinds and the brain's outputs for it, from
        the current version or exactly ``version`` (a number or a tag;
        brains/activations.py); changes nothing."""
        return neuron_activations(
            self.stores, self.memory_models, name, inputs=inputs, obj=obj, version=version
        )

    # -- memories (brains/memories.py, docs/memory.md) --------------------------------

    def remember(
        self,
        name: str,
        *,
        inputs: Any = None,
        objects: object | None = None,
        key: str | None = None,
        keys: list[str | None] | None = None,
        value: Any = None,
        values: list[Any] | None = None,
    ) -> list[int]:
        """Remember feature rows or raw objects (embedded by the current version) or, with
        neither, facts (a key and a value each); returns the new memories' ids."""
        return memories.remember(
            self.stores,
            self.memory_models,
            name,
            inputs=inputs,
            objects=objects,
            key=key,
            keys=keys,
            value=value,
            values=values,
        )

    def recall(
        self,
        name: str,
        *,
        features: Any = None,
        obj: object | None = None,
        embedding: Any = None,
        k: int = 10,
        exact: bool = False,
    ) -> list[MemoryRecord]:
        """The ``k`` memories nearest one query (features, an object or an embedding) by
        cosine, nearest first; ``exact`` scans the graph instead of the index."""
        return memories.recall(
            self.stores,
            self.memory_models,
            name,
            features=features,
            obj=obj,
            embedding=embedding,
            k=k,
            exact=exact,
        )

    def lookup_memory(self, name: str, key: str) -> list[MemoryRecord]:
        """The memories and facts with ``key``, newest first (NotFound when none)."""
        return memories.lookup(self.stores, name, key)

    def forget_memories(
        self, name: str, *, older_than: datetime | None = None, keep_last: int | None = None
    ) -> int:
        """Remove memories older than a time, or all but the newest ``keep_last``; the count."""
        return memories.forget(self.stores, name, older_than=older_than, keep_last=keep_last)

    def list_memories(self, name: str, limit: int = 50, before: int | None = None) -> MemoryPage:
        """A page of the brain's memories, newest first (ids below ``before``)."""
        return memories.list_memories(self.stores, name, limit, before)

    def memory_embedding_width(self, name: str) -> int:
        """Values in one of the brain's embeddings: outputs x representation_size."""
        return memories.embedding_width(self.memory_models, name)

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
        directory): graph, config, shared layer and metrics, and the brain's memories
        (export_files.py)."""
        return transfer.export_brain(self.stores, name, path, fmt)

    def import_brain(
        self, path: Path, name: str | None = None, progress: Progress | None = None
    ) -> BrainInfo:
        """Create a brain from an export whose graph and model hashes check out; it
        infers exactly as the exported version did and holds the export's memories."""
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
