"""SQLAlchemy 2.0 typed models of the SQL metadata store.

The tables hold everything about a brain that is not the graph itself:
versions, training runs and their epochs, jobs, dataset versions, pipelines
and API tokens. The schema is dialect-neutral (SQLite by default, PostgreSQL
unchanged) and only ever changes through an Alembic revision in
``migrations/versions``; the drift test keeps these models and the revisions
in step.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Every constraint and index gets a deterministic name, so Alembic revisions
# can refer to (and batch-alter) them identically on SQLite and PostgreSQL.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime (the default of every timestamp)."""
    return datetime.now(UTC)


def new_job_id() -> str:
    """Return a fresh job id: a uuid4 in its 36-character dashed form."""
    return str(uuid.uuid4())


def _empty_dict() -> dict[str, Any]:
    # A named factory rather than ``dict``: SQLAlchemy would pass its execution
    # context as a positional argument to a callable that accepts one.
    return {}


class BrainState(StrEnum):
    """Life cycle of a brain row; ``committed`` only once both stores agree."""

    PENDING = "pending"
    COMMITTED = "committed"
    DELETING = "deleting"


class VersionState(StrEnum):
    """A version is ``pending`` until its graph write-back is durable."""

    PENDING = "pending"
    COMMITTED = "committed"


class RunState(StrEnum):
    """Life cycle of a training run."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class JobState(StrEnum):
    """Life cycle of a background job (also used by pipeline runs)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands back aware UTC datetimes.

    SQLite keeps no offset and returns naive values while PostgreSQL returns
    aware ones; normalising here keeps comparisons identical on both. Naive
    input is refused because its time zone cannot be known.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} given; "
                "pass an aware datetime, e.g. marble_graph.store.metadata.utcnow()"
            )
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


E = TypeVar("E", bound=StrEnum)


class EnumString(TypeDecorator[E]):
    """Store a ``StrEnum`` member as its plain string value in ``String(length)``.

    A plain string column (rather than ``sa.Enum``) means adding a state later
    needs no ALTER TYPE on PostgreSQL nor a CHECK rebuild on SQLite; values
    are still validated on the way in and returned as enum members.
    """

    impl = sa.String
    cache_ok = True

    def __init__(self, enum_type: type[E], length: int = 16) -> None:
        super().__init__(length)
        self.enum_type = enum_type

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        try:
            return self.enum_type(value).value
        except ValueError:
            allowed = ", ".join(member.value for member in self.enum_type)
            raise ValueError(
                f"{value!r} is not a valid {self.enum_type.__name__}; allowed: {allowed}"
            ) from None

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum_type(value)


class Base(DeclarativeBase):
    """Declarative base of every metadata table."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012  (SQLAlchemy reads this class attribute as is)
        datetime: UTCDateTime(),
        dict[str, Any]: sa.JSON(),
        list[str]: sa.JSON(),
        list[dict[str, Any]]: sa.JSON(),
    }


class Brain(Base):
    """A brain: its configuration, seed and the graph_key that prefixes its node uids."""

    __tablename__ = "brains"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    # Numeric key the graph store embeds in this brain's node uids.
    graph_key: Mapped[int] = mapped_column(unique=True)
    state: Mapped[BrainState] = mapped_column(EnumString(BrainState), default=BrainState.PENDING)
    config: Mapped[dict[str, Any]]
    config_hash: Mapped[str] = mapped_column(sa.String(64))
    random_seed: Mapped[int] = mapped_column(sa.BigInteger)
    graph_hash: Mapped[str | None] = mapped_column(sa.String(64))
    neuron_count: Mapped[int] = mapped_column(default=0)
    synapse_count: Mapped[int] = mapped_column(default=0)
    current_version: Mapped[int] = mapped_column(default=0)
    # Set when the graph store no longer matches the current version's record
    # (counts or hash); training refuses to build on it until `brain repair`.
    damage: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # passive_deletes: the database's ON DELETE CASCADE removes the children,
    # so deleting a brain does not load its whole history first.
    versions: Mapped[list[BrainVersion]] = relationship(
        back_populates="brain",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="BrainVersion.version",
    )
    runs: Mapped[list[TrainingRun]] = relationship(
        back_populates="brain",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="TrainingRun.id",
    )


class BrainVersion(Base):
    """One numbered version of a brain's graph, written back by training or import."""

    __tablename__ = "brain_versions"
    __table_args__ = (sa.UniqueConstraint("brain_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brain_id: Mapped[int] = mapped_column(
        sa.ForeignKey("brains.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int]
    state: Mapped[VersionState] = mapped_column(
        EnumString(VersionState), default=VersionState.PENDING
    )
    parent_version: Mapped[int | None]
    dataset_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("dataset_versions.id", ondelete="SET NULL")
    )
    config_hash: Mapped[str] = mapped_column(sa.String(64))
    graph_hash: Mapped[str | None] = mapped_column(sa.String(64))
    neuron_count: Mapped[int] = mapped_column(default=0)
    synapse_count: Mapped[int] = mapped_column(default=0)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=_empty_dict)
    note: Mapped[str | None] = mapped_column(sa.String(512))
    # Where this version's graph lives: its neurons' uids are (graph_key << 32) | id.
    graph_key: Mapped[int | None] = mapped_column(sa.BigInteger)
    # Content hash of the shared layer (attention, MLP, readout) in blobs/; None until trained.
    params_blob: Mapped[str | None] = mapped_column(sa.String(64))
    # Content hash of the version's whole graph as Parquet in blobs/ (repair, backup).
    snapshot_blob: Mapped[str | None] = mapped_column(sa.String(64))
    # Content hash of the experience buffers dreams replay (learning/experience.py) in
    # blobs/; None while the brain has recorded nothing.
    experience_blob: Mapped[str | None] = mapped_column(sa.String(64))
    run_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("training_runs.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    committed_at: Mapped[datetime | None]
    # When retention (``versions.keep``) removed this version's snapshot and
    # shared layer from blobs/; NULL while the version can still be served.
    collected_at: Mapped[datetime | None]

    brain: Mapped[Brain] = relationship(back_populates="versions")


class BrainVersionTag(Base):
    """A name for one committed version of a brain; a tag names one version at a time."""

    __tablename__ = "brain_version_tags"
    __table_args__ = (sa.UniqueConstraint("brain_id", "tag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brain_id: Mapped[int] = mapped_column(
        sa.ForeignKey("brains.id", ondelete="CASCADE"), index=True
    )
    tag: Mapped[str] = mapped_column(sa.String(64))
    version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrainingRun(Base):
    """A training run over a brain, from ``base_version`` to ``result_version``."""

    __tablename__ = "training_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    brain_id: Mapped[int] = mapped_column(
        sa.ForeignKey("brains.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[RunState] = mapped_column(EnumString(RunState), default=RunState.QUEUED)
    base_version: Mapped[int | None]
    result_version: Mapped[int | None]
    dataset_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("dataset_versions.id", ondelete="SET NULL")
    )
    config: Mapped[dict[str, Any]]
    config_hash: Mapped[str] = mapped_column(sa.String(64))
    error: Mapped[str | None] = mapped_column(sa.Text)
    summary: Mapped[dict[str, Any]] = mapped_column(default=_empty_dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    brain: Mapped[Brain] = relationship(back_populates="runs")
    epochs: Mapped[list[RunEpoch]] = relationship(
        back_populates="run",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="RunEpoch.epoch",
    )


class RunEpoch(Base):
    """Metrics of one epoch of a training run."""

    __tablename__ = "run_epochs"
    __table_args__ = (sa.UniqueConstraint("run_id", "epoch"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("training_runs.id", ondelete="CASCADE"))
    epoch: Mapped[int]
    metrics: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    run: Mapped[TrainingRun] = relationship(back_populates="epochs")


class Job(Base):
    """A background job; it outlives the brain or run it worked on (SET NULL)."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_job_id)
    kind: Mapped[str] = mapped_column(sa.String(32))
    state: Mapped[JobState] = mapped_column(
        EnumString(JobState), default=JobState.QUEUED, index=True
    )
    brain_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("brains.id", ondelete="SET NULL"), index=True
    )
    run_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("training_runs.id", ondelete="SET NULL")
    )
    progress: Mapped[float] = mapped_column(sa.Float, default=0.0)
    payload: Mapped[dict[str, Any]] = mapped_column(default=_empty_dict)
    # none_as_null: "no result yet" must be SQL NULL, not the JSON literal null.
    result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON(none_as_null=True))
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Dataset(Base):
    """A named dataset; its content lives in immutable numbered versions."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[DatasetVersion]] = relationship(
        back_populates="dataset",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="DatasetVersion.version",
    )


class DatasetVersion(Base):
    """One immutable, content-addressed version of a dataset (rows in ``blob_path``)."""

    __tablename__ = "dataset_versions"
    __table_args__ = (sa.UniqueConstraint("dataset_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(sa.ForeignKey("datasets.id", ondelete="CASCADE"))
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    n_rows: Mapped[int]
    n_features: Mapped[int]
    # Schema description: one mapping per column, e.g. {"name": "x0", "type": "double"}.
    columns: Mapped[list[dict[str, Any]]]
    blob_path: Mapped[str] = mapped_column(sa.String(1024))
    # The rows as one Parquet blob (its digest); NULL for versions registered
    # before row storage, whose arrays are the ``.npz`` at ``blob_path``.
    rows_blob: Mapped[str | None] = mapped_column(sa.String(64))
    # The TableEncoding record (datasets/encoders): how rows become tensors.
    encoding: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON(none_as_null=True))
    # The version this one was derived from (a diff applied, a revert), if any.
    parent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("dataset_versions.id", ondelete="SET NULL")
    )
    note: Mapped[str | None] = mapped_column(sa.String(512))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    dataset: Mapped[Dataset] = relationship(back_populates="versions")


class DatasetTag(Base):
    """A name for one version of a dataset; a tag names one version at a time."""

    __tablename__ = "dataset_tags"
    __table_args__ = (sa.UniqueConstraint("dataset_id", "tag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(sa.ForeignKey("datasets.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(sa.String(64))
    version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("dataset_versions.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Pipeline(Base):
    """A named pipeline: a spec of registered operations, never code."""

    __tablename__ = "pipelines"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    spec: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    runs: Mapped[list[PipelineRun]] = relationship(
        back_populates="pipeline",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="PipelineRun.id",
    )


class PipelineRun(Base):
    """One execution of a pipeline; its state follows the job life cycle."""

    __tablename__ = "pipeline_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(
        sa.ForeignKey("pipelines.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[JobState] = mapped_column(EnumString(JobState), default=JobState.QUEUED)
    result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON(none_as_null=True))
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    pipeline: Mapped[Pipeline] = relationship(back_populates="runs")


class ApiToken(Base):
    """An API token: only its sha256 hex digest is stored, with its scopes."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    scopes: Mapped[list[str]]
    # None: every brain; otherwise the names of the only brains the token may use.
    brains: Mapped[list[str] | None] = mapped_column(sa.JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
