"""Locate the data files that ship with MARBLE: SQL migrations and the graph DDL.

An installed wheel carries them inside the package, under
``marble_graph/_bundled/`` (the ``force-include`` table in pyproject.toml);
a source checkout or an editable install reads them from the repository
(``migrations/`` and ``schema/graph/``), so there is one copy to edit.
"""

from __future__ import annotations

from pathlib import Path

from marble_graph.errors import StoreError

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPOSITORY_ROOT = _PACKAGE_DIR.parent


def migrations_dir() -> Path:
    """Return the Alembic script directory (the folder holding ``env.py``)."""
    return _first_existing(
        "Alembic migrations",
        _PACKAGE_DIR / "_bundled" / "migrations",
        _REPOSITORY_ROOT / "migrations",
    )


def graph_schema_dir() -> Path:
    """Return the folder of numbered graph DDL files (``0001_*.cypher``...)."""
    return _first_existing(
        "graph schema",
        _PACKAGE_DIR / "_bundled" / "graph_schema",
        _REPOSITORY_ROOT / "schema" / "graph",
    )


def _first_existing(what: str, installed: Path, checkout: Path) -> Path:
    # The bundled copy wins: in an installed wheel the "checkout" path would
    # point into site-packages' parent, which is never ours.
    for candidate in (installed, checkout):
        if candidate.is_dir():
            return candidate
    raise StoreError(
        f"cannot find the {what} folder: looked for {installed} (installed package) "
        f"and {checkout} (source checkout); reinstall marble or restore the folder"
    )
