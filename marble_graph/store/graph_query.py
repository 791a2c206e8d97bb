"""Read-only exploration queries: caller-supplied Cypher, run safely.

The query is screened (``cypher_guard``), prepared on its own so a second
statement cannot slip past, and run inside a read-only transaction with a
timeout and a row limit. Any write the screen missed fails in the engine
(``QueryRefused``); a query that runs past its limit is interrupted by the
engine (``QueryTimedOut``); any other engine failure is the query's own
(``QueryFailed``, with the engine's message). Afterwards the transaction is
rolled back if the engine has not already aborted it, and the connection's
timeout is reset, whatever happened.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from marble_graph.errors import QueryFailed, QueryRefused, QueryTimedOut
from marble_graph.store.cypher_guard import check_read_only_query

log = logging.getLogger(__name__)


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
    # At least 1 ms: the engine reads a timeout of 0 as "no limit".
    conn.set_query_timeout(max(1, round(timeout_s * 1000)))
    try:
        conn.execute("BEGIN TRANSACTION READ ONLY")
        try:
            rows = _fetch(conn, query, params, row_limit)
        except RuntimeError as exc:
            failure = _query_error(str(exc), timeout_s)
            try:
                _end_transaction(conn)
            except RuntimeError as cleanup:
                # The query's own error is what the caller needs; keep this one in the log.
                log.warning("rollback after a failed exploration query failed: %s", cleanup)
            raise failure from exc
        _end_transaction(conn)
        return rows
    finally:
        conn.set_query_timeout(0)


def _fetch(conn: Any, query: str, params: dict[str, Any] | None, row_limit: int) -> QueryRows:
    prepared = conn.prepare(query)
    if not prepared.is_success():
        raise RuntimeError(prepared.get_error_message())
    result = conn.execute(prepared, params or {})
    columns = list(result.get_column_names())
    rows: list[list[Any]] = []
    # Row by row, but never more than row_limit + 1 rows: the limit bounds the work.
    while result.has_next() and len(rows) < row_limit:
        rows.append(list(result.get_next()))
    return QueryRows(columns=columns, rows=rows, truncated=result.has_next())


def _query_error(message: str, timeout_s: float) -> QueryFailed | QueryRefused:
    """The engine's failure as the error family the caller can act on."""
    lowered = message.lower()
    if "read-only" in lowered or "read only" in lowered:
        return QueryRefused(
            "query refused: exploration queries are read-only and this one writes "
            f"to the graph ({message})"
        )
    # The engine's whole message when its query timeout fires.
    if lowered.strip().rstrip(".") == "interrupted":
        return QueryTimedOut(
            f"query timed out: it ran longer than the {timeout_s:g} s limit "
            "(storage.query_timeout_s) and was stopped; narrow it (a shorter "
            "variable-length range, a LIMIT, a bound $lo/$hi uid range) or raise the limit"
        )
    return QueryFailed(f"query failed: {message}")


def _end_transaction(conn: Any) -> None:
    """Roll back, unless the engine already aborted the transaction when the query failed."""
    try:
        conn.execute("ROLLBACK")
    except RuntimeError as exc:
        if "no active transaction" not in str(exc).lower():
            raise
