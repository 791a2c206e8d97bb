"""Whole-graph snapshots of brain versions in the blob store, deduplicated by column.

Every committed version keeps its graph in the blob store, so a version whose
rows in the graph store were damaged can be rebuilt exactly (``marble brain
repair``), any earlier version can be served, compared or rolled back to
(``brains/history.py``), and a backup can copy versions without reading the
graph store.

Each column of each graph table is its own content-addressed blob
(``<digest>.column.parquet``: one Parquet column, rows in the table's
canonical order, so equal columns give equal bytes), and the version's
snapshot blob is a small JSON manifest (``<digest>.graph.json``) naming them.
Training changes weights, potentials, fatigue and neuron states, but seldom
which synapses exist, their endpoints, ids and types, or the neurons' seed
coordinates; those columns, and whole tables a write-back left unchanged
(lobes, memberships, memories), are stored once however many versions share
them (bench/snapshot_storage.py measures it). The columns keep their Arrow
types, so the rebuilt graph hashes to the recorded value.

Older homes hold a manifest naming one blob per table
(``<digest>.table.parquet``, format 2) or one Parquet envelope per version
(``<digest>.graph.parquet``: a row per table, each holding that table as
Parquet bytes); :func:`get_graph_snapshot` reads all three.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from marble_graph.blobs import BlobStore
from marble_graph.brain_graph import TABLE_SCHEMAS, BrainGraph, canonical_order
from marble_graph.errors import StoreError

MANIFEST_SUFFIX = ".graph.json"
COLUMN_SUFFIX = ".column.parquet"
# Format 2 manifests name one blob per table.
TABLE_SUFFIX = ".table.parquet"
# The single-envelope snapshots of homes written before tables were stored apart.
ENVELOPE_SUFFIX = ".graph.parquet"
MANIFEST_FORMAT = "marble-graph-snapshot"
MANIFEST_VERSION = 3


def put_graph_snapshot(blobs: BlobStore, graph: BrainGraph) -> str:
    """Store ``graph`` as one blob per column plus a manifest; return the manifest's digest.

    Columns already in the store (the same content under the same digest) are
    not written again.
    """
    columns: dict[str, dict[str, str]] = {}
    rows: dict[str, int] = {}
    for name, table in graph.tables():
        # Canonical rows, the table's own schema and one chunk per column: the
        # Parquet bytes then depend on the values alone, which is what dedup needs.
        ordered = canonical_order(table, name).combine_chunks()
        normalised = pa.Table.from_arrays(ordered.columns, schema=TABLE_SCHEMAS[name])
        columns[name] = {
            field.name: put_graph_column(blobs, normalised.select([index]))
            for index, field in enumerate(normalised.schema)
        }
        rows[name] = int(table.num_rows)
    manifest = {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_VERSION,
        "columns": columns,
        "rows": rows,
    }
    text = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    return blobs.put_bytes(text.encode("utf-8"), MANIFEST_SUFFIX)


def put_graph_column(blobs: BlobStore, column: pa.Table) -> str:
    """Store a one-column table as Parquet and return its digest (equal columns, equal digest)."""
    buffer = io.BytesIO()
    pq.write_table(column, buffer, compression="zstd")
    return blobs.put_bytes(buffer.getvalue(), COLUMN_SUFFIX)


def get_graph_snapshot(blobs: BlobStore, digest: str) -> BrainGraph:
    """The graph stored by :func:`put_graph_snapshot`, or a snapshot of an older home.

    Every blob read is verified against its digest; a missing one raises
    NotFound naming it.
    """
    source = f"graph snapshot {digest}"
    if is_envelope(blobs, digest):
        return BrainGraph.from_tables(_read_envelope(blobs, digest), source=source)
    manifest = _read_manifest(blobs, digest)
    tables: dict[str, pa.Table] = {}
    if "columns" in manifest:
        for name, column_digests in manifest["columns"].items():
            parts = [
                _read_parquet(blobs.get_bytes(d, COLUMN_SUFFIX), f"{name}.{column} of {source}")
                for column, d in column_digests.items()
            ]
            schema = pa.schema([part.schema.field(0) for part in parts])
            tables[name] = pa.Table.from_arrays([part.column(0) for part in parts], schema=schema)
    else:
        for name, table in manifest["tables"].items():
            tables[name] = _read_parquet(
                blobs.get_bytes(table, TABLE_SUFFIX), f"table {name} of {source}"
            )
    return BrainGraph.from_tables(tables, source=source)


def snapshot_parts(blobs: BlobStore, digest: str) -> dict[str, str]:
    """What the manifest ``digest`` is made of: ``"table.column"`` (or, in a format 2
    manifest, ``"table"``) -> blob digest; {} for an envelope."""
    if is_envelope(blobs, digest):
        return {}
    return _manifest_parts(_read_manifest(blobs, digest))


def snapshot_blob_files(blobs: BlobStore, digest: str) -> list[tuple[str, str]]:
    """(digest, suffix) of every blob file the snapshot ``digest`` consists of.

    The manifest and its column (or table) blobs, or the one envelope of an
    older home. A manifest that is already gone contributes only itself.
    """
    if is_envelope(blobs, digest):
        return [(digest, ENVELOPE_SUFFIX)]
    files = [(digest, MANIFEST_SUFFIX)]
    if blobs.path(digest, MANIFEST_SUFFIX).exists():
        manifest = _read_manifest(blobs, digest)
        suffix = COLUMN_SUFFIX if "columns" in manifest else TABLE_SUFFIX
        parts = sorted(set(_manifest_parts(manifest).values()))
        files.extend((part, suffix) for part in parts)
    return files


def _manifest_parts(manifest: dict[str, Any]) -> dict[str, str]:
    if "columns" in manifest:
        return {
            f"{name}.{column}": d
            for name, columns in manifest["columns"].items()
            for column, d in columns.items()
        }
    return dict(manifest["tables"])


def snapshot_complete(blobs: BlobStore, digest: str) -> bool:
    """Whether every blob file of the snapshot ``digest`` is present (files only, no hashing)."""
    if is_envelope(blobs, digest):
        return True
    if not blobs.path(digest, MANIFEST_SUFFIX).exists():
        return False
    return all(blobs.path(d, suffix).exists() for d, suffix in snapshot_blob_files(blobs, digest))


def snapshot_exists(blobs: BlobStore, digest: str) -> bool:
    """Whether the snapshot's manifest (or an older home's envelope) is present."""
    return blobs.path(digest, MANIFEST_SUFFIX).exists() or is_envelope(blobs, digest)


def is_envelope(blobs: BlobStore, digest: str) -> bool:
    """Whether ``digest`` is a single-envelope snapshot of a home written before manifests."""
    return blobs.path(digest, ENVELOPE_SUFFIX).exists()


def _read_manifest(blobs: BlobStore, digest: str) -> dict[str, Any]:
    data = blobs.get_bytes(digest, MANIFEST_SUFFIX)
    try:
        manifest = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(f"graph snapshot manifest {digest} is not JSON: {exc}") from exc
    parts = manifest.get("columns", manifest.get("tables")) if isinstance(manifest, dict) else None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != MANIFEST_FORMAT
        or not isinstance(parts, dict)
    ):
        raise StoreError(
            f"blob {digest}{MANIFEST_SUFFIX} is not a graph snapshot manifest "
            f"(expected format {MANIFEST_FORMAT!r} with a 'columns' or 'tables' mapping)"
        )
    missing = sorted(set(TABLE_SCHEMAS) - set(parts))
    if missing:
        raise StoreError(f"graph snapshot {digest} lacks the tables {', '.join(missing)}")
    return manifest


def _read_envelope(blobs: BlobStore, digest: str) -> dict[str, pa.Table]:
    data = blobs.get_bytes(digest, ENVELOPE_SUFFIX)
    try:
        envelope = pq.read_table(io.BytesIO(data)).to_pydict()
        tables = {
            str(name): pq.read_table(io.BytesIO(payload))
            for name, payload in zip(envelope["table"], envelope["data"], strict=True)
        }
    except (pa.ArrowInvalid, KeyError) as exc:
        raise StoreError(f"graph snapshot {digest} cannot be read: {exc}") from exc
    missing = sorted(set(TABLE_SCHEMAS) - set(tables))
    if missing:
        raise StoreError(f"graph snapshot {digest} lacks the tables {', '.join(missing)}")
    return tables


def _read_parquet(data: bytes, what: str) -> pa.Table:
    try:
        return pq.read_table(io.BytesIO(data))
    except pa.ArrowInvalid as exc:
        raise StoreError(f"{what} cannot be read: {exc}") from exc
