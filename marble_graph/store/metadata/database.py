"""The SQL metadata store: one engine, its sessions, and its Alembic migrations.

SQLite (``<MARBLE_HOME>/metadata.sqlite``) is the embedded default; any other
SQLAlchemy URL, PostgreSQL included, works unchanged. The schema is created
and changed only by :meth:`MetadataStore.upgrade`, which runs the Alembic
revisions shipped with MARBLE.

Every ``marble`` process opens the store and so upgrades it, and importing
Alembic alone took about 0.5 s of a process's start. ``upgrade`` therefore
first compares the database's revision (one query) with the newest revision
shipped (read from the migration files, :func:`shipped_head`) and imports
Alembic only when they differ, or when the files do not name a single head.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from marble_graph.bundled_files import migrations_dir
from marble_graph.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

METADATA_FILENAME = "metadata.sqlite"
SQLITE_BUSY_TIMEOUT_MS = 5000


class MetadataStore:
    """Engine, sessions and schema migrations of the SQL metadata database."""

    def __init__(self, url: str | URL) -> None:
        """Open the database at ``url``; raise StoreError naming it if that fails.

        Opening does not create or change the schema: call :meth:`upgrade`.
        """
        self._url = mask_password(url)
        try:
            self._engine = _create_engine(url)
        except (ArgumentError, ImportError) as exc:
            # ArgumentError also covers a missing driver (NoSuchModuleError).
            raise StoreError(
                f"invalid metadata database URL {self._url}: {exc} "
                "(for PostgreSQL install the 'postgres' extra: pip install 'marble[postgres]')"
            ) from exc
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        # Connect once now, so a wrong path or an unreachable server fails
        # here, naming the URL, instead of inside the first request.
        try:
            self._engine.connect().close()
        except SQLAlchemyError as exc:
            self._engine.dispose()
            raise StoreError(
                f"cannot open the metadata database {self._url}: {_reason(exc)}"
            ) from exc

    @classmethod
    def for_home(cls, home: Path) -> MetadataStore:
        """Open ``<home>/metadata.sqlite``, creating the ``home`` folder if needed."""
        # Absolute, because the pool may open new connections after a chdir.
        home = home.resolve()
        try:
            home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the MARBLE data directory {home}: {exc.strerror or exc}"
            ) from exc
        # URL.create, not an f-string: a path with '?' or '%' must stay a path.
        return cls(URL.create("sqlite", database=str(home / METADATA_FILENAME)))

    @property
    def url(self) -> str:
        """The database URL with any password masked, safe to log or show."""
        return self._url

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for health checks and tests; prefer :meth:`session`)."""
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session that commits when the block succeeds and rolls back if it raises.

        Objects stay usable after the block (``expire_on_commit=False``). An
        explicit ``session.commit()`` inside the block is allowed, e.g. to make
        a pending row durable before writing the graph.
        """
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def upgrade(self) -> None:
        """Migrate the schema to the newest revision; a no-op when it is already there."""
        head = shipped_head(migrations_dir())
        if head is not None and self._stored_revision() == head:
            return
        from alembic import command
        from alembic.util import CommandError

        config = self._alembic_config()
        try:
            with self._engine.connect() as connection, _sqlite_foreign_keys_off(connection):
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except (SQLAlchemyError, CommandError) as exc:
            raise StoreError(
                f"cannot upgrade the metadata database {self._url} to the newest schema: "
                f"{_reason(exc)}"
            ) from exc

    def current_revision(self) -> str | None:
        """Return the Alembic revision the database is at (None before the first upgrade)."""
        from alembic.runtime.migration import MigrationContext
        from alembic.util import CommandError

        try:
            with self._engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        except (SQLAlchemyError, CommandError) as exc:
            raise StoreError(
                f"cannot read the schema revision of {self._url}: {_reason(exc)}"
            ) from exc

    def head_revision(self) -> str:
        """Return the newest revision shipped with this version of MARBLE."""
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        config = self._alembic_config()
        try:
            head = ScriptDirectory.from_config(config).get_current_head()
        except CommandError as exc:
            raise StoreError(f"cannot read the migrations in {migrations_dir()}: {exc}") from exc
        if head is None:
            raise StoreError(f"no migration revisions found in {migrations_dir()}")
        return head

    def dispose(self) -> None:
        """Close every pooled connection; the store may be used again afterwards."""
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"MetadataStore({self._url!r})"

    def _stored_revision(self) -> str | None:
        """The revision in ``alembic_version``, read without Alembic; None when unreadable."""
        try:
            with self._engine.connect() as connection:
                rows = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
                revisions = [row[0] for row in rows]
        except SQLAlchemyError:  # no table yet (a new database), or none to read it from
            return None
        return revisions[0] if len(revisions) == 1 else None

    def _alembic_config(self) -> Config:
        from alembic.config import Config

        # Built in code rather than read from alembic.ini, which an installed
        # wheel does not carry. '%' is doubled because the config interpolates.
        config = Config()
        config.set_main_option("script_location", str(migrations_dir()).replace("%", "%%"))
        return config


_REVISION = re.compile(r"^revision(?:\s*:[^=\n]*)?\s*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN_REVISION = re.compile(
    r"^down_revision(?:\s*:[^=\n]*)?\s*=\s*(?:None|[\"']([^\"']+)[\"'])\s*$", re.MULTILINE
)


@cache
def shipped_head(directory: Path) -> str | None:
    """The newest revision among the migration files in ``directory``/versions.

    Reads each file's ``revision`` and ``down_revision`` lines and answers the
    one revision no other file names as its parent. None whenever that is not
    plain (a line it cannot read, a merge, several heads): then Alembic decides.
    Read once per process.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((directory / "versions").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(text), _DOWN_REVISION.search(text)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        if down.group(1) is not None:
            parents.add(down.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def mask_password(url: str | URL) -> str:
    """Render ``url`` with its password replaced by ``***``."""
    try:
        parsed = url if isinstance(url, URL) else sa.make_url(url)
    except ArgumentError:
        # Unparseable: mask anything between "user:" and "@" by hand.
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))
    return parsed.render_as_string(hide_password=True)


def _create_engine(url: str | URL) -> Engine:
    engine_options: dict[str, Any] = {}
    if sa.make_url(url).get_backend_name() != "sqlite":
        # A long-lived server outlives idle connections the database drops.
        engine_options["pool_pre_ping"] = True
    engine = sa.create_engine(url, **engine_options)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _configure_sqlite_connection)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _connection_record: Any) -> None:
    # SQLite enforces foreign keys (and so ON DELETE CASCADE) only when asked,
    # per connection. WAL lets readers run beside the one writer; the busy
    # timeout makes a second writer wait instead of failing at once.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """Run a migration with SQLite foreign keys off, then check and re-enable them.

    A batch migration rebuilds a table by copy, drop and rename; with foreign
    keys on, the drop would cascade-delete every child row. SQLite ignores
    this pragma inside a transaction, hence the commits around it.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
    try:
        yield
        connection.commit()
        violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if violations:
            tables = sorted({str(row[0]) for row in violations})
            raise StoreError(
                f"the migration left rows with dangling foreign keys in {', '.join(tables)}"
            )
    finally:
        # The connection goes back to the pool: it must leave with keys on.
        if not connection.invalidated:
            connection.rollback()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def _reason(exc: BaseException) -> str:
    # SQLAlchemy's own message appends the SQL and a link; the driver's is the
    # part a user can act on ("unable to open database file").
    original = getattr(exc, "orig", None)
    return str(original if original is not None else exc).strip()
