"""Graph schema migrations: the numbered DDL files in ``schema/graph``.

Files named ``NNNN_name.cypher`` are applied in order, each in one
transaction together with a ``SchemaMigration`` record, so a database made
by an older MARBLE is upgraded the first time a newer one opens it, and a
failed migration leaves the schema as it was.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

from marble_graph.errors import StoreError

if TYPE_CHECKING:
    from marble_graph.store.graph import GraphStore

log = logging.getLogger(__name__)

MIGRATION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.cypher$")


def applied_graph_migrations(store: GraphStore) -> list[str]:
    """Names of the migration files already applied, in order."""
    store.execute(
        "CREATE NODE TABLE IF NOT EXISTS SchemaMigration("
        "name STRING, applied_at TIMESTAMP, PRIMARY KEY (name))"
    )
    table = store.arrow("MATCH (m:SchemaMigration) RETURN m.name AS name ORDER BY name")
    return [str(name) for name in table.column("name").to_pylist()]


def apply_graph_migrations(store: GraphStore, schema_dir: Path) -> list[str]:
    """Apply every migration file in ``schema_dir`` not yet recorded; return their names."""
    applied = set(applied_graph_migrations(store))
    files = sorted(p for p in Path(schema_dir).iterdir() if MIGRATION_FILE.match(p.name))
    newly_applied = []
    for file in files:
        if file.name in applied:
            continue
        try:
            with store.transaction():
                for statement in split_statements(file.read_text(encoding="utf-8")):
                    store.execute(statement)
                store.execute(
                    "CREATE (:SchemaMigration {name: $name, applied_at: current_timestamp()})",
                    {"name": file.name},
                )
        except RuntimeError as exc:
            raise StoreError(f"graph schema migration {file} failed: {exc}") from exc
        log.info("applied graph schema migration %s", file.name)
        newly_applied.append(file.name)
    return newly_applied


def split_statements(text: str) -> list[str]:
    """Split a DDL file into statements, dropping ``//`` comment lines."""
    lines = [line for line in text.splitlines() if not line.strip().startswith("//")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
