"""What the API shows of a job: ``JobView``, built from its ``jobs`` row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from marble_graph.store.metadata import Brain, Job, JobState

ACTIVE = (JobState.QUEUED, JobState.RUNNING)
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
