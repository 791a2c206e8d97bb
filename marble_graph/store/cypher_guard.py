"""Screening of caller-supplied Cypher before it reaches the graph engine.

Exploration queries run in a read-only transaction, which is the real
guarantee against writes. This screen comes first so that the caller gets a
message naming the offending clause, and so that clauses a read-only
transaction would still allow (reading or writing files with LOAD/COPY,
installing extensions, attaching databases, changing settings, ending the
transaction) never run at all.
"""

from __future__ import annotations

import re

from marble_graph.errors import QueryRefused

_WRITE_CLAUSES = frozenset(
    {"CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "DROP", "ALTER", "RENAME"}
)
_FORBIDDEN_CLAUSES = frozenset(
    {
        "COPY",
        "LOAD",
        "INSTALL",
        "UNINSTALL",
        "ATTACH",
        "EXPORT",
        "IMPORT",
        "USE",
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "CHECKPOINT",
    }
)

# String literals, backtick-quoted names and comments, which may contain any
# keyword without being one.
_NOT_CODE = re.compile(
    r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`|//[^\n]*|/\*.*?\*/""",
    re.DOTALL,
)
_WORD = re.compile(r"(\.\s*)?\b([A-Za-z_][A-Za-z0-9_]*)\b")
_CALL_SETTING = re.compile(r"\bCALL\s+[A-Za-z_][A-Za-z0-9_]*\s*=", re.IGNORECASE)


def check_read_only_query(query: str) -> None:
    """Raise QueryRefused when ``query`` is empty, writes, or uses a forbidden clause."""
    code = _NOT_CODE.sub(" ", query)
    if not code.strip():
        raise QueryRefused("query is empty")
    if ";" in code.strip().rstrip(";"):
        raise QueryRefused("query refused: send one statement at a time (found ';' between two)")
    if _CALL_SETTING.search(code):
        raise QueryRefused("query refused: CALL name = value changes database settings")
    for match in _WORD.finditer(code):
        if match.group(1):  # a property access like n.set is a name, not a clause
            continue
        word = match.group(2).upper()
        if word in _WRITE_CLAUSES:
            raise QueryRefused(
                f"query refused: exploration queries are read-only and {word} writes to the graph"
            )
        if word in _FORBIDDEN_CLAUSES:
            raise QueryRefused(
                f"query refused: {word} is not allowed in exploration queries "
                "(it touches files, extensions, other databases or the transaction)"
            )
