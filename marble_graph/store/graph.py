"""The graph store: the one module that talks to Kùzu (or its fork LadybugDB).

Nothing else in the project imports ``kuzu``. Both engines share one Python
API, so the adapter picks the module from ``storage.graph_engine`` and the
rest of the code never knows which one it runs on.

Kùzu 0.11.3 loses *committed* relationships when a transaction that ran a
relationship COPY or DELETE is rolled back (reproduced here; fixed in
LadybugDB). The store therefore never wraps relationship writes in explicit
transactions: each statement commits on its own, and atomicity across
statements and across the two stores comes from the metadata store's intent
rows plus ``BrainService.reconcile`` (see docs/storage.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Concatenate, ParamSpec, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from marble_graph.brain_graph import MEMORY_SCHEMA, BrainGraph
from marble_graph.errors import StoreError, StoreLocked
from marble_graph.failpoints import failpoint
from marble_graph.store.exploration import ExplorationPool
from marble_graph.store.graph_migrations import apply_graph_migrations
from marble_graph.store.graph_query import QueryRows
from marble_graph.store.graph_rows import (
    MAX_LOCAL_ID,
    UID_SHIFT,
    check_local_ids,
    key_range,
    store_row_slices,
    store_rows,
)

log = logging.getLogger(__name__)

_OWNER_FILE = "owner.json"
_HOLDER_LOCK_FILE = "holder.lock"
_POOL_BYTES_PER_COPY_ROW = 512


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _serialized(
    method: Callable[Concatenate[GraphStore, _P], _R],
) -> Callable[Concatenate[GraphStore, _P], _R]:
    """Run ``method`` holding the store's lock (the engine connection is not shared-safe)."""

    @functools.wraps(method)
    def locked(self: GraphStore, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


def _engine_module(engine: str) -> ModuleType:
    if engine == "kuzu":
        import kuzu

        return kuzu
    if engine == "ladybug":
        try:
            import ladybug
        except ImportError as exc:
            raise StoreError(
                "storage.graph_engine is 'ladybug' but the package is not installed "
                "(it is a dependency of marble): pip install 'ladybug>=0.12'"
            ) from exc
        return ladybug
    raise StoreError(f"storage.graph_engine: unknown engine {engine!r} (expected kuzu or ladybug)")


class GraphStore:
    """An open graph database file with MARBLE's schema applied."""

    def __init__(
        self,
        path: Path,
        engine: str = "kuzu",
        buffer_pool_mb: int = 512,
        read_only: bool = False,
        query_concurrency: int = 2,
        compression: bool = False,
    ) -> None:
        """Open (or create) the database at ``path``.

        ``compression`` is off by default: with it on, Kùzu 0.11.3 and LadybugDB
        both return wrong values (zeros) for some elements of the `state FLOAT[]`
        lists of a generation copied in after older generations were deleted,
        and the brain reads as damaged (tests/store/test_generation_rewrites.py).
        """
        self.path = Path(path)
        self.engine = engine
        # Rows per bulk COPY statement. A relationship COPY holds its rows in the
        # buffer pool until it commits: 10M synapses in one COPY fill a 512 MiB
        # pool, 1M fit, so about 512 bytes of pool per row (bench/scale.py).
        self.copy_max_rows = max(10_000, buffer_pool_mb * 1024 * 1024 // _POOL_BYTES_PER_COPY_ROW)
        self.read_only = read_only
        # One connection serves every thread of the process (the server's request
        # and job threads); statements and multi-statement reads or deletes of a
        # generation run under this lock so no reader sees half of a delete.
        self._lock = threading.RLock()
        module = _engine_module(engine)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Our own lock first: the engines wait about 30 s on theirs before failing.
        self._holder_lock = None if read_only else _take_holder_lock(self.path)
        try:
            self._db = module.Database(
                str(self.path),
                buffer_pool_size=buffer_pool_mb * 1024 * 1024,
                read_only=read_only,
                compression=compression,
            )
        except RuntimeError as exc:
            _release_holder_lock(self._holder_lock)
            if "lock" in str(exc).lower():
                raise StoreLocked(self._locked_message()) from exc
            raise StoreError(f"cannot open graph database {self.path}: {exc}") from exc
        self._conn = module.Connection(self._db)
        # Caller-supplied Cypher runs on connections of its own, never under _lock.
        self._exploration = ExplorationPool(module, self._db, query_concurrency)
        if not read_only:
            self._write_owner()

    # -- lifecycle -------------------------------------------------------------------

    @staticmethod
    def ensure_available(path: Path) -> None:
        """Raise StoreLocked at once, naming the holder, if another process holds ``path``."""
        if Path(path).parent.is_dir():
            _release_holder_lock(_take_holder_lock(Path(path)))

    @_serialized
    def close(self) -> None:
        """Release the database (and its file lock)."""
        if getattr(self, "_conn", None) is not None:
            self._exploration.close()
            self._conn.close()
            self._db.close()
            self._conn = None
            owner = self.path.parent / _OWNER_FILE
            if not self.read_only and owner.exists():
                owner.unlink(missing_ok=True)
            _release_holder_lock(self._holder_lock)
            self._holder_lock = None

    def _write_owner(self) -> None:
        # Kùzu's lock error does not say who holds the file; this note does.
        command = " ".join([Path(sys.orig_argv[0]).name, *sys.orig_argv[1:]])
        owner = {"pid": os.getpid(), "command": command[:120]}
        (self.path.parent / _OWNER_FILE).write_text(json.dumps(owner))

    def _locked_message(self) -> str:
        return _locked_message(self.path)

    # -- schema migrations -------------------------------------------------------------

    def migrate(self, schema_dir: Path) -> list[str]:
        """Apply the DDL files of ``schema_dir`` not yet applied; return their names."""
        return apply_graph_migrations(self, schema_dir)

    def transaction(self) -> _Transaction:
        """A write transaction (DDL and node writes only: see the module docstring)."""
        return _Transaction(self._conn, self._lock)

    # -- reads ------------------------------------------------------------------------

    @_serialized
    def execute(self, query: str, params: dict[str, Any] | None = None) -> Any:
        """Run one statement and return the engine's result object."""
        return self._conn.execute(query, params or {})

    @_serialized
    def arrow(self, query: str, params: dict[str, Any] | None = None) -> pa.Table:
        """Run one query and return all rows as an Arrow table (one bulk transfer)."""
        result = self._conn.execute(query, params or {})
        return result.get_as_arrow(chunk_size=1_000_000)

    @_serialized
    def scalar(self, query: str, params: dict[str, Any] | None = None) -> Any:
        result = self._conn.execute(query, params or {})
        return result.get_next()[0] if result.has_next() else None

    def brain_names(self) -> set[str]:
        """Names of every brain with any data in the graph (complete or not)."""
        generations = {brain for brain, _ in self.generations()}
        return set(self.brain_node_keys()) | generations | self.memory_brains()

    @_serialized
    def memory_brains(self) -> set[str]:
        """Names of the brains with memories (store/memories.py) or a memory id sequence."""
        found: set[str] = set()
        for table in ("Memory", "MemorySequence"):
            rows = self.arrow(f"MATCH (m:{table}) RETURN DISTINCT m.brain AS brain")
            found.update(rows["brain"].to_pylist())
        return found

    @_serialized
    def generations(self, brain: str | None = None) -> set[tuple[str, int]]:
        """Every (brain, graph_key) with rows in the store, complete or not (of one brain)."""
        found: set[tuple[str, int]] = set()
        where = "" if brain is None else "WHERE n.brain = $brain "
        params: dict[str, Any] = {"span": 1 << UID_SHIFT}
        if brain is not None:
            params["brain"] = brain
        # Memories are per brain, not per generation (store/memories.py).
        for table in ("Neuron", "Lobe"):
            rows = self.arrow(
                f"MATCH (n:{table}) {where}RETURN DISTINCT n.brain AS brain, n.uid / $span AS key",
                params,
            )
            found.update(zip(rows["brain"].to_pylist(), rows["key"].to_pylist(), strict=True))
        return found

    @_serialized
    def read_generation(self, graph_key: int) -> dict[str, pa.Table]:
        """One bulk Arrow read per table of one brain generation, as the engine returns it."""
        params = key_range(graph_key)
        neurons = self.arrow(
            "MATCH (n:Neuron) WHERE n.uid >= $lo AND n.uid < $hi RETURN n.id AS id, "
            "n.kind AS kind, n.neuron_type AS neuron_type, n.state AS state, n.bias AS bias, "
            "n.attention AS attention, n.energy AS energy, n.seed_cx AS seed_cx, "
            "n.seed_cy AS seed_cy, n.seed_escape AS seed_escape, n.created_step AS created_step",
            params,
        )
        synapses = self._read_synapses(graph_key)
        lobes = self.arrow(
            "MATCH (l:Lobe) WHERE l.uid >= $lo AND l.uid < $hi "
            "RETURN l.id AS id, l.name AS name, l.attention AS attention",
            params,
        )
        memberships = self.arrow(
            "MATCH (n:Neuron)-[:MEMBER_OF]->(l:Lobe) WHERE n.uid >= $lo AND n.uid < $hi "
            "RETURN n.id AS neuron, l.id AS lobe",
            params,
        )
        return {
            "neurons": neurons,
            "synapses": synapses,
            "lobes": lobes,
            "memberships": memberships,
            # Always empty: memories live per brain, beside the generations
            # (store/memories.py); the table stays for the versions' graph hashes.
            "memories": MEMORY_SCHEMA.empty_table(),
        }

    def _read_synapses(self, graph_key: int) -> pa.Table:
        """The generation's synapses, read in source-neuron slices.

        The engine holds a query's whole result in its buffer pool, so one read
        of ten million synapses fills a 512 MiB pool; each slice's sources span
        an id range expected to hold about ``copy_max_rows`` synapses.
        """
        params = key_range(graph_key)
        _, total = self.generation_size(graph_key)
        top = self.scalar(
            "MATCH (n:Neuron) WHERE n.uid >= $lo AND n.uid < $hi RETURN max(n.id)", params
        )
        slices = max(1, -(-total // self.copy_max_rows))
        width = -(-(int(top or 0) + 1) // slices)
        parts = [
            self.arrow(
                "MATCH (a:Neuron)-[s:Synapse]->(b:Neuron) WHERE a.uid >= $lo AND a.uid < $hi "
                "RETURN a.id AS src, b.id AS dst, s.id AS id, s.weight AS weight, "
                "s.synapse_type AS synapse_type, s.potential AS potential, "
                "s.fatigue AS fatigue, s.visit_count AS visit_count, s.frozen AS frozen, "
                "s.created_step AS created_step",
                {"lo": params["lo"] + start, "hi": min(params["lo"] + start + width, params["hi"])},
            )
            for start in range(0, max(width * slices, 1), max(width, 1))
        ]
        # An empty slice (an id range without sources) may come back with loose types.
        filled = [part for part in parts if part.num_rows] or parts[:1]
        return pa.concat_tables(filled) if len(filled) > 1 else filled[0]

    def load_graph(self, brain: str, graph_key: int) -> BrainGraph:
        """Read one brain generation, checked against the table schemas, rows in id order.

        Ordered once here, so hashing and conversion to tensors (which both
        want id order) never sort a copy of their own.
        """
        return BrainGraph.from_tables(
            self.read_generation(graph_key), source=f"graph store, brain {brain!r}"
        ).in_canonical_order()

    @_serialized
    def counts_by_kind_and_type(self, graph_key: int) -> tuple[dict[str, int], dict[str, int]]:
        """Neurons by kind and synapses by type in one brain generation."""
        params = key_range(graph_key)
        kinds = self.arrow(
            "MATCH (n:Neuron) WHERE n.uid >= $lo AND n.uid < $hi "
            "RETURN n.kind AS k, count(*) AS c ORDER BY k",
            params,
        )
        types = self.arrow(
            "MATCH (a:Neuron)-[s:Synapse]->() WHERE a.uid >= $lo AND a.uid < $hi "
            "RETURN s.synapse_type AS t, count(*) AS c ORDER BY t",
            params,
        )
        return (
            dict(zip(kinds["k"].to_pylist(), kinds["c"].to_pylist(), strict=True)),
            dict(zip(types["t"].to_pylist(), types["c"].to_pylist(), strict=True)),
        )

    @_serialized
    def generation_size(self, graph_key: int) -> tuple[int, int]:
        """(neurons, synapses) of one generation."""
        params = key_range(graph_key)
        neurons = self.scalar(
            "MATCH (n:Neuron) WHERE n.uid >= $lo AND n.uid < $hi RETURN count(*)", params
        )
        synapses = self.scalar(
            "MATCH (a:Neuron)-[s:Synapse]->() WHERE a.uid >= $lo AND a.uid < $hi RETURN count(*)",
            params,
        )
        return int(neurons or 0), int(synapses or 0)

    @_serialized
    def generation_counts(self) -> dict[int, tuple[int, int]]:
        """(neurons, synapses) of every generation in the store, keyed by graph_key."""
        span = {"span": 1 << UID_SHIFT}
        neurons = self.arrow("MATCH (n:Neuron) RETURN n.uid / $span AS key, count(*) AS c", span)
        synapses = self.arrow(
            "MATCH (a:Neuron)-[s:Synapse]->() RETURN a.uid / $span AS key, count(*) AS c", span
        )
        counts = {
            int(k): (int(c), 0)
            for k, c in zip(neurons["key"].to_pylist(), neurons["c"].to_pylist(), strict=True)
        }
        for key, count in zip(synapses["key"].to_pylist(), synapses["c"].to_pylist(), strict=True):
            counts[int(key)] = (counts.get(int(key), (0, 0))[0], int(count))
        return counts

    # -- writes -----------------------------------------------------------------------

    @_serialized
    def insert_graph(
        self, brain: str, graph_key: int, graph: BrainGraph, create_brain_node: bool = True
    ) -> None:
        """Bulk-copy a brain generation into the store and count it; a new Brain node last.

        A generation whose neurons or synapses did not all land raises StoreError,
        so nothing is committed over it. Callers must treat a failure here as a
        half-written generation and remove it with ``delete_generation`` (the
        service does, and reconciles after crashes).
        """
        check_local_ids(graph)
        if graph.memories.num_rows:
            raise StoreError(
                f"brain {brain!r}: the graph holds {graph.memories.num_rows} rows in its "
                "'memories' table, which generations no longer store; remember them through "
                "the memory operations instead (docs/memory.md)"
            )
        # Slices, not whole tables: each COPY must fit the buffer pool, and only
        # one slice's store-side columns exist at a time.
        for table, rows in store_row_slices(brain, graph_key, graph, self.copy_max_rows):
            self._copy(table, rows)
        stored, expected = (
            self.generation_size(graph_key),
            (graph.neuron_count, graph.synapse_count),
        )
        if stored != expected:
            raise StoreError(
                f"bulk copy of brain {brain!r}: the store holds {stored[0]} neurons and "
                f"{stored[1]} synapses of generation {graph_key}, expected {expected[0]} "
                f"and {expected[1]}"
            )
        if not create_brain_node:
            return
        self._conn.execute(
            "CREATE (:Brain {name: $name, graph_key: $key, created_at: current_timestamp()})",
            {"name": brain, "key": graph_key},
        )

    @_serialized
    def delete_brain(self, brain: str) -> None:
        """Remove every node and relationship of ``brain``; safe to repeat."""
        params = {"brain": brain}
        for statement in (
            # Memories first: a delete cut short leaves the rest, which names the
            # brain to reconcile, never memories that a new brain of the name would inherit.
            "MATCH (m:Memory) WHERE m.brain = $brain DETACH DELETE m",
            "MATCH (s:MemorySequence) WHERE s.brain = $brain DELETE s",
            "MATCH (b:Brain {name: $brain}) DETACH DELETE b",
            "MATCH (v:BrainVersion) WHERE v.brain = $brain DETACH DELETE v",
            "MATCH ()-[m:MEMBER_OF]->() WHERE m.brain = $brain DELETE m",
            "MATCH ()-[s:Synapse]->() WHERE s.brain = $brain DELETE s",
            "MATCH (n:Neuron) WHERE n.brain = $brain DETACH DELETE n",
            "MATCH (l:Lobe) WHERE l.brain = $brain DETACH DELETE l",
        ):
            self._conn.execute(statement, params)

    @_serialized
    def delete_generation(self, brain: str, graph_key: int) -> None:
        """Remove one generation of ``brain`` (an old version, or a failed write-back)."""
        params = key_range(graph_key)
        for statement in (
            "MATCH (n:Neuron)-[m:MEMBER_OF]->() WHERE n.uid >= $lo AND n.uid < $hi DELETE m",
            "MATCH (a:Neuron)-[s:Synapse]->() WHERE a.uid >= $lo AND a.uid < $hi DELETE s",
            # A crash here leaves neurons without synapses: reconcile must finish the job.
            "FAILPOINT graph.delete_generation.after_synapses",
            "MATCH (n:Neuron) WHERE n.uid >= $lo AND n.uid < $hi DETACH DELETE n",
            "MATCH (l:Lobe) WHERE l.uid >= $lo AND l.uid < $hi DETACH DELETE l",
        ):
            if statement.startswith("FAILPOINT "):
                failpoint(statement.removeprefix("FAILPOINT "))
            else:
                self._conn.execute(statement, params)

    @_serialized
    def brain_node_keys(self) -> dict[str, int]:
        """graph_key recorded on each Brain node."""
        rows = self.arrow("MATCH (b:Brain) RETURN b.name AS name, b.graph_key AS key")
        return dict(zip(rows["name"].to_pylist(), rows["key"].to_pylist(), strict=True))

    @_serialized
    def set_brain_key(self, brain: str, graph_key: int) -> None:
        """Point the Brain node at its current generation."""
        self._conn.execute(
            "MATCH (b:Brain {name: $name}) SET b.graph_key = $key",
            {"name": brain, "key": graph_key},
        )

    @_serialized
    def query_as_torch_geometric(self, query: str, params: dict[str, Any] | None = None) -> Any:
        """The engine's own conversion of a query result to PyG (for comparison benches)."""
        return self._conn.execute(query, params or {}).get_as_torch_geometric()

    def copy_rows(self, table: str, data: pa.Table) -> None:
        """Bulk-copy ``data`` (columns in the table's order) into node table ``table``."""
        self._copy(table, data)

    @_serialized
    def _copy(self, table: str, data: pa.Table) -> None:
        # Through a Parquet file, not the Arrow table itself: LadybugDB 0.22 never
        # returns the buffer-pool pages of a COPY from a Python Arrow object, so a
        # server that wrote a few dozen brains ran out of its pool (measured: a 64 MiB
        # pool full after 6 small copies from Arrow, 199 copies from Parquet fine).
        staging = self.path.parent / f".copy-{os.getpid()}-{threading.get_ident()}.parquet"
        try:
            pq.write_table(data, staging, compression="none")
            self._conn.execute(f"COPY {table} FROM '{_cypher_string(staging)}'")
        except RuntimeError as exc:
            raise StoreError(f"bulk copy into {table} failed: {exc}") from exc
        finally:
            staging.unlink(missing_ok=True)

    # -- exploration ------------------------------------------------------------------

    def read_only_query(
        self,
        query: str,
        params: dict[str, Any] | None = None,
        row_limit: int = 1000,
        timeout_s: float = 30.0,
    ) -> QueryRows:
        """Run a caller's Cypher in a read-only transaction; refuse anything else.

        It runs on an exploration connection (``ExplorationPool``), without the
        store's lock, so brain reads and writes never wait for it.
        """
        return self._exploration.run(query, params, row_limit, timeout_s)


def _cypher_string(path: Path) -> str:
    """``path`` inside a single-quoted Cypher string literal."""
    return str(path).replace("\\", "\\\\").replace("'", "\\'")


def _take_holder_lock(path: Path) -> int:
    """An exclusive, non-blocking OS lock beside the database; the kernel drops it on exit."""
    descriptor = os.open(path.parent / _HOLDER_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(descriptor)
        raise StoreLocked(_locked_message(path)) from exc
    return descriptor


def _release_holder_lock(descriptor: int | None) -> None:
    if descriptor is not None:
        os.close(descriptor)  # closing the descriptor releases the flock


def _locked_message(path: Path) -> str:
    holder = "another process"
    # The note is best effort: without it the message stays generic.
    with contextlib.suppress(OSError, ValueError, KeyError):
        owner = json.loads((path.parent / _OWNER_FILE).read_text())
        holder = f"process {owner['pid']} ({owner['command']})"
    return (
        f"graph database {path} is held by {holder}; only one process may open it "
        "read-write. Stop that process first."
    )


class _Transaction:
    """Holds the store's lock from BEGIN to COMMIT so other threads cannot interleave."""

    def __init__(self, conn: Any, lock: threading.RLock) -> None:
        self._conn = conn
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            self._conn.execute("BEGIN TRANSACTION")
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            self._conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")
        finally:
            self._lock.release()


__all__ = ["MAX_LOCAL_ID", "UID_SHIFT", "GraphStore", "QueryRows", "store_rows"]
