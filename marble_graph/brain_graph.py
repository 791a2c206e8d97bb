"""A brain's graph as columnar tables, independent of where it is stored.

``BrainGraph`` is the one in-memory shape that the seed produces, the graph
store reads and writes, and export/import serialise. Columns are Arrow arrays
with fixed types, so moving a brain between Kùzu, Parquet, JSON and tensors
never goes through per-row Python objects, and its hash is well defined.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from marble_graph.errors import ValidationFailed

NEURON_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("kind", pa.string()),  # input | output | hidden | concept
        ("neuron_type", pa.string()),
        ("state", pa.list_(pa.float32())),
        ("bias", pa.float32()),
        ("attention", pa.float32()),
        ("energy", pa.float32()),
        ("seed_cx", pa.float32()),
        ("seed_cy", pa.float32()),
        ("seed_escape", pa.float32()),
        ("created_step", pa.int64()),
    ]
)

SYNAPSE_SCHEMA = pa.schema(
    [
        ("src", pa.int64()),
        ("dst", pa.int64()),
        ("id", pa.int64()),
        ("weight", pa.float32()),
        ("synapse_type", pa.string()),  # standard | excitatory | inhibitory | modulatory
        ("potential", pa.float32()),
        ("fatigue", pa.float32()),
        ("visit_count", pa.int64()),
        ("frozen", pa.bool_()),
        ("created_step", pa.int64()),
    ]
)

LOBE_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("name", pa.string()),
        ("attention", pa.float32()),
    ]
)

MEMBERSHIP_SCHEMA = pa.schema([("neuron", pa.int64()), ("lobe", pa.int64())])

MEMORY_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("kind", pa.string()),  # vector | symbolic
        ("key", pa.string()),
        ("vector", pa.list_(pa.float32())),
        ("value", pa.string()),
        ("salience", pa.float32()),
        ("created_at", pa.timestamp("us")),
    ]
)

TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "neurons": NEURON_SCHEMA,
    "synapses": SYNAPSE_SCHEMA,
    "lobes": LOBE_SCHEMA,
    "memberships": MEMBERSHIP_SCHEMA,
    "memories": MEMORY_SCHEMA,
}

NEURON_KINDS = ("input", "output", "hidden", "concept")
SYNAPSE_TYPES = ("standard", "excitatory", "inhibitory", "modulatory")


@dataclass(frozen=True)
class BrainGraph:
    """Neurons, synapses, lobes, lobe memberships and memories of one brain."""

    neurons: pa.Table
    synapses: pa.Table
    lobes: pa.Table
    memberships: pa.Table
    memories: pa.Table

    @classmethod
    def from_tables(cls, tables: dict[str, pa.Table], source: str = "graph") -> BrainGraph:
        """Build a graph from named tables, checking and casting each to its schema."""
        missing = sorted(set(TABLE_SCHEMAS) - set(tables))
        if missing:
            raise ValidationFailed(f"{source}: missing table(s): {', '.join(missing)}")
        return cls(**{name: conform_table(tables[name], name, source) for name in TABLE_SCHEMAS})

    def tables(self) -> Iterator[tuple[str, pa.Table]]:
        """Yield (name, table) in the canonical order."""
        for name in TABLE_SCHEMAS:
            yield name, getattr(self, name)

    @property
    def neuron_count(self) -> int:
        return int(self.neurons.num_rows)

    @property
    def synapse_count(self) -> int:
        return int(self.synapses.num_rows)

    def in_canonical_order(self) -> BrainGraph:
        """This graph with every table's rows in canonical order (see ``canonical_order``)."""
        return BrainGraph(**{name: canonical_order(table, name) for name, table in self.tables()})

    def neuron_counts_by_kind(self) -> dict[str, int]:
        return _value_counts(self.neurons.column("kind"))

    def synapse_counts_by_type(self) -> dict[str, int]:
        return _value_counts(self.synapses.column("synapse_type"))


def empty_table(name: str) -> pa.Table:
    """An empty table with the schema of ``name``."""
    return TABLE_SCHEMAS[name].empty_table()


def conform_table(table: pa.Table, name: str, source: str = "graph") -> pa.Table:
    """Select and cast ``table``'s columns to the schema of ``name``.

    Raises ValidationFailed naming the table and column when a column is
    missing, has an incompatible type, or holds nulls.
    """
    schema = TABLE_SCHEMAS[name]
    missing = [f.name for f in schema if f.name not in table.column_names]
    if missing:
        raise ValidationFailed(f"{source}: table '{name}' lacks column(s): {', '.join(missing)}")
    columns = []
    for field in schema:
        column = table.column(field.name)
        if column.null_count:
            raise ValidationFailed(
                f"{source}: table '{name}' column '{field.name}' "
                f"has {column.null_count} null value(s)"
            )
        try:
            columns.append(column.cast(field.type, safe=True))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ValidationFailed(
                f"{source}: table '{name}' column '{field.name}': expected {field.type}, "
                f"got {column.type} ({exc})"
            ) from exc
    return pa.Table.from_arrays(columns, schema=schema)


def graph_hash(graph: BrainGraph) -> str:
    """SHA-256 over every column of every table, rows in canonical (id) order.

    Two graphs hash equal exactly when their contents are bit-identical, so
    the hash proves determinism of the seed and exactness of round trips.
    """
    digest = hashlib.sha256()
    for name, table in graph.tables():
        ordered = canonical_order(table, name)
        digest.update(f"{name}:{ordered.num_rows};".encode())
        for field in ordered.schema:
            digest.update(f"{field.name}:{field.type};".encode())
            for chunk in _canonical_buffers(ordered.column(field.name).combine_chunks()):
                digest.update(chunk)
    return digest.hexdigest()


def canonical_order(table: pa.Table, name: str) -> pa.Table:
    """``table`` with rows in canonical order: by id (memberships: neuron, lobe).

    A table already in that order (the seed's, and the store's as copied) is
    returned as it is: sorting copies every column, a whole second graph at
    ten million synapses. Ids are unique, so strictly increasing keys are the
    sorted order and the result is the same either way.
    """
    key = "neuron" if name == "memberships" else "id"
    if table.num_rows < 2 or _strictly_increasing(table.column(key)):
        return table
    if name == "memberships":
        return table.sort_by([("neuron", "ascending"), ("lobe", "ascending")])
    return table.sort_by([("id", "ascending")])


def _strictly_increasing(column: pa.ChunkedArray) -> bool:
    values = column.combine_chunks()
    return bool(pc.all(pc.less(values[:-1], values[1:])).as_py())


def _canonical_buffers(array: pa.Array) -> Iterator[bytes | memoryview]:
    """Bytes that depend only on the array's values, not on its memory layout."""
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
        yield np.ascontiguousarray(lengths, dtype=np.int64).tobytes()
        yield from _canonical_buffers(pc.list_flatten(array))
    elif pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        as_binary = array.cast(pa.large_binary())
        offsets = np.frombuffer(as_binary.buffers()[1], dtype=np.int64)
        offsets = offsets[as_binary.offset : as_binary.offset + len(as_binary) + 1]
        data = as_binary.buffers()[2]
        start, end = (int(offsets[0]), int(offsets[-1])) if len(offsets) else (0, 0)
        yield (offsets - start).tobytes()
        # A view, not a copy: the string bytes of ten million synapses are large.
        yield b"" if data is None else memoryview(data)[start:end]
    elif pa.types.is_boolean(array.type):
        yield array.to_numpy(zero_copy_only=False).astype(np.uint8).tobytes()
    elif pa.types.is_timestamp(array.type):
        yield array.cast(pa.int64()).to_numpy().tobytes()
    else:
        yield np.ascontiguousarray(array.to_numpy(zero_copy_only=False)).tobytes()


def _value_counts(column: pa.ChunkedArray) -> dict[str, int]:
    counts = pc.value_counts(column)
    return {
        str(value): int(count)
        for value, count in zip(
            counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
        )
    }
