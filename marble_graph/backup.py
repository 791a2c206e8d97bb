"""Online backup of a data home, and restore of a backup into an empty home.

A backup is one consistent state of both stores plus the blobs they name,
taken while the service keeps serving: ``create_backup`` holds the stores'
``write_lock`` (every store write takes it), so creates, deletes, imports and
training write-backs wait until the copy is done; reads, inference and
training compute carry on. The layout is engine- and dialect-neutral::

    manifest.json                  format, versions, engine, schema revision, brains
    metadata/<table>.jsonl         every row of every SQL table (one JSON object a line)
    graph/<graph_key>/             each committed brain's current generation as a
                                   Parquet brain export (see export_files.py), with
                                   the brain's memories (memory_nodes.parquet)
    blobs/<ab>/<digest><suffix>    trained parameters, snapshots and dataset arrays

It is written into ``<dest>.partial`` and renamed at the end, so a failed
backup never looks complete. ``restore_backup`` refuses a home that holds
anything, inserts the rows at the same ids and the graphs at the same
graph keys, copies the blobs and checks every brain's graph hash; memories
come back with their ids, versions and times, each brain's id sequence
where it was, and their ``WROTE`` edges. A backup taken before memories
travelled restores without them. How each file is written and read is in
``backup_format.py``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from marble_graph import export_files
from marble_graph.backup_format import (
    BACKUP_NAME,
    BACKUPS_DIR,
    DIGEST,
    MANIFEST_FILE,
    PARTIAL_SUFFIX,
    BackupBrain,
    BackupManifest,
    brain_from_manifest,
    copy_blob_files,
    decode_row,
    encode_row,
    link_or_copy,
    read_jsonl,
    read_manifest,
    tree_bytes,
    write_jsonl,
)
from marble_graph.blobs import BlobStore
from marble_graph.brain_graph import graph_hash
from marble_graph.config import config_from_mapping
from marble_graph.errors import Conflict, StoreError, ValidationFailed
from marble_graph.failpoints import failpoint
from marble_graph.snapshots import snapshot_blob_files
from marble_graph.store.home_stores import Stores
from marble_graph.store.lineage import sync_lineage
from marble_graph.store.metadata import Base
from marble_graph.version import __version__

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

# -- backup -------------------------------------------------------------------------


def create_backup(stores: Stores, dest: Path, progress: Progress | None = None) -> BackupManifest:
    """Copy the stores' home, consistently, to ``dest`` (absent or an empty directory)."""
    dest = Path(dest).absolute()
    staging = _prepare_destination(dest)
    try:
        with stores.write_lock:
            manifest = _write_backup(stores, staging, dest, progress)
        failpoint("backup.before_rename")
        _remove_empty_destination(dest)
        os.replace(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    size = tree_bytes(dest)
    _report(progress, f"backup complete: {len(manifest.brains)} brains, {size} bytes in {dest}")
    return dataclasses.replace(manifest, path=dest, bytes=size)


def backup_into_home(stores: Stores, name: str, progress: Progress | None = None) -> BackupManifest:
    """Back up to ``<home>/backups/<name>``; ``name`` is one path component, never a path."""
    if not BACKUP_NAME.match(name):
        raise ValidationFailed(
            f"invalid backup name {name!r}: use 1-128 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    target = stores.home.root / BACKUPS_DIR / name
    if target.exists() or target.with_name(name + PARTIAL_SUFFIX).exists():
        raise Conflict(f"backup {name!r} already exists in {target.parent}; choose another name")
    target.parent.mkdir(parents=True, exist_ok=True)
    return create_backup(stores, target, progress)


def _prepare_destination(dest: Path) -> Path:
    if dest.exists() and not dest.is_dir():
        raise Conflict(f"backup destination {dest} exists and is not a directory")
    if dest.is_dir() and any(dest.iterdir()):
        raise Conflict(f"backup destination {dest} is not empty; choose a new or empty directory")
    staging = dest.with_name(dest.name + PARTIAL_SUFFIX)
    if staging.exists():
        raise Conflict(
            f"{staging} exists: a backup to {dest} is running or failed; remove it and retry"
        )
    try:
        staging.mkdir(parents=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the backup directory {staging}: {exc.strerror or exc}"
        ) from exc
    return staging


def _remove_empty_destination(dest: Path) -> None:
    # An empty directory given as the destination is replaced by the finished backup.
    if dest.is_dir():
        dest.rmdir()


def _write_backup(
    stores: Stores, staging: Path, dest: Path, progress: Progress | None
) -> BackupManifest:
    _report(progress, "copying the metadata tables")
    revision, rows = _read_tables(stores.metadata.engine)
    if revision is None:
        raise StoreError(f"the metadata database {stores.metadata.url} has no schema revision")
    _drop_unfinished(rows)
    metadata_dir = staging / "metadata"
    metadata_dir.mkdir()
    for table in Base.metadata.sorted_tables:
        write_jsonl(
            metadata_dir / f"{table.name}.jsonl", (encode_row(table, r) for r in rows[table.name])
        )

    brains = _backup_graphs(stores, rows, staging / "graph", progress)

    digests = _referenced_blobs(rows, stores.blobs)
    _report(progress, f"copying {len(digests)} blobs")
    copied = 0
    for digest in sorted(digests):
        copied += copy_blob_files(stores.home.blobs_dir, staging / "blobs", digest)

    manifest = BackupManifest(
        path=dest,
        created_at=datetime.now(UTC),
        marble_version=__version__,
        engine=stores.graph.engine,
        alembic_revision=revision,
        brains=brains,
        tables={name: len(table_rows) for name, table_rows in rows.items()},
        blobs=copied,
    )
    (staging / MANIFEST_FILE).write_text(json.dumps(manifest.as_dict(), indent=2), encoding="utf-8")
    return manifest


def _read_tables(engine: sa.Engine) -> tuple[str | None, dict[str, list[dict[str, Any]]]]:
    """Every row of every table (and the schema revision), read in one transaction."""
    options: dict[str, Any] = {}
    if engine.dialect.name == "postgresql":
        # One snapshot for every SELECT, not one per statement (READ COMMITTED).
        options["isolation_level"] = "REPEATABLE READ"
    with engine.connect().execution_options(**options) as connection, connection.begin():
        if engine.dialect.name == "sqlite":
            # pysqlite opens no transaction for SELECTs (each would see its own
            # state); an explicit BEGIN makes them share one WAL snapshot.
            connection.exec_driver_sql("BEGIN")
        revision = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        rows = {}
        for table in Base.metadata.sorted_tables:
            order = list(table.primary_key.columns)
            result = connection.execute(sa.select(table).order_by(*order))
            rows[table.name] = [dict(row._mapping) for row in result]
    return revision, rows


def _drop_unfinished(rows: dict[str, list[dict[str, Any]]]) -> None:
    """Leave out brains and versions not yet committed, and rows that depend on them.

    Under the write lock there are none unless a store write skipped the lock;
    left in, they would be removed again by the restored home's reconcile.
    """
    dropped: dict[str, set[Any]] = {
        "brains": {r["id"] for r in rows["brains"] if r["state"] != "committed"},
        "brain_versions": {r["id"] for r in rows["brain_versions"] if r["state"] != "committed"},
    }
    for table in Base.metadata.sorted_tables:
        gone = dropped.setdefault(table.name, set())
        kept = []
        for row in rows[table.name]:
            key = _primary_key(table, row)
            if key in gone:
                continue
            for column in table.columns:
                for fk in column.foreign_keys:
                    target = fk.column.table.name
                    if row[column.name] is not None and row[column.name] in dropped.get(target, ()):
                        if column.nullable:
                            row[column.name] = None
                        else:
                            gone.add(key)
            if key not in gone:
                kept.append(row)
        rows[table.name] = kept


def _primary_key(table: sa.Table, row: dict[str, Any]) -> Any:
    columns = list(table.primary_key.columns)
    return row[columns[0].name] if len(columns) == 1 else tuple(row[c.name] for c in columns)


def _backup_graphs(
    stores: Stores,
    rows: dict[str, list[dict[str, Any]]],
    graph_dir: Path,
    progress: Progress | None,
) -> list[BackupBrain]:
    graph_dir.mkdir()
    brains = []
    for brain in sorted(rows["brains"], key=lambda r: r["name"]):
        name, key = brain["name"], brain["graph_key"]
        _report(progress, f"copying brain {name!r} (version {brain['current_version']})")
        graph = stores.graph.load_graph(name, key)
        digest = graph_hash(graph)
        if digest != brain["graph_hash"] and brain["damage"] is None:
            raise StoreError(
                f"brain {name!r}: generation {key} hashes to {digest[:12]}..., not the recorded "
                f"{str(brain['graph_hash'])[:12]}...; it changed during the backup (a write "
                "that does not hold the service's write lock?): retry the backup"
            )
        info = {
            "name": name,
            "version": brain["current_version"],
            "config_hash": brain["config_hash"],
        }
        config = config_from_mapping(brain["config"], source=f"brain {name!r}")
        memories = stores.memories.rows(name)
        export_files.write_export(
            graph_dir / str(key), info, config, graph, "parquet", memories=memories
        )
        brains.append(
            BackupBrain(
                name=name,
                version=brain["current_version"],
                graph_key=key,
                graph_hash=digest,
                neuron_count=graph.neuron_count,
                synapse_count=graph.synapse_count,
                memories=memories.num_rows,
                memory_next_id=stores.memories.next_id(name),
            )
        )
    return brains


def _referenced_blobs(rows: dict[str, list[dict[str, Any]]], blobs: BlobStore) -> set[str]:
    digests: set[str] = set()
    for version in rows["brain_versions"]:
        if version.get("collected_at") is not None:
            continue  # retention removed its blobs (brains/retention.py)
        # A backup made before experience buffers existed has no such column.
        tensor_blobs = (version["params_blob"], version.get("experience_blob"))
        digests.update(d for d in (*tensor_blobs, version["snapshot_blob"]) if d)
        if version["snapshot_blob"]:
            # A snapshot is a manifest naming one blob per graph table (snapshots.py).
            digests.update(d for d, _ in snapshot_blob_files(blobs, version["snapshot_blob"]))
    for dataset in rows["dataset_versions"]:
        digests.add(Path(dataset["blob_path"]).name.split(".")[0])
    return {d for d in digests if DIGEST.match(d)}


# -- restore ------------------------------------------------------------------------


def restore_backup(stores: Stores, src: Path, progress: Progress | None = None) -> BackupManifest:
    """Restore the backup at ``src`` into the stores' home, which must hold no brains or rows."""
    src = Path(src)
    document = read_manifest(src)
    brains = [brain_from_manifest(b, src) for b in document["brains"]]
    home = stores.home
    head = stores.metadata.head_revision()
    if document["alembic_revision"] != head:
        raise ValidationFailed(
            f"{src}: taken at metadata schema revision {document['alembic_revision']!r}, "
            f"but this MARBLE is at {head!r}; restore it with the MARBLE version that took it"
        )
    _check_empty(stores)
    # Read and verify every graph (and the memories) before writing anything.
    exports = {}
    for brain in brains:
        _report(progress, f"checking brain {brain.name!r}")
        exported = export_files.read_brain_export(src / "graph" / str(brain.graph_key))
        if graph_hash(exported.graph) != brain.graph_hash:
            raise ValidationFailed(
                f"{src}: brain {brain.name!r} does not hash to its manifest's graph_hash"
            )
        if exported.memories.num_rows != brain.memories:
            raise ValidationFailed(
                f"{src}: brain {brain.name!r} has {exported.memories.num_rows} memories, "
                f"but the manifest counts {brain.memories}"
            )
        exports[brain.name] = exported
    try:
        _report(progress, "copying blobs")
        _restore_blobs(src / "blobs", stores.home.blobs_dir)
        _report(progress, "restoring the metadata tables")
        _restore_tables(stores, src / "metadata")
        for brain in brains:
            _report(progress, f"writing brain {brain.name!r}")
            stores.graph.insert_graph(brain.name, brain.graph_key, exports[brain.name].graph)
        # Lineage (version and dataset nodes, their edges) mirrors the SQL rows
        # just restored; backups from before it was rebuilt this way still
        # carry a graph/lineage.jsonl, which is not needed.
        sync_lineage(stores.metadata, stores.graph)
        # After the version nodes: each memory's WROTE edge starts at its version's node.
        for brain in brains:
            if brain.memories:
                _report(progress, f"writing {brain.memories} memories of brain {brain.name!r}")
            stores.memories.restore(brain.name, exports[brain.name].memories, brain.memory_next_id)
        for brain in brains:
            actual = graph_hash(stores.graph.load_graph(brain.name, brain.graph_key))
            if actual != brain.graph_hash:
                raise StoreError(
                    f"restored brain {brain.name!r} hashes to {actual[:12]}..., "
                    f"not the backup's {brain.graph_hash[:12]}..."
                )
    except BaseException:
        log.warning("restore into %s failed; removing what was written", home.root)
        _clear_home(stores)
        for brain in brains:
            stores.memories.drop(brain.name)
        raise
    stores.committed()
    _report(progress, f"restored {len(brains)} brains into {home.root}")
    return BackupManifest(
        path=src,
        created_at=datetime.fromisoformat(document["created_at"]),
        marble_version=str(document["marble_version"]),
        engine=str(document["engine"]),
        alembic_revision=str(document["alembic_revision"]),
        brains=brains,
        tables=dict(document["tables"]),
        blobs=int(document["blobs"]),
        bytes=tree_bytes(src),
    )


def _check_empty(stores: Stores) -> None:
    names = sorted(stores.graph.brain_names())
    if names:
        raise Conflict(
            f"cannot restore into {stores.home.root}: it holds brains {', '.join(names[:20])}; "
            "restore into a new, empty home"
        )
    with stores.metadata.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            count = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            if count:
                raise Conflict(
                    f"cannot restore into {stores.home.root}: its metadata table "
                    f"{table.name!r} has {count} rows; restore into a new, empty home"
                )


def _restore_tables(stores: Stores, metadata_dir: Path) -> None:
    engine = stores.metadata.engine
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            rows = [
                decode_row(table, row, stores.home)
                for row in read_jsonl(metadata_dir / f"{table.name}.jsonl")
            ]
            if rows:
                connection.execute(table.insert(), rows)
        if engine.dialect.name == "postgresql":
            _reset_sequences(connection)


def _reset_sequences(connection: sa.Connection) -> None:
    """Move each serial id's sequence past the ids inserted explicitly."""
    for table in Base.metadata.sorted_tables:
        columns = list(table.primary_key.columns)
        if len(columns) != 1 or not isinstance(columns[0].type, sa.Integer):
            continue
        column = columns[0].name
        connection.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                f'COALESCE(MAX("{column}"), 1), MAX("{column}") IS NOT NULL) FROM "{table.name}"'
            ),
            {"table": table.name, "column": column},
        )


def _restore_blobs(source_root: Path, target_root: Path) -> None:
    if not source_root.is_dir():
        return
    for file in sorted(source_root.glob("*/*")):
        digest = file.name[:64]
        if not DIGEST.match(digest) or not file.is_file():
            raise ValidationFailed(f"{file}: not a blob of a MARBLE backup")
        with file.open("rb") as handle:
            actual = hashlib.file_digest(handle, "sha256").hexdigest()
        if actual != digest:
            raise ValidationFailed(f"{file}: corrupt blob (its content does not match its name)")
        target = target_root / file.parent.name / file.name
        if not target.exists():
            link_or_copy(file, target)


def _clear_home(stores: Stores) -> None:
    # Best effort: the home was empty, so everything in it came from this restore
    # (blobs are content-addressed and harmless to leave behind).
    for name in stores.graph.brain_names():
        stores.graph.delete_brain(name)
    with stores.metadata.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


def _report(progress: Progress | None, message: str) -> None:
    log.debug(message)
    if progress is not None:
        progress(message)
