"""Background jobs in the metadata store: their rows, and ``JobView``, what the API shows.

The server's job manager (worker threads, events) decides when a job moves;
every read and write of the ``jobs`` table is here.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from marble_graph.errors import Conflict, NotFound, ValidationFailed
from marble_graph.store.metadata.database import MetadataStore
from marble_graph.store.metadata.models import Brain, Job, JobState, RunState, TrainingRun

ACTIVE = (JobState.QUEUED, JobState.RUNNING)
RESUMABLE = (JobState.INTERRUPTED, JobState.CANCELLED)
JOB_STATES = tuple(s.value for s in JobState)
FINISHED = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED)


@dataclass(frozen=True)
class JobView:
    """A job as the API shows it."""

    id: str
    kind: str
    state: str
    brain: str | None
    progress: float
    payload: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.state in {s.value for s in FINISHED}

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "brain": self.brain,
            "progress": self.progress,
            "payload": self.payload,
            "result": self.result,
            "error": self.error,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def brain_name(session: Session, job: Job) -> str | None:
    if job.brain_id is None:
        return None
    brain = session.get(Brain, job.brain_id)
    return brain.name if brain is not None else None


def job_view(job: Job, brain: str | None) -> JobView:
    return JobView(
        id=job.id,
        kind=job.kind,
        state=job.state.value,
        brain=brain,
        progress=float(job.progress or 0.0),
        payload=dict(job.payload or {}),
        result=dict(job.result) if job.result is not None else None,
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def _brain_id(session: Session, brain: str) -> int:
    row = session.scalars(select(Brain.id).where(Brain.name == brain)).first()
    if row is None:
        raise NotFound(f"no brain named {brain!r}")
    return int(row)


def _active_job(session: Session, brain: str) -> Job | None:
    return session.scalars(
        select(Job)
        .join(Brain, Job.brain_id == Brain.id)
        .where(Brain.name == brain, Job.state.in_(ACTIVE))
    ).first()


def _kind_label(kind: str) -> str:
    return "training" if kind == "train" else kind


def _row(session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job with id {job_id!r}")
    return job


class JobRecords:
    """The ``jobs`` table: queue, move and read jobs (one transaction per call)."""

    def __init__(self, metadata: MetadataStore) -> None:
        self.metadata = metadata

    def add(self, kind: str, brain: str, payload: dict[str, Any]) -> JobView:
        """A new queued job on ``brain``; Conflict while the brain has an active one."""
        with self.metadata.session() as session:
            brain_id = _brain_id(session, brain)
            busy = _active_job(session, brain)
            if busy is not None:
                raise Conflict(
                    f"brain {brain!r} already has {_kind_label(busy.kind)} job {busy.id} "
                    f"({busy.state.value}); "
                    "wait for it or cancel it"
                )
            job = Job(kind=kind, brain_id=brain_id, payload=payload)
            session.add(job)
            session.flush()
            return job_view(job, brain)

    def get(self, job_id: str) -> JobView:
        with self.metadata.session() as session:
            job = _row(session, job_id)
            return job_view(job, brain_name(session, job))

    def list(
        self,
        brain: str | None = None,
        state: str | None = None,
        limit: int = 100,
        among: Collection[str] | None = None,
    ) -> builtins.list[JobView]:
        """Newest first, optionally for one brain or in one state; ``among`` keeps only
        jobs of those brains (a token's limit), applied before ``limit``."""
        with self.metadata.session() as session:
            query = select(Job, Brain.name).outerjoin(Brain, Job.brain_id == Brain.id)
            if brain is not None:
                query = query.where(Brain.name == brain)
            if among is not None:
                query = query.where(Brain.name.in_(builtins.list(among)))
            if state is not None:
                if state not in JOB_STATES:
                    raise ValidationFailed(
                        f"job state {state!r}: expected one of {', '.join(JOB_STATES)}"
                    )
                query = query.where(Job.state == JobState(state))
            rows = session.execute(query.order_by(Job.created_at.desc()).limit(limit)).all()
            return [job_view(job, name) for job, name in rows]

    def counts_by_state(self) -> dict[str, int]:
        with self.metadata.session() as session:
            rows = session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
            return {state.value: int(count) for state, count in rows}

    def active_for(self, brain: str) -> JobView | None:
        """The brain's queued or running job, if any."""
        with self.metadata.session() as session:
            job = _active_job(session, brain)
            return job_view(job, brain) if job is not None else None

    def note_resumed_by(self, job_id: str, successor: str) -> None:
        with self.metadata.session() as session:
            row = _row(session, job_id)
            row.result = {**(row.result or {}), "resumed_by": successor}

    def cancel(self, job_id: str) -> JobView:
        """A queued job ends cancelled now; a running one is left for its worker to stop."""
        with self.metadata.session() as session:
            job = _row(session, job_id)
            if job.state in FINISHED:
                raise Conflict(f"job {job_id} already finished ({job.state.value})")
            if job.state == JobState.QUEUED:
                job.state, job.finished_at = JobState.CANCELLED, datetime.now(UTC)
                job.error = "cancelled before it started"
            return job_view(job, brain_name(session, job))

    def start(self, job_id: str) -> JobView | None:
        """Move a queued job to running; None when it is no longer queued (cancelled)."""
        with self.metadata.session() as session:
            job = _row(session, job_id)
            if job.state != JobState.QUEUED:
                return None
            job.state, job.started_at = JobState.RUNNING, datetime.now(UTC)
            return job_view(job, brain_name(session, job))

    def progress(
        self, job_id: str, progress: float, last_epoch: dict[str, Any], key: str = "last_epoch"
    ) -> JobView:
        """Record how far the job is, and its latest metrics under ``key`` (a dream's
        ``last_cycle``)."""
        with self.metadata.session() as session:
            row = _row(session, job_id)
            row.progress = progress
            row.result = {key: last_epoch}
            return job_view(row, brain_name(session, row))

    def finish(
        self,
        job_id: str,
        state: JobState,
        error: str | None,
        result: dict[str, Any] | None,
    ) -> JobView:
        with self.metadata.session() as session:
            row = _row(session, job_id)
            row.state, row.error, row.finished_at = state, error, datetime.now(UTC)
            if result is not None:
                row.result = result
                if result.get("run_id") is not None:  # a dream job has no training run
                    row.run_id = int(result["run_id"])
            if state == JobState.SUCCEEDED:
                row.progress = 1.0
            return job_view(row, brain_name(session, row))

    def interrupt_leftovers(self) -> builtins.list[str]:
        """Mark jobs (and their runs) a stopped server left active as interrupted."""
        now = datetime.now(UTC)
        with self.metadata.session() as session:
            ids = builtins.list(session.scalars(select(Job.id).where(Job.state.in_(ACTIVE))))
            if ids:
                session.execute(
                    update(Job)
                    .where(Job.id.in_(ids))
                    .values(
                        state=JobState.INTERRUPTED,
                        finished_at=now,
                        error="the server stopped before this job finished; resume it",
                    )
                )
            # Their training runs stopped too; resume picks them up by this state.
            session.execute(
                update(TrainingRun)
                .where(TrainingRun.state == RunState.RUNNING)
                .values(state=RunState.INTERRUPTED, finished_at=now)
            )
        return ids
