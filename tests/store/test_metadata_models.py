"""The SQL metadata store's models: round trips, constraints, cascades, timestamps.

Real SQLite files under tmp_path, no mocks.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, StatementError

from marble_graph.store.metadata import (
    ApiToken,
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
    utcnow,
)
from tests.store.conftest import make_brain

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
