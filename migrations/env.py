"""Alembic environment of the MARBLE SQL metadata store.

Two ways in:

* programmatic, from ``MetadataStore.upgrade()``: the caller hands over an
  open connection in ``config.attributes["connection"]`` and owns it;
* the ``alembic`` CLI from the repository root: the URL comes from
  ``-x url=...``, else ``MARBLE_METADATA_URL``, else ``sqlalchemy.url`` in
  alembic.ini.
"""

from __future__ import annotations

import os
from logging.config import fileConfig
from typing import Any, Literal

import sqlalchemy as sa
from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

from marble_graph.store.metadata.models import Base

config = context.config
target_metadata = Base.metadata

# Only the CLI has an ini file; the programmatic path must not have its
# application's logging replaced by the ini's handlers.
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    """Return the URL for CLI runs: ``-x url=``, then MARBLE_METADATA_URL, then the ini."""
    url = context.get_x_argument(as_dictionary=True).get("url")
    url = url or os.environ.get("MARBLE_METADATA_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "no metadata database URL: pass -x url=..., set MARBLE_METADATA_URL, "
            "or set sqlalchemy.url in alembic.ini"
        )
    return url


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render MARBLE's column types as their plain SQLAlchemy type in new revisions.

    A revision must not import application code: the models it would import
    change after the revision is written, and the revision must not.
    """
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


def _configure(**options: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_item=render_item,
        **options,
    )


def run_migrations_offline() -> None:
    """Emit the migration SQL to stdout (``alembic upgrade head --sql``)."""
    url = database_url()
    _configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=sa.make_url(url).get_backend_name() == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_on(connection: Connection) -> None:
    """Run the migrations over an open connection."""
    # SQLite cannot ALTER most things in place; batch mode rebuilds the table.
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate the caller's connection if given, else one opened from the CLI's URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations_on(connection)
        return
    # A fresh engine without MARBLE's connect hooks: SQLite foreign keys stay
    # off, so a batch table rebuild cannot cascade-delete child rows.
    engine = sa.create_engine(database_url(), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            run_migrations_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
