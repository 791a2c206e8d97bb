"""Brain export and import files.

Two formats carry the same content:

- JSON, one file (``*.json``), for small brains a person may read or diff;
- Parquet, a directory with ``manifest.json`` and one ``<table>.parquet`` per
  table, for large brains.

Both are exact: float32 values survive the trip bit for bit (a float32 widens
to a float64 exactly, and JSON numbers round-trip float64), and import checks
the recomputed graph hash against the one recorded at export.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from marble_graph.brain_graph import TABLE_SCHEMAS, BrainGraph, graph_hash
from marble_graph.config import MarbleConfig
from marble_graph.errors import Conflict, NotFound, ValidationFailed

FORMAT_NAME = "marble-brain-export"
FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"


def export_format(path: Path, fmt: str) -> str:
    """Resolve ``auto`` to ``json`` for ``*.json`` paths and ``parquet`` otherwise."""
    if fmt not in ("auto", "json", "parquet"):
        raise ValidationFailed(f"export format {fmt!r}: expected auto, json or parquet")
    if fmt != "auto":
        return fmt
    return "json" if path.suffix.lower() == ".json" else "parquet"


def write_export(
    path: Path, info: dict[str, Any], config: MarbleConfig, graph: BrainGraph, fmt: str = "auto"
) -> Path:
    """Write ``graph`` with its manifest to ``path``; refuses to overwrite."""
    path = Path(path)
    fmt = export_format(path, fmt)
    if path.exists():
        raise Conflict(f"export target {path} already exists; choose a new path")
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "name": info["name"],
        "version": info["version"],
        "graph_hash": graph_hash(graph),
        "config_hash": info["config_hash"],
        "neuron_count": graph.neuron_count,
        "synapse_count": graph.synapse_count,
        "exported_at": datetime.now(UTC).isoformat(),
        "config": config.model_dump(mode="json"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target, then rename: a failed export leaves no partial file.
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=path.parent))
    try:
        if fmt == "json":
            document = {
                **manifest,
                "tables": {name: _table_to_columns(table) for name, table in graph.tables()},
            }
            staged = staging / "export.json"
            staged.write_text(json.dumps(document), encoding="utf-8")
            os.replace(staged, path)
        else:
            staged = staging / "export"
            staged.mkdir()
            for name, table in graph.tables():
                pq.write_table(table, staged / f"{name}.parquet")
            (staged / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
            os.replace(staged, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def read_export(path: Path) -> tuple[dict[str, Any], BrainGraph]:
    """Read and verify an export; return its manifest and graph."""
    path = Path(path)
    if not path.exists():
        raise NotFound(f"export {path} does not exist")
    if path.is_dir():
        manifest = _read_json(path / MANIFEST_FILE)
        _check_manifest(manifest, path)
        tables = {}
        for name in TABLE_SCHEMAS:
            file = path / f"{name}.parquet"
            if not file.exists():
                raise ValidationFailed(f"{path}: missing {file.name}")
            try:
                tables[name] = pq.read_table(file)
            except (pa.ArrowInvalid, OSError) as exc:
                raise ValidationFailed(f"{file}: not a readable Parquet file ({exc})") from exc
    else:
        manifest = _read_json(path)
        _check_manifest(manifest, path)
        raw_tables = manifest.pop("tables", None)
        if not isinstance(raw_tables, dict):
            raise ValidationFailed(f"{path}: no 'tables' object in the export")
        tables = {
            name: _columns_to_table(raw_tables.get(name), name, path) for name in TABLE_SCHEMAS
        }
    graph = BrainGraph.from_tables(tables, source=str(path))
    actual = graph_hash(graph)
    if actual != manifest["graph_hash"]:
        raise ValidationFailed(
            f"{path}: graph hash mismatch (manifest {manifest['graph_hash'][:12]}..., "
            f"contents {actual[:12]}...): the export is corrupt or was edited"
        )
    return manifest, graph


def _check_manifest(manifest: dict[str, Any], path: Path) -> None:
    if manifest.get("format") != FORMAT_NAME:
        raise ValidationFailed(
            f"{path}: not a MARBLE brain export (format {manifest.get('format')!r}, "
            f"expected {FORMAT_NAME!r})"
        )
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValidationFailed(
            f"{path}: export format_version {manifest.get('format_version')!r} is not "
            f"supported (expected {FORMAT_VERSION})"
        )
    for key in ("name", "graph_hash", "config"):
        if key not in manifest:
            raise ValidationFailed(f"{path}: manifest lacks '{key}'")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValidationFailed(f"{path}: missing") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"{path}: invalid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValidationFailed(f"{path}: expected a JSON object at the top level")
    return data


def _table_to_columns(table: pa.Table) -> dict[str, list[Any]]:
    # Timestamps travel as integer microseconds so the JSON stays exact.
    columns = {}
    for field in table.schema:
        column = table.column(field.name)
        if pa.types.is_timestamp(field.type):
            column = column.cast(pa.int64())
        columns[field.name] = column.to_pylist()
    return columns


def _columns_to_table(columns: Any, name: str, path: Path) -> pa.Table:
    if not isinstance(columns, dict):
        raise ValidationFailed(f"{path}: table '{name}' is missing or not an object of columns")
    schema = TABLE_SCHEMAS[name]
    arrays = {}
    for field in schema:
        if field.name not in columns:
            raise ValidationFailed(f"{path}: table '{name}' lacks column '{field.name}'")
        wire_type = pa.int64() if pa.types.is_timestamp(field.type) else field.type
        try:
            arrays[field.name] = pa.array(columns[field.name], type=wire_type).cast(field.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            raise ValidationFailed(
                f"{path}: table '{name}' column '{field.name}': "
                f"expected {field.type} values ({exc})"
            ) from exc
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) > 1:
        raise ValidationFailed(f"{path}: table '{name}' columns have different lengths {lengths}")
    return pa.table(arrays, schema=schema)
