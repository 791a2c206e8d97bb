"""Exporting a brain's current version to a file, and importing one as a new brain.

The file formats are ``export_files.py``; this module reads and writes the
stores. An export carries everything that decides the version's outputs
(graph, config, shared layer, metrics), and import commits all of it as
version 1 of the new brain, so the copy infers exactly as the original did.
The brain's memories travel too: import writes them under the new brain's
own ids, as written by its version 1, keeping keys, values, embeddings,
carrier neurons and times, so the copy recalls what the original did.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from torch import Tensor

from marble_graph import export_files
from marble_graph.brain_graph import BrainGraph
from marble_graph.brain_names import validate_brain_name
from marble_graph.brains.lifecycle import Progress, delete_brain, persist_new_brain
from marble_graph.config import MarbleConfig, config_from_mapping
from marble_graph.errors import Conflict, ValidationFailed
from marble_graph.failpoints import failpoint
from marble_graph.model import BrainModel
from marble_graph.store.home_stores import Stores
from marble_graph.store.metadata.brain_records import (
    BrainInfo,
    FirstVersion,
    brain_config,
    current_version_row,
    find_brain,
    get_brain,
)
from marble_graph.tensors import BrainTensors


def export_brain(stores: Stores, name: str, path: Path, fmt: str = "auto") -> Path:
    """Write a brain's current version to ``path`` (``.json`` file or Parquet
    directory): graph, config, shared layer and metrics, and the brain's memories."""
    info = get_brain(stores.metadata, name)
    config = brain_config(stores.metadata, name)
    graph = stores.graph.load_graph(name, info.graph_key)
    with stores.metadata.session() as session:
        version = current_version_row(session, name, info.version)
        params_blob, metrics = version.params_blob, dict(version.metrics)
    shared = stores.blobs.get_tensors(params_blob) if params_blob else None
    memories = stores.memories.rows(name)
    return export_files.write_export(
        path, info.as_dict(), config, graph, fmt, shared, metrics, memories
    )


def import_brain(
    stores: Stores, path: Path, name: str | None = None, progress: Progress | None = None
) -> BrainInfo:
    """Create a brain from an export whose graph and model hashes check out.

    Version 1 of the new brain carries the export's shared layer and
    metrics, so it infers exactly as the exported version did, and the
    export's memories are written as version 1's, under new ids.
    """
    exported = export_files.read_brain_export(path)
    new_name = name or str(exported.manifest["name"])
    validate_brain_name(new_name)
    config = config_from_mapping(exported.manifest["config"], source=f"{path} (config)")
    if find_brain(stores.metadata, new_name) is not None:
        raise Conflict(f"brain {new_name!r} already exists (import with --name NEW)")
    params_blob = None
    if exported.shared_state is not None:
        _check_shared_layer(exported.graph, config, exported.shared_state, path)
        params_blob = stores.blobs.put_tensors(exported.shared_state)
    _check_memory_width(exported.graph, config, exported.memories, path)
    # One critical section: a backup never sees the brain without its memories.
    with stores.write_lock:
        info = persist_new_brain(
            stores,
            new_name,
            config,
            exported.graph,
            progress,
            note=f"import {path}",
            first_version=FirstVersion(metrics=exported.metrics, params_blob=params_blob),
        )
        try:
            failpoint("import.before_memories")
            stores.memories.copy_in(new_name, info.version, exported.memories)
        except BaseException:
            delete_brain(stores, new_name)
            stores.memories.drop(new_name)
            raise
    return info


def _check_memory_width(
    graph: BrainGraph, config: MarbleConfig, memories: pa.Table, path: Path
) -> None:
    """Refuse embeddings the brain cannot recall against: outputs x representation_size."""
    widths = pc.list_value_length(memories.column("embedding")).drop_null()
    if len(widths) == 0:
        return
    outputs = graph.neuron_counts_by_kind().get("output", 0)
    expected = outputs * config.core.representation_size
    found = int(pc.max(widths).as_py())
    if found != expected:
        raise ValidationFailed(
            f"{path}: the memories' embeddings have {found} values; the brain embeds to "
            f"{expected} (outputs x representation_size: {outputs} x "
            f"{config.core.representation_size})"
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
