"""Read-only exploration queries: caller-supplied Cypher, run safely.

The query is screened (``cypher_guard``), prepared on its own so a second
statement cannot slip past, and run inside a read-only transaction with a
timeout and a row limit. Any write the screen missed fails in the engine,
and the transaction is always rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marble_graph.errors import QueryRefused
from marble_graph.store.cypher_guard import check_read_only_query


@dataclass(frozen=True)
class QueryRows:
    """Result of a read-only exploration query."""

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool


def run_read_only_query(
    conn: Any,
    query: str,
    params: dict[str, Any] | None,
    row_limit: int,
    timeout_s: float,
) -> QueryRows:
    """Run ``query`` on the engine connection ``conn``; see the module docstring."""
    check_read_only_query(query)
    conn.set_query_timeout(int(timeout_s * 1000))
    conn.execute("BEGIN TRANSACTION READ ONLY")
    try:
        prepared = conn.prepare(query)
        if not prepared.is_success():
            raise QueryRefused(f"query rejected: {prepared.get_error_message()}")
        result = conn.execute(prepared, params or {})
        columns = list(result.get_column_names())
        rows: list[list[Any]] = []
        # Row by row, but never more than row_limit + 1 rows: the limit bounds the work.
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
        conn.execute("ROLLBACK")
        conn.set_query_timeout(0)
    return QueryRows(columns=columns, rows=rows, truncated=truncated)
