"""Brain export and import files.

An export holds everything that determines a brain version's outputs, and
the brain's memories:

- the graph (neurons, synapses, lobes, memberships) and the brain's config;
- the shared layer, the version's trained parameters that are not graph
  properties (``null`` for a brain never trained);
- the version's metrics, which serving reads: task, normalisation record,
  neuromodulation signals (and the step counter training continues from);
- the brain's memories (``Memory`` nodes, docs/memory.md): id, key, JSON
  value, embedding (null for a fact), carrier neurons, the version that
  wrote each and when. They belong to the brain, not the version, and do not
  decide its outputs, so neither hash covers them; the manifest counts them.

Two formats carry the same content:

- JSON, one file (``*.json``), for small brains a person may read or diff;
  shared tensors are objects ``{"dtype", "shape", "values"}`` with nested lists;
- Parquet, a directory with ``manifest.json`` (config, metrics, hashes), one
  ``<table>.parquet`` per table, and ``shared.parquet`` (one row per tensor:
  name, dtype, shape, raw bytes) when the brain has been trained, and
  ``memory_nodes.parquet`` when the brain has memories (``memories.parquet``
  is the graph's old per-generation table, always empty).

JSON holds the memories as a top-level ``memory_nodes`` object of columns.

Both are exact: float32 values survive the trip bit for bit (a float32 widens
to a float64 exactly, and JSON numbers round-trip float64). The manifest
records the ``graph_hash`` and the ``model_hash`` (model_hash.py: graph,
config, shared tensors and metrics); import recomputes both and refuses a
mismatch. Nothing is unpickled: tensors are rebuilt from numbers or bytes of
an allowed dtype. Exports of format version 1 (graph and config only) still
import, as untrained brains; exports without a ``memories`` count (made
before memories travelled) import with none.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch
from torch import Tensor

from marble_graph.brain_graph import TABLE_SCHEMAS, BrainGraph, graph_hash
from marble_graph.config import MarbleConfig
from marble_graph.errors import Conflict, NotFound, ValidationFailed
from marble_graph.model_hash import dtype_name, model_hash, tensor_bytes

FORMAT_NAME = "marble-brain-export"
FORMAT_VERSION = 2
# Version 1 carried the graph and config only: it imports as an untrained brain.
READABLE_FORMAT_VERSIONS = (1, 2)
MANIFEST_FILE = "manifest.json"
SHARED_FILE = "shared.parquet"
MEMORY_NODES_FILE = "memory_nodes.parquet"
# The JSON document's key for the memories' columns (its "tables" are the graph's).
MEMORY_NODES_KEY = "memory_nodes"

# The dtypes a shared tensor may have; anything else in an export is refused.
TENSOR_DTYPES: dict[str, torch.dtype] = {
    dtype_name(torch.empty(0, dtype=d)): d
    for d in (
        torch.float64,
        torch.float32,
        torch.float16,
        torch.bfloat16,
        torch.int64,
        torch.int32,
        torch.int16,
        torch.int8,
        torch.uint8,
        torch.bool,
    )
}
SHARED_SCHEMA = pa.schema(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("dtype", pa.string(), nullable=False),
        pa.field("shape", pa.list_(pa.int64()), nullable=False),
        pa.field("data", pa.large_binary(), nullable=False),
    ]
)
# A brain's memories as ``MemoryStore.rows`` reads them (store/memories.py):
# ``created_at`` is naive UTC, ``embedding`` null for a fact.
MEMORY_NODE_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("key", pa.string()),
        ("value", pa.string()),
        ("embedding", pa.list_(pa.float32())),
        ("neurons", pa.list_(pa.int64())),
        ("brain_version", pa.int64()),
        ("created_at", pa.timestamp("us")),
    ]
)
# Columns every memory has a value in (a fact has no embedding, and maybe no key).
_REQUIRED_MEMORY_COLUMNS = ("id", "value", "neurons", "brain_version", "created_at")


@dataclass(frozen=True)
class BrainExport:
    """A verified export: its manifest, graph, shared layer, version metrics and the
    brain's memories (``MEMORY_NODE_SCHEMA``; no rows when it had none)."""

    manifest: dict[str, Any]
    graph: BrainGraph
    shared_state: dict[str, Tensor] | None  # None: the brain was never trained
    metrics: dict[str, Any]
    memories: pa.Table


def export_format(path: Path, fmt: str) -> str:
    """Resolve ``auto`` to ``json`` for ``*.json`` paths and ``parquet`` otherwise."""
    if fmt not in ("auto", "json", "parquet"):
        raise ValidationFailed(f"export format {fmt!r}: expected auto, json or parquet")
    if fmt != "auto":
        return fmt
    return "json" if path.suffix.lower() == ".json" else "parquet"


def write_export(
    path: Path,
    info: dict[str, Any],
    config: MarbleConfig,
    graph: BrainGraph,
    fmt: str = "auto",
    shared_state: Mapping[str, Tensor] | None = None,
    metrics: Mapping[str, Any] | None = None,
    memories: pa.Table | None = None,
) -> Path:
    """Write ``graph`` with its shared layer, metrics, memories and manifest to ``path``.

    ``shared_state`` is the version's shared layer (None: never trained),
    ``metrics`` its recorded metrics and ``memories`` the brain's memories as
    ``MemoryStore.rows`` reads them (None: none). Refuses to overwrite.
    """
    path = Path(path)
    fmt = export_format(path, fmt)
    if path.exists():
        raise Conflict(f"export target {path} already exists; choose a new path")
    shared = None if shared_state is None else dict(shared_state)
    metrics = dict(metrics or {})
    memory_nodes = conform_memory_nodes(
        MEMORY_NODE_SCHEMA.empty_table() if memories is None else memories, path
    )
    config_json = config.model_dump(mode="json")
    digest = graph_hash(graph)
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "name": info["name"],
        "version": info["version"],
        "graph_hash": digest,
        "config_hash": info["config_hash"],
        "model_hash": model_hash(digest, config_json, shared, metrics),
        "neuron_count": graph.neuron_count,
        "synapse_count": graph.synapse_count,
        "exported_at": datetime.now(UTC).isoformat(),
        "config": config_json,
        "metrics": metrics,
        "memories": memory_nodes.num_rows,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target, then rename: a failed export leaves no partial file.
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=path.parent))
    try:
        if fmt == "json":
            document = {
                **manifest,
                "shared": None if shared is None else _tensors_to_json(shared),
                "tables": {name: _table_to_columns(table) for name, table in graph.tables()},
                MEMORY_NODES_KEY: _table_to_columns(memory_nodes),
            }
            staged = staging / "export.json"
            staged.write_text(json.dumps(document), encoding="utf-8")
            os.replace(staged, path)
        else:
            staged = staging / "export"
            staged.mkdir()
            for name, table in graph.tables():
                pq.write_table(table, staged / f"{name}.parquet")
            if shared is not None:
                pq.write_table(_tensors_to_table(shared), staged / SHARED_FILE)
            manifest["shared"] = None if shared is None else SHARED_FILE
            if memory_nodes.num_rows:
                pq.write_table(memory_nodes, staged / MEMORY_NODES_FILE)
            (staged / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
            os.replace(staged, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def read_export(path: Path) -> tuple[dict[str, Any], BrainGraph]:
    """Read and verify an export; return its manifest and graph (see ``read_brain_export``)."""
    exported = read_brain_export(path)
    return exported.manifest, exported.graph


def read_brain_export(path: Path) -> BrainExport:
    """Read an export and verify its graph hash and (format 2) its model hash."""
    path = Path(path)
    if not path.exists():
        raise NotFound(f"export {path} does not exist")
    if path.is_dir():
        manifest = _read_json(path / MANIFEST_FILE)
        _check_manifest(manifest, path)
        tables = {}
        for name in TABLE_SCHEMAS:
            tables[name] = _read_parquet(path / f"{name}.parquet", path)
        shared = _read_shared_file(manifest, path)
        memory_nodes = _read_memory_nodes_file(manifest, path)
    else:
        manifest = _read_json(path)
        _check_manifest(manifest, path)
        raw_tables = manifest.pop("tables", None)
        if not isinstance(raw_tables, dict):
            raise ValidationFailed(f"{path}: no 'tables' object in the export")
        tables = {
            name: _columns_to_table(raw_tables.get(name), TABLE_SCHEMAS[name], name, path)
            for name in TABLE_SCHEMAS
        }
        raw_shared = manifest.pop("shared", None)
        shared = None if raw_shared is None else _tensors_from_json(raw_shared, path)
        raw_memories = manifest.pop(MEMORY_NODES_KEY, None)
        memory_nodes = (
            MEMORY_NODE_SCHEMA.empty_table()
            if raw_memories is None
            else _columns_to_table(raw_memories, MEMORY_NODE_SCHEMA, MEMORY_NODES_KEY, path)
        )
    memory_nodes = _checked_memory_nodes(memory_nodes, manifest, path)
    graph = BrainGraph.from_tables(tables, source=str(path))
    actual = graph_hash(graph)
    if actual != manifest["graph_hash"]:
        raise ValidationFailed(
            f"{path}: graph hash mismatch (manifest {manifest['graph_hash'][:12]}..., "
            f"contents {actual[:12]}...): the export is corrupt or was edited"
        )
    metrics = manifest.get("metrics", {})
    if manifest["format_version"] >= 2:
        actual = model_hash(actual, manifest["config"], shared, metrics)
        if actual != manifest["model_hash"]:
            raise ValidationFailed(
                f"{path}: model hash mismatch (manifest {str(manifest['model_hash'])[:12]}..., "
                f"contents {actual[:12]}...): the graph, config, shared layer or metrics "
                "of the export are corrupt or were edited"
            )
    return BrainExport(
        manifest=manifest,
        graph=graph,
        shared_state=shared,
        metrics=metrics,
        memories=memory_nodes,
    )


def _check_manifest(manifest: dict[str, Any], path: Path) -> None:
    if manifest.get("format") != FORMAT_NAME:
        raise ValidationFailed(
            f"{path}: not a MARBLE brain export (format {manifest.get('format')!r}, "
            f"expected {FORMAT_NAME!r})"
        )
    version = manifest.get("format_version")
    if type(version) is not int or version not in READABLE_FORMAT_VERSIONS:
        raise ValidationFailed(
            f"{path}: export format_version {version!r} is not supported "
            f"(expected one of {', '.join(map(str, READABLE_FORMAT_VERSIONS))})"
        )
    required = ["name", "graph_hash", "config"]
    if version >= 2:
        required += ["model_hash", "metrics"]
    for key in required:
        if key not in manifest:
            raise ValidationFailed(f"{path}: manifest lacks '{key}'")
    for key in ("graph_hash", "model_hash"):
        if key in manifest and not isinstance(manifest[key], str):
            raise ValidationFailed(f"{path}: manifest '{key}' is not a string")
    if not isinstance(manifest["config"], dict):
        raise ValidationFailed(f"{path}: manifest 'config' is not an object")
    if not isinstance(manifest.get("metrics", {}), dict):
        raise ValidationFailed(f"{path}: manifest 'metrics' is not an object")


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


def _read_parquet(file: Path, path: Path) -> pa.Table:
    if not file.exists():
        raise ValidationFailed(f"{path}: missing {file.name}")
    try:
        return pq.read_table(file)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValidationFailed(f"{file}: not a readable Parquet file ({exc})") from exc


def _table_to_columns(table: pa.Table) -> dict[str, list[Any]]:
    # Timestamps travel as integer microseconds so the JSON stays exact.
    columns = {}
    for field in table.schema:
        column = table.column(field.name)
        if pa.types.is_timestamp(field.type):
            column = column.cast(pa.int64())
        columns[field.name] = column.to_pylist()
    return columns


def _columns_to_table(columns: Any, schema: pa.Schema, name: str, path: Path) -> pa.Table:
    if not isinstance(columns, dict):
        raise ValidationFailed(f"{path}: table '{name}' is missing or not an object of columns")
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


# -- memories ---------------------------------------------------------------------------


def conform_memory_nodes(rows: pa.Table, where: Path) -> pa.Table:
    """``rows`` with exactly ``MEMORY_NODE_SCHEMA``'s columns and types (one chunk)."""
    missing = [name for name in MEMORY_NODE_SCHEMA.names if name not in rows.column_names]
    if missing:
        raise ValidationFailed(f"{where}: the memories lack column(s) {', '.join(missing)}")
    try:
        conformed = rows.select(MEMORY_NODE_SCHEMA.names).cast(MEMORY_NODE_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise ValidationFailed(
            f"{where}: the memories' columns do not fit {MEMORY_NODE_SCHEMA} ({exc})"
        ) from exc
    return conformed.combine_chunks()


def _memory_count(manifest: dict[str, Any], path: Path) -> int:
    # An export made before memories travelled has no count (and no memories).
    count = manifest.get("memories", 0)
    if type(count) is not int or count < 0:
        raise ValidationFailed(
            f"{path}: manifest 'memories' is {count!r}; expected a count (0 or more)"
        )
    return count


def _read_memory_nodes_file(manifest: dict[str, Any], path: Path) -> pa.Table:
    if _memory_count(manifest, path) == 0:
        return MEMORY_NODE_SCHEMA.empty_table()
    return _read_parquet(path / MEMORY_NODES_FILE, path)


def _checked_memory_nodes(rows: pa.Table, manifest: dict[str, Any], path: Path) -> pa.Table:
    """The export's memories, checked against the manifest's count and for what every
    memory must hold: an id (unique, not negative), a value, neurons, a version, a time."""
    expected = _memory_count(manifest, path)
    rows = conform_memory_nodes(rows, path)
    if rows.num_rows != expected:
        raise ValidationFailed(
            f"{path}: the manifest counts {expected} memories, but the export holds {rows.num_rows}"
        )
    if rows.num_rows == 0:
        return rows
    for column in _REQUIRED_MEMORY_COLUMNS:
        nulls = rows.column(column).null_count
        if nulls:
            raise ValidationFailed(f"{path}: {nulls} memories have no {column!r}")
    ids = rows.column("id")
    if pc.min(ids).as_py() < 0 or pc.count_distinct(ids).as_py() != rows.num_rows:
        raise ValidationFailed(
            f"{path}: memory ids must be unique and 0 or more "
            f"({rows.num_rows} memories, {pc.count_distinct(ids).as_py()} distinct ids, "
            f"smallest {pc.min(ids).as_py()})"
        )
    widths = pc.list_value_length(rows.column("embedding"))
    if widths.null_count < rows.num_rows:
        low, high = (int(v.as_py()) for v in pc.min_max(widths).values())
        if low != high or low == 0:
            raise ValidationFailed(
                f"{path}: the memories' embeddings have {low} to {high} values; "
                "a brain's embeddings all have the same, non-zero width"
            )
    return rows


# -- the shared layer ------------------------------------------------------------------


def _tensors_to_json(shared: Mapping[str, Tensor]) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "dtype": dtype_name(tensor),
            "shape": list(tensor.shape),
            "values": tensor.detach().cpu().tolist(),
        }
        for name, tensor in sorted(shared.items())
    }


def _tensors_from_json(raw: Any, path: Path) -> dict[str, Tensor]:
    if not isinstance(raw, dict):
        raise ValidationFailed(f"{path}: 'shared' is neither null nor an object of tensors")
    tensors = {}
    for name, entry in raw.items():
        if not isinstance(entry, dict) or not {"dtype", "shape", "values"} <= entry.keys():
            raise ValidationFailed(
                f"{path}: shared tensor '{name}' is not an object with dtype, shape and values"
            )
        dtype, shape = _tensor_header(name, entry["dtype"], entry["shape"], path)
        try:
            tensor = torch.tensor(entry["values"], dtype=dtype)
        except (TypeError, ValueError, RuntimeError, OverflowError) as exc:
            raise ValidationFailed(
                f"{path}: shared tensor '{name}': values are not {entry['dtype']} numbers ({exc})"
            ) from exc
        # An empty tensor's nested lists cannot say its shape ([] for [0, 3]).
        if tensor.numel() == 0 and math.prod(shape) == 0:
            tensor = tensor.reshape(shape)
        if list(tensor.shape) != shape:
            raise ValidationFailed(
                f"{path}: shared tensor '{name}' has values of shape {list(tensor.shape)}, "
                f"but its shape says {shape}"
            )
        tensors[name] = tensor
    return tensors


def _tensors_to_table(shared: Mapping[str, Tensor]) -> pa.Table:
    rows = [
        {
            "name": name,
            "dtype": dtype_name(tensor),
            "shape": list(tensor.shape),
            "data": tensor_bytes(tensor),
        }
        for name, tensor in sorted(shared.items())
    ]
    return pa.Table.from_pylist(rows, schema=SHARED_SCHEMA)


def _read_shared_file(manifest: dict[str, Any], path: Path) -> dict[str, Tensor] | None:
    marker = manifest.get("shared")
    if marker is None:
        return None
    if marker != SHARED_FILE:
        raise ValidationFailed(
            f"{path}: manifest 'shared' is {marker!r}, expected null or {SHARED_FILE!r}"
        )
    file = path / SHARED_FILE
    table = _read_parquet(file, path)
    missing = [f.name for f in SHARED_SCHEMA if f.name not in table.column_names]
    if missing:
        raise ValidationFailed(f"{file}: lacks column(s) {', '.join(missing)}")
    tensors = {}
    for row in table.select(SHARED_SCHEMA.names).to_pylist():
        name = row["name"]
        if not isinstance(name, str) or not isinstance(row["data"], bytes):
            raise ValidationFailed(f"{file}: a row without a tensor name or data")
        dtype, shape = _tensor_header(name, row["dtype"], row["shape"], file)
        expected = math.prod(shape) * torch.empty(0, dtype=dtype).element_size()
        if len(row["data"]) != expected:
            raise ValidationFailed(
                f"{file}: shared tensor '{name}' has {len(row['data'])} bytes, but "
                f"{row['dtype']} of shape {shape} needs {expected}"
            )
        if name in tensors:
            raise ValidationFailed(f"{file}: shared tensor '{name}' appears twice")
        if expected == 0:
            # frombuffer refuses an empty buffer.
            tensors[name] = torch.empty(shape, dtype=dtype)
            continue
        flat = torch.frombuffer(bytearray(row["data"]), dtype=torch.uint8)
        if dtype == torch.bool and bool((flat > 1).any()):
            raise ValidationFailed(f"{file}: shared tensor '{name}' holds bytes that are not bool")
        tensors[name] = flat.view(dtype).reshape(shape)
    return tensors


def _tensor_header(name: str, dtype: Any, shape: Any, where: Path) -> tuple[torch.dtype, list[int]]:
    """The allowed dtype and the shape of shared tensor ``name``; refuses anything else."""
    if dtype not in TENSOR_DTYPES:
        raise ValidationFailed(
            f"{where}: shared tensor '{name}' has dtype {dtype!r}; "
            f"expected one of {', '.join(TENSOR_DTYPES)}"
        )
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise ValidationFailed(
            f"{where}: shared tensor '{name}' has shape {shape!r}; "
            "expected a list of non-negative integers"
        )
    return TENSOR_DTYPES[dtype], shape
