"""Shared fixtures: a real data home (Kùzu or LadybugDB + SQLite) in a temp dir."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from marble_graph.config import MarbleConfig, config_from_mapping
from marble_graph.data_home import DataHome
from marble_graph.service import BrainService
from marble_graph.threads import rebalance_threads, share_cores

# Kùzu and LadybugDB register the same native types, so one process can load
# only one of them. A test run uses the engine named here (the default engine,
# LadybugDB, unless told otherwise); `make test` runs the tests marked
# `graph_engine` a second time with MARBLE_TEST_GRAPH_ENGINE=kuzu.
GRAPH_ENGINE = os.environ.get("MARBLE_TEST_GRAPH_ENGINE", "ladybug")

# A small seed: 8x6 grid, 5 inputs, 3 outputs. Counts are checked by hand in tests.
SMALL_SEED = {
    "width": 8,
    "height": 6,
    "input_neurons": 5,
    "output_neurons": 3,
    "input_fanout": 4,
    "output_fanin": 6,
    "long_range_synapses": 20,
    "random_seed": 7,
}


def small_config(engine: str = GRAPH_ENGINE, **seed: object) -> MarbleConfig:
    return config_from_mapping(
        {
            "seed": {**SMALL_SEED, **seed},
            "core": {"representation_size": 4},
            "storage": {"graph_engine": engine},
            "logging": {"level": "WARNING"},
        }
    )


def pytest_configure(config: pytest.Config) -> None:
    # A pytest-xdist worker computes on the same cores as the other workers and the
    # `marble` processes tests start: like any MARBLE compute process it holds a core
    # slot (core.threads: auto), so two workers on two cores run one torch thread each
    # instead of each running one per core and waiting on the other's.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        share_cores("auto")


def pytest_runtest_setup(item: pytest.Item) -> None:
    # Recount the slots before each test, as training does between epochs: a worker
    # left alone at the end of the run takes back the cores the others gave up.
    rebalance_threads()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "engine" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.graph_engine)


@pytest.fixture
def engine() -> str:
    return GRAPH_ENGINE


@pytest.fixture
def home(tmp_path: Path) -> DataHome:
    return DataHome(tmp_path / "marble-data")


@pytest.fixture
def service(home: DataHome, engine: str) -> Iterator[BrainService]:
    with BrainService(small_config(engine), home) as opened:
        yield opened


# Only the backends that are available: PostgreSQL joins when its URL is given.
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("MARBLE_TEST_POSTGRES_URL") else [])


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'metadata.sqlite'}"
        return
    base_url = sa.make_url(os.environ["MARBLE_TEST_POSTGRES_URL"])
    schema = f"marble_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base_url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    # search_path makes the schema the default one, so tables, alembic_version
    # and reflection all live (and die) inside it.
    url = base_url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
