"""The SQL metadata store: migrations, drift, and the store's own guarantees.

Real SQLite files under tmp_path, no mocks. When MARBLE_TEST_POSTGRES_URL is
set, the migration and drift tests also run against that PostgreSQL
database, each inside a throw-away schema.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from marble_graph.bundled_files import graph_schema_dir, migrations_dir
from marble_graph.errors import StoreError
from marble_graph.store.metadata import (
    Base,
    Brain,
    MetadataStore,
    mask_password,
)
from marble_graph.store.metadata.database import shipped_head
from tests.store.conftest import make_brain

REPO_ROOT = Path(__file__).resolve().parents[2]
TABLES = {table.name for table in Base.metadata.sorted_tables}


def table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def alembic_config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["connection"] = connection
    return config


# --- migrations and drift ----------------------------------------------------------


def test_alembic_upgrade_downgrade_upgrade_runs_clean(database_url: str) -> None:
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        for target, expected in (("head", TABLES), ("base", set()), ("head", TABLES)):
            with engine.begin() as connection:
                migrate = command.upgrade if target == "head" else command.downgrade
                migrate(alembic_config(connection), target)
            assert table_names(engine) - {"alembic_version"} == expected
    finally:
        engine.dispose()


def test_alembic_cli_upgrade_downgrade_upgrade_runs_clean(
    database_url: str, empty_store: MetadataStore
) -> None:
    # A bogus MARBLE_METADATA_URL proves that -x url= takes precedence over it.
    env = {**os.environ, "MARBLE_METADATA_URL": "sqlite:////nonexistent/dir/x.sqlite"}
    for args in (["upgrade", "head"], ["downgrade", "base"], ["upgrade", "head"]):
        completed = subprocess.run(
            [sys.executable, "-m", "alembic", "-x", f"url={database_url}", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert completed.returncode == 0, completed.stderr
    assert empty_store.current_revision() == empty_store.head_revision()
    assert table_names(empty_store.engine) - {"alembic_version"} == TABLES


def test_schema_after_upgrade_matches_models(empty_store: MetadataStore) -> None:
    empty_store.upgrade()
    with empty_store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_twice_is_idempotent_and_keeps_rows(empty_store: MetadataStore) -> None:
    empty_store.upgrade()
    with empty_store.session() as session:
        make_brain(session)
    empty_store.upgrade()
    assert empty_store.current_revision() == empty_store.head_revision()
    with empty_store.session() as session:
        assert session.scalars(sa.select(Brain.name)).all() == ["cortex"]


def test_current_revision_is_none_before_and_head_after_upgrade(
    empty_store: MetadataStore,
) -> None:
    assert empty_store.current_revision() is None
    empty_store.upgrade()
    newest_file = max(p.name for p in (migrations_dir() / "versions").glob("0*.py"))
    assert empty_store.current_revision() == empty_store.head_revision()
    assert newest_file.startswith(empty_store.head_revision())


def test_shipped_head_read_from_the_files_is_alembics_head(empty_store: MetadataStore) -> None:
    assert shipped_head(migrations_dir()) == empty_store.head_revision()


def _versions(tmp_path: Path, *files: tuple[str, str]) -> Path:
    (tmp_path / "versions").mkdir(parents=True)
    for name, text in files:
        (tmp_path / "versions" / name).write_text(text)
    return tmp_path


def test_shipped_head_is_none_unless_the_files_name_a_single_head(tmp_path: Path) -> None:
    first = ("a.py", 'revision = "a"\ndown_revision = None\n')
    second = ("b.py", 'revision: str = "b"\ndown_revision: str | None = "a"\n')
    assert shipped_head(_versions(tmp_path / "linear", first, second)) == "b"
    sibling = ("c.py", 'revision = "c"\ndown_revision = "a"\n')
    assert shipped_head(_versions(tmp_path / "two_heads", first, second, sibling)) is None
    merge = ("m.py", 'revision = "m"\ndown_revision = ("b", "c")\n')
    assert shipped_head(_versions(tmp_path / "merge", first, second, sibling, merge)) is None
    unnamed = ("u.py", "down_revision = None\n")
    assert shipped_head(_versions(tmp_path / "unreadable", unnamed)) is None


def test_a_database_at_an_older_revision_is_upgraded_to_head(empty_store: MetadataStore) -> None:
    with empty_store.engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0003_idempotency_keys")
    assert empty_store.current_revision() == "0003_idempotency_keys"
    empty_store.upgrade()
    assert empty_store.current_revision() == empty_store.head_revision()
    with empty_store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_opening_a_store_already_at_head_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'metadata.sqlite'}"
    script = (
        "import sys\n"
        "from marble_graph.store.metadata import MetadataStore\n"
        f"store = MetadataStore({url!r})\n"
        "store.upgrade()\n"
        "print('alembic' in sys.modules)\n"
    )
    run = [sys.executable, "-c", script]
    first = subprocess.run(run, capture_output=True, text=True, timeout=120, check=True)
    again = subprocess.run(run, capture_output=True, text=True, timeout=120, check=True)
    assert first.stdout.split() == ["True"]  # a new database: Alembic creates the schema
    assert again.stdout.split() == ["False"]


# --- opening the store -------------------------------------------------------------


def test_for_home_creates_home_with_metadata_sqlite(store: MetadataStore, tmp_path: Path) -> None:
    assert (tmp_path / "home" / "metadata.sqlite").is_file()


def test_unopenable_sqlite_path_raises_store_error_naming_it(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "plain-file"
    not_a_dir.write_text("")
    database = not_a_dir / "metadata.sqlite"
    with pytest.raises(StoreError, match="cannot open") as raised:
        MetadataStore(f"sqlite:///{database}")
    assert str(database) in str(raised.value)


def test_home_that_is_a_file_raises_store_error_naming_it(tmp_path: Path) -> None:
    home = tmp_path / "plain-file"
    home.write_text("")
    with pytest.raises(StoreError) as raised:
        MetadataStore.for_home(home)
    assert str(home) in str(raised.value)


def test_errors_mask_the_password() -> None:
    url = "postgresql+nosuchdriver://marble:s3cret@db.example/marble"
    with pytest.raises(StoreError) as raised:
        MetadataStore(url)
    assert "s3cret" not in str(raised.value)
    assert "marble:***@db.example" in str(raised.value)
    assert "s3cret" not in mask_password("postgresql://marble:s3cret@host/db")


def test_sqlite_connections_enforce_foreign_keys_wal_and_busy_timeout(
    store: MetadataStore,
) -> None:
    with store.engine.connect() as connection:
        pragma = connection.exec_driver_sql
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA busy_timeout").scalar() == 5000


def test_bundled_resources_are_found() -> None:
    assert (migrations_dir() / "env.py").is_file()
    assert sorted(graph_schema_dir().glob("*.cypher"))
