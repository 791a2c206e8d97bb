"""The SQL metadata store: migrations, drift, models and the store's guarantees.

Real SQLite files under tmp_path, no mocks. When MARBLE_TEST_POSTGRES_URL is
set, the migration and drift tests also run against that PostgreSQL
database, each inside a throw-away schema.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from marble_graph.errors import StoreError
from marble_graph.resources import graph_schema_dir, migrations_dir
from marble_graph.store.metadata import (
    ApiToken,
    Base,
    Brain,
    BrainState,
    BrainVersion,
    Dataset,
    DatasetVersion,
    Job,
    JobState,
    MetadataStore,
    Pipeline,
    PipelineRun,
    RunEpoch,
    RunState,
    TrainingRun,
    VersionState,
    mask_password,
    utcnow,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TABLES = {table.name for table in Base.metadata.sorted_tables}

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


@pytest.fixture
def empty_store(database_url: str) -> Iterator[MetadataStore]:
    """A store opened on an empty database of each backend, not yet upgraded."""
    metadata_store = MetadataStore(database_url)
    yield metadata_store
    metadata_store.dispose()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MetadataStore]:
    """A migrated SQLite metadata store in a fresh MARBLE home."""
    metadata_store = MetadataStore.for_home(tmp_path / "home")
    metadata_store.upgrade()
    yield metadata_store
    metadata_store.dispose()


def table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def alembic_config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["connection"] = connection
    return config


def make_brain(session: Session, name: str = "cortex", graph_key: int = 1) -> Brain:
    brain = Brain(
        name=name,
        graph_key=graph_key,
        config={"neurons": 4},
        config_hash="c" * 64,
        random_seed=2**40,
    )
    session.add(brain)
    session.flush()
    return brain


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
    assert empty_store.current_revision() == "0001_initial"
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
    assert empty_store.current_revision() == empty_store.head_revision() == "0001_initial"


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


# --- sessions and models -----------------------------------------------------------


def test_session_rolls_back_when_the_block_raises(store: MetadataStore) -> None:
    with pytest.raises(RuntimeError), store.session() as session:
        make_brain(session)
        raise RuntimeError("boom")
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Brain)) == 0


def test_brain_and_version_round_trip(store: MetadataStore) -> None:
    with store.session() as session:
        brain = make_brain(session)
        brain.versions.append(
            BrainVersion(version=1, config_hash="c" * 64, neuron_count=4, note="seeded")
        )
    with store.session() as session:
        loaded = session.scalars(sa.select(Brain).where(Brain.name == "cortex")).one()
        assert loaded.state is BrainState.PENDING
        assert (loaded.random_seed, loaded.config, loaded.current_version) == (
            2**40,
            {"neurons": 4},
            0,
        )
        [version] = loaded.versions
        assert (version.version, version.state, version.metrics) == (1, VersionState.PENDING, {})
        version.state = VersionState.COMMITTED
        version.committed_at = utcnow()
        loaded.state = BrainState.COMMITTED
        loaded.current_version = 1
    with store.session() as session:
        loaded = session.scalars(sa.select(Brain)).one()
        assert (loaded.state, loaded.current_version) == (BrainState.COMMITTED, 1)
        assert loaded.versions[0].state is VersionState.COMMITTED
        assert loaded.updated_at >= loaded.created_at
        session.delete(loaded)
    with store.session() as session:
        assert session.scalars(sa.select(BrainVersion)).all() == []


def test_training_run_and_epochs_round_trip(store: MetadataStore) -> None:
    with store.session() as session:
        brain = make_brain(session)
        run = TrainingRun(brain=brain, config={"lr": 0.1}, config_hash="r" * 64, base_version=0)
        run.epochs = [RunEpoch(epoch=e, metrics={"loss": 1.0 / (e + 1)}) for e in range(3)]
        session.add(run)
    with store.session() as session:
        loaded = session.scalars(sa.select(TrainingRun)).one()
        assert (loaded.state, loaded.summary, loaded.error) == (RunState.QUEUED, {}, None)
        assert [epoch.epoch for epoch in loaded.epochs] == [0, 1, 2]
        loaded.state = RunState.COMPLETED
        loaded.result_version = 1
        loaded.finished_at = utcnow()
    with store.session() as session:
        loaded = session.scalars(sa.select(TrainingRun)).one()
        assert (loaded.state, loaded.result_version) == (RunState.COMPLETED, 1)
        session.delete(loaded)
    with store.session() as session:
        assert session.scalars(sa.select(RunEpoch)).all() == []


def test_job_round_trip_and_result_null_is_sql_null(store: MetadataStore) -> None:
    with store.session() as session:
        job = Job(kind="train", payload={"brain": "cortex"}, result=None)
        session.add(job)
        session.flush()
        job_id = job.id
    assert len(job_id) == 36 and uuid.UUID(job_id)
    with store.session() as session:
        loaded = session.get_one(Job, job_id)
        assert (loaded.state, loaded.progress) == (JobState.QUEUED, 0.0)
        assert loaded.payload == {"brain": "cortex"}
        assert session.scalar(sa.select(Job.id).where(Job.result.is_(None))) == job_id
        loaded.state, loaded.progress, loaded.result = JobState.SUCCEEDED, 1.0, {"version": 1}
    with store.session() as session:
        loaded = session.get_one(Job, job_id)
        assert (loaded.state, loaded.result) == (JobState.SUCCEEDED, {"version": 1})
        session.delete(loaded)
    with store.session() as session:
        assert session.get(Job, job_id) is None


def test_dataset_and_version_round_trip(store: MetadataStore) -> None:
    columns = [{"name": "x0", "dtype": "float32"}, {"name": "y", "dtype": "int64"}]
    with store.session() as session:
        dataset = Dataset(name="iris", description="flowers")
        version = DatasetVersion(
            version=1,
            content_hash="d" * 64,
            n_rows=150,
            n_features=1,
            columns=columns,
            blob_path="b",
        )
        dataset.versions.append(version)
        session.add(dataset)
        session.flush()
        brain = make_brain(session)
        brain.versions.append(
            BrainVersion(version=1, config_hash="c" * 64, dataset_version_id=version.id)
        )
    with store.session() as session:
        loaded = session.scalars(sa.select(Dataset)).one()
        assert (loaded.versions[0].n_rows, loaded.versions[0].columns) == (150, columns)
        loaded.description = "Fisher's flowers"
    with store.session() as session:
        loaded = session.scalars(sa.select(Dataset)).one()
        assert loaded.description == "Fisher's flowers"
        session.delete(loaded)
    with store.session() as session:
        assert session.scalars(sa.select(DatasetVersion)).all() == []
        # The brain version that trained on it survives, unlinked (SET NULL).
        assert session.scalars(sa.select(BrainVersion.dataset_version_id)).all() == [None]


def test_pipeline_and_run_round_trip(store: MetadataStore) -> None:
    spec = {"steps": [{"op": "normalize"}, {"op": "train", "epochs": 2}]}
    with store.session() as session:
        pipeline = Pipeline(name="nightly", spec=spec)
        pipeline.runs.append(PipelineRun())
        session.add(pipeline)
    with store.session() as session:
        loaded = session.scalars(sa.select(Pipeline)).one()
        assert loaded.spec == spec
        assert (loaded.runs[0].state, loaded.runs[0].result) == (JobState.QUEUED, None)
        loaded.runs[0].state = JobState.FAILED
        loaded.runs[0].error = "step 2: brain 'x' not found"
    with store.session() as session:
        loaded = session.scalars(sa.select(Pipeline)).one()
        assert loaded.runs[0].state is JobState.FAILED
        session.delete(loaded)
    with store.session() as session:
        assert session.scalars(sa.select(PipelineRun)).all() == []


def test_api_token_round_trip_and_hash_is_unique(store: MetadataStore) -> None:
    with store.session() as session:
        session.add(ApiToken(name="ci", token_hash="a" * 64, scopes=["read", "infer"]))
    with store.session() as session:
        token = session.scalars(sa.select(ApiToken)).one()
        assert (token.scopes, token.revoked_at) == (["read", "infer"], None)
        token.revoked_at = utcnow()
    with pytest.raises(IntegrityError), store.session() as session:
        session.add(ApiToken(name="other", token_hash="a" * 64, scopes=[]))
    with store.session() as session:
        token = session.scalars(sa.select(ApiToken)).one()
        assert token.revoked_at is not None
        session.delete(token)


def test_duplicate_brain_name_raises_integrity_error(store: MetadataStore) -> None:
    with store.session() as session:
        make_brain(session, graph_key=1)
    with pytest.raises(IntegrityError), store.session() as session:
        make_brain(session, graph_key=2)


def test_deleting_brain_in_sql_cascades_its_rows_and_detaches_jobs(store: MetadataStore) -> None:
    with store.session() as session:
        brain = make_brain(session)
        brain.versions.append(BrainVersion(version=1, config_hash="c" * 64))
        run = TrainingRun(brain=brain, config={}, config_hash="r" * 64)
        run.epochs.append(RunEpoch(epoch=0, metrics={}))
        session.add(run)
        session.flush()
        session.add(Job(kind="train", brain_id=brain.id, run_id=run.id))
    # Plain SQL, bypassing the ORM: only the database's own foreign keys act.
    with store.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM brains")
    with store.session() as session:
        for model in (BrainVersion, TrainingRun, RunEpoch):
            assert session.scalars(sa.select(model)).all() == []
        job = session.scalars(sa.select(Job)).one()
        assert (job.brain_id, job.run_id) == (None, None)


def test_timestamps_come_back_as_aware_utc(store: MetadataStore) -> None:
    eastern = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5)))
    with store.session() as session:
        session.add(Job(kind="train", started_at=eastern))
    with store.session() as session:
        job = session.scalars(sa.select(Job)).one()
        assert job.started_at == eastern
        assert job.started_at is not None and job.started_at.tzinfo is UTC
        assert job.created_at.tzinfo is UTC


def test_naive_datetime_is_refused(store: MetadataStore) -> None:
    with pytest.raises(StatementError, match="naive datetime"), store.session() as session:
        session.add(Job(kind="train", started_at=datetime(2024, 5, 1, 12, 0)))


def test_unknown_state_is_refused_naming_the_allowed_values(store: MetadataStore) -> None:
    with pytest.raises(StatementError, match="allowed: queued, running"), store.session() as s:
        s.add(Job(kind="train", state="paused"))
