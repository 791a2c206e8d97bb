"""Connections of their own for exploration queries (caller-supplied Cypher).

The graph store runs every brain read, inference load and write-back through
one connection under one lock. A caller's Cypher can be arbitrarily expensive
(a variable-length match over a whole brain), so it never takes that lock:
it runs on one of a few extra connections to the same engine ``Database``,
each limited to one engine thread so that heavy queries cannot take every
core from the server. When all of them are busy a new query waits briefly
and then fails with a message naming ``storage.query_concurrency``; nobody
waits behind an exploration query for longer than that.
"""

from __future__ import annotations

import logging
import threading
import time
from types import ModuleType
from typing import Any

from marble_graph.errors import QueryFailed, QueryTimedOut, StoreError
from marble_graph.store.graph_query import QueryRows, run_read_only_query

log = logging.getLogger(__name__)

# How long a query waits for a free connection before it is refused: long
# enough to ride out a query that is just finishing, short enough that a
# caller is never parked behind a slow one.
DEFAULT_SLOT_WAIT_S = 1.0
# How long ``close`` waits for interrupted queries to hand their connections back.
_CLOSE_WAIT_S = 10.0


class ExplorationPool:
    """A fixed set of one-thread engine connections that run read-only exploration queries."""

    def __init__(
        self,
        module: ModuleType,
        database: Any,
        size: int,
        slot_wait_s: float = DEFAULT_SLOT_WAIT_S,
    ) -> None:
        if size < 1:
            raise StoreError(f"storage.query_concurrency must be at least 1, got {size}")
        self.size = size
        self._slot_wait_s = slot_wait_s
        # num_threads=1: the engine runs each exploration query on one thread.
        self._idle: list[Any] = [module.Connection(database, num_threads=1) for _ in range(size)]
        self._busy: list[Any] = []
        self._changed = threading.Condition()
        self._closing = False

    def run(
        self,
        query: str,
        params: dict[str, Any] | None,
        row_limit: int,
        timeout_s: float,
    ) -> QueryRows:
        """Run ``query`` on a free connection; see ``run_read_only_query`` for the rules."""
        conn = self._acquire()
        try:
            return run_read_only_query(conn, query, params, row_limit, timeout_s)
        except QueryTimedOut as exc:
            if self._closing:
                # close() interrupted it; the engine reports that like a timeout.
                raise QueryFailed(
                    "query interrupted: the graph store is closing (server shutting down)"
                ) from exc
            raise
        finally:
            self._release(conn)

    def running(self) -> int:
        """How many exploration queries are running now."""
        with self._changed:
            return len(self._busy)

    def close(self) -> None:
        """Interrupt running queries, wait for them to stop, and close every connection."""
        with self._changed:
            self._closing = True
            deadline = time.monotonic() + _CLOSE_WAIT_S
            while self._busy:
                if time.monotonic() >= deadline:
                    # Closing a connection a query still runs on could crash the process.
                    raise StoreError(
                        f"{len(self._busy)} exploration queries did not stop within "
                        f"{_CLOSE_WAIT_S:g} s of being interrupted; the graph store stays open"
                    )
                # Again and again: an interrupt that lands between two statements
                # (after BEGIN, before the query) is forgotten by the next one.
                for conn in self._busy:
                    conn.interrupt()
                self._changed.wait(0.1)
            for conn in self._idle:
                conn.close()
            self._idle.clear()

    def _acquire(self) -> Any:
        with self._changed:
            if not self._changed.wait_for(
                lambda: bool(self._idle) or self._closing, self._slot_wait_s
            ):
                raise QueryFailed(
                    f"{self.size} exploration queries already running; limit "
                    f"storage.query_concurrency ({self.size}): try again when one finishes"
                )
            if self._closing:
                raise QueryFailed("query refused: the graph store is closing")
            conn = self._idle.pop()
            self._busy.append(conn)
            return conn

    def _release(self, conn: Any) -> None:
        with self._changed:
            self._busy.remove(conn)
            self._idle.append(conn)
            self._changed.notify_all()
