"""Memories in the graph store, and the in-process index that recalls them.

A memory is a ``Memory`` node of the graph database (schema/graph/0004):
per brain, not per generation, so it outlives new versions and rollbacks.
It holds an embedding (the brain's state for a remembered input; null for a
pure fact), a key and a JSON value, the output neurons that carried the
input, and the version that wrote it (also as a ``WROTE`` relationship from
that ``BrainVersion``). The graph database is the source of truth.

Recall does not scan the graph: each brain's embedded memories are mirrored
in process, as one L2-normalised float32 matrix (a torch tensor) plus their
rows as an Arrow table, read with one bulk query on first use and kept
current by every ``insert`` and ``forget`` made through this store, after
the graph write succeeded. Only one process holds a data home read-write
(``GraphStore``'s holder lock), so no other writer can make the mirror stale.
A recall is then one matrix product and one top-k. ``exact_recall`` is the
same question answered by a scan in the engine (``array_cosine_similarity``),
the baseline the index is measured against (docs/memory.md explains why the
engine's own vector index is not used).

Backups and brain exports carry a brain's memories: ``rows`` reads them all
in one query, ``restore`` writes them back as they were (ids, versions, the
id sequence) and ``copy_in`` writes an imported brain's under new ids.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch import Tensor

from marble_graph.errors import StoreError
from marble_graph.store.graph import GraphStore

# Columns a memory read returns, in the order ``MemoryRecord.from_rows`` reads them.
_RECORD_COLUMNS = (
    "m.id AS id, m.key AS key, m.value AS value, m.neurons AS neurons, "
    "m.brain_version AS brain_version, m.created_at AS created_at, "
    "m.embedding IS NOT NULL AS embedded"
)
# Metadata chunks the mirror appends before it combines them into one (Arrow
# takes from a many-chunk table more slowly than from one).
_MAX_CHUNKS = 64
_SMALLEST_CAPACITY = 64


@dataclass(frozen=True)
class NewMemories:
    """Memories to insert: one row each; ``embeddings`` None for facts without an input."""

    keys: list[str | None]
    values: list[str]  # JSON text, one per row
    embeddings: np.ndarray | None  # [M, W] float32
    neurons: np.ndarray | None  # [M, C] int64: the output neurons that carried each input

    def __post_init__(self) -> None:
        rows = len(self.keys)
        sizes = [len(self.values)]
        sizes += [] if self.embeddings is None else [int(self.embeddings.shape[0])]
        sizes += [] if self.neurons is None else [int(self.neurons.shape[0])]
        if any(size != rows for size in sizes):
            raise ValueError(f"NewMemories: {rows} keys but columns of {sizes} rows")


@dataclass(frozen=True)
class MemoryRecord:
    """One memory as read back; ``similarity`` is set by recall (cosine, -1..1)."""

    id: int
    key: str | None
    value: Any  # the JSON value the caller remembered
    neurons: list[int]
    brain_version: int
    created_at: datetime  # UTC
    embedded: bool  # whether it holds an embedding (False: a fact)
    similarity: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "similarity": self.similarity,
            "key": self.key,
            "value": self.value,
            "created_at": self.created_at.isoformat(),
            "brain_version": self.brain_version,
            "neurons": self.neurons,
            "embedded": self.embedded,
        }


def records_from_rows(rows: pa.Table, similarity: np.ndarray | None = None) -> list[MemoryRecord]:
    """MemoryRecords of rows read with ``_RECORD_COLUMNS`` (a page or a top-k: few rows)."""
    columns = {name: rows.column(name).to_pylist() for name in rows.column_names}
    return [
        MemoryRecord(
            id=int(columns["id"][i]),
            key=columns["key"][i],
            value=json.loads(columns["value"][i]),
            neurons=[int(n) for n in columns["neurons"][i] or []],
            brain_version=int(columns["brain_version"][i]),
            created_at=columns["created_at"][i].replace(tzinfo=UTC),
            embedded=bool(columns["embedded"][i]),
            similarity=None if similarity is None else float(similarity[i]),
        )
        for i in range(rows.num_rows)
    ]


class _BrainIndex:
    """One brain's embedded memories in process: a normalised matrix and its rows.

    The matrix lives in a buffer with spare rows, so appending one memory
    writes one row instead of copying all of them; ``count`` rows are live.
    """

    def __init__(self, incarnation: object, rows: pa.Table, embeddings: Tensor) -> None:
        self.incarnation = incarnation
        self.rows = rows  # [M] _RECORD_COLUMNS, in matrix row order
        self.width = int(embeddings.shape[1])
        self.count = int(embeddings.shape[0])
        self.buffer = embeddings  # [capacity, W], rows beyond ``count`` unused
        self.last_id = int(pc.max(rows.column("id")).as_py()) if rows.num_rows else -1

    @property
    def matrix(self) -> Tensor:  # [M, W]
        return self.buffer[: self.count]

    def append(self, rows: pa.Table, embeddings: Tensor) -> None:
        added = int(embeddings.shape[0])
        if self.count == 0:
            # An empty read may come back with loose column types; take the new rows' own.
            self.width = int(embeddings.shape[1])
            self.buffer = embeddings.new_empty((0, self.width))
            self.rows = rows.slice(0, 0)
        if self.count + added > self.buffer.shape[0]:
            capacity = max(_SMALLEST_CAPACITY, 2 * (self.count + added))
            grown = self.buffer.new_empty((capacity, self.width))
            grown[: self.count] = self.matrix
            self.buffer = grown
        self.buffer[self.count : self.count + added] = embeddings
        self.count += added
        self.rows = pa.concat_tables([self.rows, rows.cast(self.rows.schema)])
        if self.rows.column("id").num_chunks > _MAX_CHUNKS:
            self.rows = self.rows.combine_chunks()
        self.last_id = max(self.last_id, int(pc.max(rows.column("id")).as_py()))

    def remove(self, ids: np.ndarray) -> None:
        keep = ~np.isin(self.rows.column("id").to_numpy(), ids)  # [M]
        if keep.all():
            return
        mask = torch.from_numpy(keep).to(self.buffer.device)
        self.buffer = self.matrix[mask].clone()
        self.count = int(self.buffer.shape[0])
        self.rows = self.rows.filter(pa.array(keep))


class MemoryStore:
    """Memories of every brain in one graph store, with a recall index per brain."""

    def __init__(self, graph: GraphStore) -> None:
        self.graph = graph
        self._indexes: dict[str, _BrainIndex] = {}
        # Loads, appends and removals of the mirrors; recalls read a consistent mirror.
        self._lock = threading.Lock()

    # -- writes -------------------------------------------------------------------

    def insert(self, brain: str, brain_version: int, memories: NewMemories) -> list[int]:
        """Write ``memories`` in one bulk copy; return their new ids (ascending).

        Callers hold the stores' write lock: ids are reserved from the brain's
        sequence, so they are never reused even after every memory was forgotten.
        """
        count = len(memories.keys)
        if count == 0:
            return []
        ids = self._reserve_ids(brain, count)
        created_at = datetime.now(UTC).replace(tzinfo=None)  # the engine's TIMESTAMP is naive UTC
        rows = _node_rows(brain, _new_rows(brain_version, ids, created_at, memories))
        self._write_nodes(brain, rows)
        if memories.embeddings is not None:
            self._mirror_insert(brain, rows, memories.embeddings)
        return [int(i) for i in ids]

    def restore(self, brain: str, rows: pa.Table, next_id: int | None) -> None:
        """Write memories read with ``rows`` back as they were, for a restore into an empty
        home: the same ids, versions and times, ``WROTE`` edges from their versions' nodes
        (which must exist by then), and the id sequence at ``next_id`` (None: the brain
        never remembered anything), or past the largest id when that is further.

        Callers hold the stores' write lock; ``rows`` are checked (``export_files``).
        """
        largest = int(pc.max(rows.column("id")).as_py()) if rows.num_rows else -1
        if next_id is None and largest < 0:
            return
        self.graph.execute(
            "MERGE (s:MemorySequence {brain: $brain}) SET s.next_id = $next",
            {"brain": brain, "next": max(next_id or 0, largest + 1)},
        )
        if rows.num_rows:
            self._write_nodes(brain, _node_rows(brain, rows))
        self.drop(brain)  # the next recall reads the index back from the graph

    def copy_in(self, brain: str, brain_version: int, rows: pa.Table) -> list[int]:
        """Write another brain's memories (read with ``rows``, e.g. from an imported
        export) as this brain's, written by ``brain_version``, under new ids from its
        sequence; keys, values, embeddings, carrier neurons and times are kept. Returns
        the new ids in the order of ``rows`` (callers hold the stores' write lock)."""
        count = rows.num_rows
        if count == 0:
            return []
        ids = self._reserve_ids(brain, count)
        renumbered = rows.set_column(
            rows.column_names.index("id"), "id", pa.array(ids, pa.int64())
        ).set_column(
            rows.column_names.index("brain_version"),
            "brain_version",
            pa.repeat(pa.scalar(brain_version, pa.int64()), count),
        )
        self._write_nodes(brain, _node_rows(brain, renumbered))
        self.drop(brain)
        return [int(i) for i in ids]

    def _reserve_ids(self, brain: str, count: int) -> np.ndarray:
        """``count`` new ids [count] from the brain's sequence (never handed out again)."""
        end = int(
            self.graph.scalar(
                "MERGE (s:MemorySequence {brain: $brain}) ON CREATE SET s.next_id = $count "
                "ON MATCH SET s.next_id = s.next_id + $count RETURN s.next_id",
                {"brain": brain, "count": count},
            )
        )
        return np.arange(end - count, end, dtype=np.int64)

    def _write_nodes(self, brain: str, rows: pa.Table) -> None:
        """Copy ``Memory`` rows in bulk, then link each to the version that wrote it."""
        self.graph.copy_rows("Memory", rows)
        ids = rows.column("id")
        first, last = (int(v.as_py()) for v in pc.min_max(ids).values())
        # One statement per version that wrote them (one for a remember; a few for a
        # restore), each finding its version node by primary key.
        for version in pc.unique(rows.column("brain_version")).to_pylist():
            self.graph.execute(
                "MATCH (v:BrainVersion {id: $version}), (m:Memory) "
                "WHERE m.brain = $brain AND m.id >= $first AND m.id <= $last "
                "AND m.brain_version = $number CREATE (v)-[:WROTE]->(m)",
                {
                    "version": f"{brain}@{version}",
                    "brain": brain,
                    "first": first,
                    "last": last,
                    "number": int(version),
                },
            )

    def forget(
        self, brain: str, older_than: datetime | None = None, keep_last: int | None = None
    ) -> int:
        """Remove the brain's memories created before ``older_than``, or all but the newest
        ``keep_last``; return how many went (callers hold the stores' write lock)."""
        if (older_than is None) == (keep_last is None):
            raise ValueError("forget takes exactly one of older_than and keep_last")
        if older_than is not None:
            removed = self.graph.arrow(
                "MATCH (m:Memory) WHERE m.brain = $brain AND m.created_at < $before "
                "WITH m, m.id AS id DETACH DELETE m RETURN id",
                {"brain": brain, "before": _naive_utc(older_than)},
            )
        else:
            removed = self.graph.arrow(
                "MATCH (m:Memory) WHERE m.brain = $brain WITH m ORDER BY m.id DESC SKIP $keep "
                "WITH m, m.id AS id DETACH DELETE m RETURN id",
                {"brain": brain, "keep": int(keep_last or 0)},
            )
        ids = removed.column("id").to_numpy().astype(np.int64, copy=False)
        with self._lock:
            index = self._indexes.get(brain)
            if index is not None and ids.size:
                index.remove(ids)
        return int(ids.size)

    def drop(self, brain: str) -> None:
        """Forget the mirror of a deleted brain (its graph rows went with the brain)."""
        with self._lock:
            self._indexes.pop(brain, None)

    # -- reads ----------------------------------------------------------------------

    def recall(
        self,
        brain: str,
        incarnation: object,
        query: np.ndarray,  # [W]
        k: int,
        device: torch.device | str = "cpu",
    ) -> list[MemoryRecord]:
        """The ``k`` embedded memories nearest ``query`` by cosine, nearest first.

        ``incarnation`` tells apart brains of one name (a deleted brain's mirror
        is never served to a new brain of its name): pass the brain's creation time.
        """
        matrix, rows = self._snapshot(brain, incarnation, device)
        if matrix.shape[0] == 0:
            return []
        if query.shape != (matrix.shape[1],):
            raise StoreError(
                f"brain {brain!r}: a query of shape {query.shape} against memories "
                f"{matrix.shape[1]} wide"
            )
        target = torch.from_numpy(np.ascontiguousarray(query, dtype=np.float32))
        target = _normalised(target.to(matrix.device).unsqueeze(0))  # [1, W]
        scores = (matrix @ target.T).squeeze(1)  # [M]
        best = torch.topk(scores, min(k, int(scores.shape[0])))
        order = best.indices.cpu().numpy()
        return records_from_rows(rows.take(pa.array(order)), best.values.cpu().numpy())

    def exact_recall(self, brain: str, query: np.ndarray, k: int) -> list[MemoryRecord]:
        """``recall`` answered by scanning every memory in the engine (no index)."""
        width = int(query.shape[0])
        vector = f"FLOAT[{width}]"  # a width from a numpy shape, never caller text
        rows = self.graph.arrow(
            f"MATCH (m:Memory) WHERE m.brain = $brain AND m.embedding IS NOT NULL "
            f"RETURN {_RECORD_COLUMNS}, array_cosine_similarity(CAST(m.embedding AS {vector}), "
            f"CAST($query AS {vector})) AS similarity ORDER BY similarity DESC, id LIMIT $k",
            {"brain": brain, "query": query.astype(np.float32).tolist(), "k": int(k)},
        )
        return records_from_rows(rows, rows.column("similarity").to_numpy())

    def lookup(self, brain: str, key: str) -> list[MemoryRecord]:
        """The brain's memories with ``key``, newest first (may be empty)."""
        rows = self.graph.arrow(
            f"MATCH (m:Memory) WHERE m.brain = $brain AND m.key = $key "
            f"RETURN {_RECORD_COLUMNS} ORDER BY id DESC",
            {"brain": brain, "key": key},
        )
        return records_from_rows(rows)

    def page(self, brain: str, limit: int, before: int | None = None) -> list[MemoryRecord]:
        """Up to ``limit`` memories, newest first, with ids below ``before`` when given."""
        rows = self.graph.arrow(
            f"MATCH (m:Memory) WHERE m.brain = $brain AND m.id < $before "
            f"RETURN {_RECORD_COLUMNS} ORDER BY id DESC LIMIT $limit",
            {"brain": brain, "before": (1 << 62) if before is None else before, "limit": limit},
        )
        return records_from_rows(rows)

    def count(self, brain: str) -> int:
        """How many memories (embedded and facts) the brain holds."""
        found = self.graph.scalar(
            "MATCH (m:Memory) WHERE m.brain = $brain RETURN count(*)", {"brain": brain}
        )
        return int(found or 0)

    def rows(self, brain: str) -> pa.Table:
        """Every memory of the brain (facts too) by id, in one bulk read: id, key, value
        (JSON text), embedding (null for a fact), neurons, brain_version, created_at
        (naive UTC): what ``restore`` and ``copy_in`` take back."""
        return self.graph.arrow(
            "MATCH (m:Memory) WHERE m.brain = $brain RETURN m.id AS id, m.key AS key, "
            "m.value AS value, m.embedding AS embedding, m.neurons AS neurons, "
            "m.brain_version AS brain_version, m.created_at AS created_at ORDER BY id",
            {"brain": brain},
        )

    def next_id(self, brain: str) -> int | None:
        """The id the brain's next memory gets; None when it never remembered anything."""
        found = self.graph.scalar(
            "MATCH (s:MemorySequence {brain: $brain}) RETURN s.next_id", {"brain": brain}
        )
        return None if found is None else int(found)

    def embeddings(self, brain: str) -> tuple[np.ndarray, np.ndarray]:
        """Every embedded memory's id [M] and embedding [M, W], as stored (one bulk read)."""
        rows = self.graph.arrow(
            "MATCH (m:Memory) WHERE m.brain = $brain AND m.embedding IS NOT NULL "
            "RETURN m.id AS id, m.embedding AS embedding ORDER BY id",
            {"brain": brain},
        )
        return rows.column("id").to_numpy(), _matrix(brain, rows.column("embedding"))

    # -- the mirror -------------------------------------------------------------------

    def _snapshot(
        self, brain: str, incarnation: object, device: torch.device | str
    ) -> tuple[Tensor, pa.Table]:
        """The brain's mirrored matrix [M, W] and its M rows, as one consistent state
        (an append or removal afterwards makes new ones; these stay as they are)."""
        with self._lock:
            index = self._indexes.get(brain)
            if index is None or index.incarnation != incarnation:
                index = self._load(brain, incarnation, torch.device(device))
                self._indexes[brain] = index
            return index.matrix, index.rows

    def _load(self, brain: str, incarnation: object, device: torch.device) -> _BrainIndex:
        rows = self.graph.arrow(
            f"MATCH (m:Memory) WHERE m.brain = $brain AND m.embedding IS NOT NULL "
            f"RETURN {_RECORD_COLUMNS}, m.embedding AS embedding ORDER BY id",
            {"brain": brain},
        )
        matrix = torch.from_numpy(_matrix(brain, rows.column("embedding"))).to(device)
        return _BrainIndex(incarnation, rows.drop_columns(["embedding"]), _normalised(matrix))

    def _mirror_insert(self, brain: str, rows: pa.Table, embeddings: np.ndarray) -> None:
        with self._lock:
            index = self._indexes.get(brain)
            # A mirror loaded after the graph write already holds these rows.
            if index is None or int(rows.column("id")[0].as_py()) <= index.last_id:
                return
            if embeddings.shape[1] != index.width and index.count:
                self._indexes.pop(brain)  # reloaded (and refused) on the next recall
                return
            added = torch.from_numpy(np.ascontiguousarray(embeddings, dtype=np.float32))
            columns = ["id", "key", "value", "neurons", "brain_version", "created_at"]
            record_rows = rows.select(columns).append_column(
                "embedded", pa.repeat(pa.scalar(True), rows.num_rows)
            )
            index.append(record_rows, _normalised(added.to(index.buffer.device)))


def _new_rows(
    brain_version: int, ids: np.ndarray, created_at: datetime, new: NewMemories
) -> pa.Table:
    """The memories of ``new`` with their ids, version and time, as ``rows`` reads them."""
    count = int(ids.size)
    if new.embeddings is None:
        embedding = pa.nulls(count, pa.list_(pa.float32()))
    else:
        embedding = _list_array(np.ascontiguousarray(new.embeddings, dtype=np.float32))
    neurons = (
        _list_array(np.zeros((count, 0), np.int64))
        if new.neurons is None
        else _list_array(np.ascontiguousarray(new.neurons, dtype=np.int64))
    )
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "key": pa.array(new.keys, pa.string()),
            "value": pa.array(new.values, pa.string()),
            "embedding": embedding,
            "neurons": neurons,
            "brain_version": pa.repeat(pa.scalar(brain_version, pa.int64()), count),
            "created_at": pa.repeat(pa.scalar(created_at, pa.timestamp("us")), count),
        }
    )


def _node_rows(brain: str, rows: pa.Table) -> pa.Table:
    """``Memory`` node rows of ``brain``: ``rows`` (as ``MemoryStore.rows`` reads them)
    behind their uid and brain, columns in the table's order (schema/graph/0004)."""
    count = rows.num_rows
    ids = rows.column("id").cast(pa.int64())
    uid = pc.binary_join_element_wise(
        pa.repeat(pa.scalar(brain), count), pc.cast(ids, pa.string()), "/"
    )
    return pa.table(
        {
            "uid": uid,
            "brain": pa.repeat(pa.scalar(brain), count),
            "id": ids,
            "key": rows.column("key").cast(pa.string()),
            "value": rows.column("value").cast(pa.string()),
            "embedding": rows.column("embedding").cast(pa.list_(pa.float32())),
            "neurons": rows.column("neurons").cast(pa.list_(pa.int64())),
            "brain_version": rows.column("brain_version").cast(pa.int64()),
            "created_at": rows.column("created_at").cast(pa.timestamp("us")),
        }
    )


def _list_array(matrix: np.ndarray) -> pa.ListArray:
    """Rows of a [M, W] matrix as an Arrow list array (no per-row Python objects)."""
    rows, width = matrix.shape
    offsets = pa.array(np.arange(rows + 1, dtype=np.int64) * width, pa.int32())
    return pa.ListArray.from_arrays(offsets, pa.array(matrix.reshape(-1)))


def _matrix(brain: str, column: pa.ChunkedArray) -> np.ndarray:
    """A list<float> column of equal-length lists as a [M, W] float32 matrix."""
    if len(column) == 0:
        return np.zeros((0, 0), np.float32)
    lengths = pc.list_value_length(column)
    low, high = (int(v.as_py()) for v in pc.min_max(lengths).values())
    if low != high:
        raise StoreError(
            f"brain {brain!r}: its memories' embeddings have {low} to {high} values; "
            "one brain's embeddings must all have the same width"
        )
    flat = pc.list_flatten(column).to_numpy(zero_copy_only=False)
    # A copy: Arrow's buffers are read-only, and torch wants to own what it wraps.
    return flat.astype(np.float32).reshape(len(column), high)


def _normalised(matrix: Tensor) -> Tensor:
    """Rows scaled to unit length (a zero row stays zero: its cosine is then 0)."""
    return torch.nn.functional.normalize(matrix.to(torch.float32), dim=1)


def _naive_utc(moment: datetime) -> datetime:
    """``moment`` as the naive UTC time the engine stores (a naive one is taken as UTC)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
