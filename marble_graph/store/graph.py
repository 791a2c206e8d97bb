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

import json
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from marble_graph.brain_graph import BrainGraph
from marble_graph.errors import QueryRefused, StoreError, StoreLocked
from marble_graph.store.cypher_guard import check_read_only_query

log = logging.getLogger(__name__)

UID_SHIFT = 32  # neuron/lobe/memory uid = (graph_key << 32) | per-brain id
MAX_LOCAL_ID = (1 << UID_SHIFT) - 1
_MIGRATION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.cypher$")
_OWNER_FILE = "owner.json"


@dataclass(frozen=True)
class QueryRows:
    """Result of a read-only exploration query."""

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool


def _engine_module(engine: str) -> ModuleType:
    if engine == "kuzu":
        import kuzu

        return kuzu
    if engine == "ladybug":
        try:
            import ladybug
        except ImportError as exc:
            raise StoreError(
                "storage.graph_engine is 'ladybug' but the package is not installed: "
                "pip install 'marble[ladybug]'"
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
    ) -> None:
        self.path = Path(path)
        self.engine = engine
        self.read_only = read_only
        module = _engine_module(engine)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = module.Database(
                str(self.path),
                buffer_pool_size=buffer_pool_mb * 1024 * 1024,
                read_only=read_only,
            )
        except RuntimeError as exc:
            if "lock" in str(exc).lower():
                raise StoreLocked(self._locked_message()) from exc
            raise StoreError(f"cannot open graph database {self.path}: {exc}") from exc
        self._conn = module.Connection(self._db)
        if not read_only:
            self._write_owner()

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        """Release the database (and its file lock)."""
        if getattr(self, "_conn", None) is not None:
            self._conn.close()
            self._db.close()
            self._conn = None
            owner = self.path.parent / _OWNER_FILE
            if not self.read_only and owner.exists():
                owner.unlink(missing_ok=True)

    def _write_owner(self) -> None:
        # Kùzu's lock error does not say who holds the file; this note does.
        command = " ".join([Path(sys.orig_argv[0]).name, *sys.orig_argv[1:]])
        owner = {"pid": os.getpid(), "command": command[:120]}
        (self.path.parent / _OWNER_FILE).write_text(json.dumps(owner))

    def _locked_message(self) -> str:
        holder = "another process"
        try:
            owner = json.loads((self.path.parent / _OWNER_FILE).read_text())
            holder = f"process {owner['pid']} ({owner['command']})"
        except (OSError, ValueError, KeyError):
            pass
        return (
            f"graph database {self.path} is held by {holder}; only one process may open it "
            "read-write. Stop that process first."
        )

    # -- schema migrations -------------------------------------------------------------

    def applied_migrations(self) -> list[str]:
        self._conn.execute(
            "CREATE NODE TABLE IF NOT EXISTS SchemaMigration("
            "name STRING, applied_at TIMESTAMP, PRIMARY KEY (name))"
        )
        table = self.arrow("MATCH (m:SchemaMigration) RETURN m.name AS name ORDER BY name")
        return [str(name) for name in table.column("name").to_pylist()]

    def migrate(self, schema_dir: Path) -> list[str]:
        """Apply, in order, every ``NNNN_name.cypher`` file not yet recorded; return their names.

        Each file runs in one transaction together with its record, so a
        failed migration leaves the schema as it was.
        """
        applied = set(self.applied_migrations())
        files = sorted(p for p in Path(schema_dir).iterdir() if _MIGRATION_FILE.match(p.name))
        newly_applied = []
        for file in files:
            if file.name in applied:
                continue
            statements = _split_statements(file.read_text(encoding="utf-8"))
            self._conn.execute("BEGIN TRANSACTION")
            try:
                for statement in statements:
                    self._conn.execute(statement)
                self._conn.execute(
                    "CREATE (:SchemaMigration {name: $name, applied_at: current_timestamp()})",
                    {"name": file.name},
                )
                self._conn.execute("COMMIT")
            except RuntimeError as exc:
                self._conn.execute("ROLLBACK")
                raise StoreError(f"graph schema migration {file} failed: {exc}") from exc
            log.info("applied graph schema migration %s", file.name)
            newly_applied.append(file.name)
        return newly_applied

    # -- reads ------------------------------------------------------------------------

    def execute(self, query: str, params: dict[str, Any] | None = None) -> Any:
        """Run one statement and return the engine's result object."""
        return self._conn.execute(query, params or {})

    def arrow(self, query: str, params: dict[str, Any] | None = None) -> pa.Table:
        """Run one query and return all rows as an Arrow table (one bulk transfer)."""
        result = self._conn.execute(query, params or {})
        return result.get_as_arrow(chunk_size=1_000_000)

    def scalar(self, query: str, params: dict[str, Any] | None = None) -> Any:
        result = self._conn.execute(query, params or {})
        return result.get_next()[0] if result.has_next() else None

    def brain_names(self) -> set[str]:
        """Names of every brain with any data in the graph (complete or not)."""
        names: set[str] = set()
        for query in (
            "MATCH (b:Brain) RETURN DISTINCT b.name AS name",
            "MATCH (n:Neuron) RETURN DISTINCT n.brain AS name",
            "MATCH (l:Lobe) RETURN DISTINCT l.brain AS name",
            "MATCH (m:Memory) RETURN DISTINCT m.brain AS name",
        ):
            names.update(str(n) for n in self.arrow(query).column("name").to_pylist())
        return names

    def load_graph(self, brain: str) -> BrainGraph:
        """Read one brain's graph with one bulk Arrow read per table."""
        params = {"brain": brain}
        neurons = self.arrow(
            "MATCH (n:Neuron) WHERE n.brain = $brain RETURN n.id AS id, n.kind AS kind, "
            "n.neuron_type AS neuron_type, n.state AS state, n.bias AS bias, "
            "n.attention AS attention, n.energy AS energy, n.seed_cx AS seed_cx, "
            "n.seed_cy AS seed_cy, n.seed_escape AS seed_escape, n.created_step AS created_step",
            params,
        )
        synapses = self.arrow(
            "MATCH (a:Neuron)-[s:Synapse]->(b:Neuron) WHERE s.brain = $brain "
            "RETURN a.id AS src, b.id AS dst, s.id AS id, s.weight AS weight, "
            "s.synapse_type AS synapse_type, s.potential AS potential, s.fatigue AS fatigue, "
            "s.visit_count AS visit_count, s.frozen AS frozen, s.created_step AS created_step",
            params,
        )
        lobes = self.arrow(
            "MATCH (l:Lobe) WHERE l.brain = $brain "
            "RETURN l.id AS id, l.name AS name, l.attention AS attention",
            params,
        )
        memberships = self.arrow(
            "MATCH (n:Neuron)-[m:MEMBER_OF]->(l:Lobe) WHERE m.brain = $brain "
            "RETURN n.id AS neuron, l.id AS lobe",
            params,
        )
        memories = self.arrow(
            "MATCH (m:Memory) WHERE m.brain = $brain RETURN m.id AS id, m.kind AS kind, "
            "m.key AS key, m.vector AS vector, m.value AS value, m.salience AS salience, "
            "m.created_at AS created_at",
            params,
        )
        tables = {
            "neurons": neurons,
            "synapses": synapses,
            "lobes": lobes,
            "memberships": memberships,
            "memories": memories,
        }
        return BrainGraph.from_tables(tables, source=f"graph store, brain {brain!r}")

    # -- writes -----------------------------------------------------------------------

    def insert_graph(self, brain: str, graph_key: int, graph: BrainGraph) -> None:
        """Bulk-copy a whole brain into the store; the Brain node is written last.

        Callers must treat a failure here as a half-written brain and remove it
        with ``delete_brain`` (the service does, and reconciles after crashes).
        """
        _check_local_ids(graph)
        prefix = graph_key << UID_SHIFT
        self._copy("Neuron", _with_uid(graph.neurons, prefix, brain))
        synapses = graph.synapses
        self._copy(
            "Synapse",
            pa.table(
                {
                    "from": pc.add(synapses.column("src"), prefix),
                    "to": pc.add(synapses.column("dst"), prefix),
                    "brain": pa.repeat(brain, synapses.num_rows),
                    **{
                        name: synapses.column(name)
                        for name in synapses.column_names
                        if name not in ("src", "dst")
                    },
                }
            ),
        )
        if graph.lobes.num_rows:
            self._copy("Lobe", _with_uid(graph.lobes, prefix, brain))
        if graph.memberships.num_rows:
            memberships = graph.memberships
            self._copy(
                "MEMBER_OF",
                pa.table(
                    {
                        "from": pc.add(memberships.column("neuron"), prefix),
                        "to": pc.add(memberships.column("lobe"), prefix),
                        "brain": pa.repeat(brain, memberships.num_rows),
                    }
                ),
            )
        if graph.memories.num_rows:
            self._copy("Memory", _with_uid(graph.memories, prefix, brain))
        self._conn.execute(
            "CREATE (:Brain {name: $name, graph_key: $key, created_at: current_timestamp()})",
            {"name": brain, "key": graph_key},
        )

    def delete_brain(self, brain: str) -> None:
        """Remove every node and relationship of ``brain``; safe to repeat."""
        params = {"brain": brain}
        for statement in (
            "MATCH (b:Brain {name: $brain}) DETACH DELETE b",
            "MATCH ()-[m:MEMBER_OF]->() WHERE m.brain = $brain DELETE m",
            "MATCH ()-[s:Synapse]->() WHERE s.brain = $brain DELETE s",
            "MATCH (n:Neuron) WHERE n.brain = $brain DETACH DELETE n",
            "MATCH (l:Lobe) WHERE l.brain = $brain DETACH DELETE l",
            "MATCH (m:Memory) WHERE m.brain = $brain DETACH DELETE m",
        ):
            self._conn.execute(statement, params)

    def _copy(self, table: str, data: pa.Table) -> None:
        try:
            self._conn.execute(f"COPY {table} FROM $data", {"data": data})
        except RuntimeError as exc:
            raise StoreError(f"bulk copy into {table} failed: {exc}") from exc

    # -- exploration ------------------------------------------------------------------

    def read_only_query(
        self,
        query: str,
        params: dict[str, Any] | None = None,
        row_limit: int = 1000,
        timeout_s: float = 30.0,
    ) -> QueryRows:
        """Run a caller's Cypher in a read-only transaction; refuse anything else.

        The statement is prepared on its own, so a second statement (such as
        ``COMMIT; CREATE ...``) cannot slip past the transaction.
        """
        check_read_only_query(query)
        self._conn.set_query_timeout(int(timeout_s * 1000))
        self._conn.execute("BEGIN TRANSACTION READ ONLY")
        try:
            prepared = self._conn.prepare(query)
            if not prepared.is_success():
                raise QueryRefused(f"query rejected: {prepared.get_error_message()}")
            result = self._conn.execute(prepared, params or {})
            columns = list(result.get_column_names())
            rows: list[list[Any]] = []
            while result.has_next() and len(rows) < row_limit:
                rows.append(list(result.get_next()))
            truncated = result.has_next()
        except RuntimeError as exc:
            message = str(exc)
            if "read-only" in message.lower() or "read only" in message.lower():
                raise QueryRefused(
                    "query refused: exploration queries are read-only and this one writes "
                    f"to the graph ({message})"
                ) from exc
            raise QueryRefused(f"query failed: {message}") from exc
        finally:
            self._conn.execute("ROLLBACK")
            self._conn.set_query_timeout(0)
        return QueryRows(columns=columns, rows=rows, truncated=truncated)


def _with_uid(table: pa.Table, prefix: int, brain: str) -> pa.Table:
    """Prepend the store-wide ``uid`` and ``brain`` columns to a per-brain table."""
    uid = pc.add(table.column("id"), prefix)
    return pa.table(
        {
            "uid": uid,
            "brain": pa.repeat(brain, table.num_rows),
            **{name: table.column(name) for name in table.column_names},
        }
    )


def _check_local_ids(graph: BrainGraph) -> None:
    for name, table in graph.tables():
        for column in ("id", "src", "dst", "neuron", "lobe"):
            if column in table.column_names and table.num_rows:
                low, high = pc.min_max(table.column(column)).values()
                if low.as_py() < 0 or high.as_py() > MAX_LOCAL_ID:
                    raise StoreError(
                        f"table '{name}' column '{column}' holds ids outside 0..{MAX_LOCAL_ID}"
                    )


def _split_statements(text: str) -> list[str]:
    """Split a DDL file into statements, dropping ``//`` comment lines."""
    lines = [line for line in text.splitlines() if not line.strip().startswith("//")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


__all__ = ["UID_SHIFT", "GraphStore", "QueryRows"]
