"""Training-run records in the metadata store: runs, their epochs, their outcome.

Bookkeeping in SQL only; the training cycle itself is ``marble_graph.brains.training``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from marble_graph.config import MarbleConfig, config_hash
from marble_graph.errors import NotFound
from marble_graph.store.metadata.brain_records import get_brain
from marble_graph.store.metadata.database import MetadataStore
from marble_graph.store.metadata.dataset_records import DatasetLink
from marble_graph.store.metadata.models import Brain, RunEpoch, RunState, TrainingRun


def list_runs(metadata: MetadataStore, name: str, state: str | None = None) -> list[dict[str, Any]]:
    """A brain's training runs, oldest first (optionally only those in ``state``)."""
    get_brain(metadata, name)
    query = select(TrainingRun).join(Brain).where(Brain.name == name).order_by(TrainingRun.id)
    if state is not None:
        query = query.where(TrainingRun.state == RunState(state))
    with metadata.session() as session:
        runs = session.scalars(query).all()
        epochs = dict(
            session.execute(
                select(RunEpoch.run_id, func.count())
                .where(RunEpoch.run_id.in_([r.id for r in runs]))
                .group_by(RunEpoch.run_id)
            ).all()
        )
        return [
            {
                "run": r.id,
                "state": r.state.value,
                "base_version": r.base_version,
                "result_version": r.result_version,
                "epochs": epochs.get(r.id, 0),
                "test": r.summary.get("test", {}),
                "error": r.error,
                "started": r.started_at,
                "finished": r.finished_at,
            }
            for r in runs
        ]


def run_epochs(metadata: MetadataStore, run_id: int) -> list[dict[str, Any]]:
    with metadata.session() as session:
        rows = session.scalars(
            select(RunEpoch).where(RunEpoch.run_id == run_id).order_by(RunEpoch.epoch)
        ).all()
        return [dict(r.metrics) for r in rows]


def latest_unfinished_run(metadata: MetadataStore, name: str) -> TrainingRun:
    with metadata.session() as session:
        run = session.scalars(
            select(TrainingRun)
            .join(Brain)
            .where(Brain.name == name)
            .where(
                TrainingRun.state.in_([RunState.INTERRUPTED, RunState.CANCELLED, RunState.RUNNING])
            )
            .order_by(TrainingRun.id.desc())
        ).first()
        if run is None:
            raise NotFound(f"brain {name!r} has no interrupted run to resume")
        run.state = RunState.INTERRUPTED
        return run


def start_run(
    metadata: MetadataStore,
    name: str,
    base_version: int,
    link: DatasetLink,
    config: MarbleConfig,
    planned: int,
    resumed_from: int | None,
) -> int:
    """A new run record in state running; returns its id."""
    with metadata.session() as session:
        brain = session.scalars(select(Brain).where(Brain.name == name)).one()
        run = TrainingRun(
            brain_id=brain.id,
            state=RunState.RUNNING,
            base_version=base_version,
            dataset_version_id=link.dataset_version_id,
            config=config.model_dump(mode="json"),
            config_hash=config_hash(config),
            summary={
                "epochs_planned": planned,
                "epochs_committed": 0,
                "resumed_from": resumed_from,
            },
            started_at=datetime.now(UTC),
        )
        session.add(run)
        session.flush()
        return int(run.id)


def record_epoch(metadata: MetadataStore, run_id: int, metrics: dict[str, Any]) -> None:
    with metadata.session() as session:
        session.add(RunEpoch(run_id=run_id, epoch=int(metrics["epoch"]), metrics=metrics))


def update_run_summary(metadata: MetadataStore, run_id: int, updates: dict[str, Any]) -> None:
    with metadata.session() as session:
        run = session.get(TrainingRun, run_id)
        assert run is not None
        run.summary = {**run.summary, **updates}


def finish_run(
    metadata: MetadataStore,
    run_id: int,
    state: RunState,
    *,
    error: str | None = None,
    result_version: int | None = None,
    summary: dict[str, Any] | None = None,
) -> None:
    with metadata.session() as session:
        run = session.get(TrainingRun, run_id)
        assert run is not None
        run.state = state
        run.error = error
        run.finished_at = datetime.now(UTC)
        if result_version is not None:
            run.result_version = result_version
        if summary:
            run.summary = {**run.summary, **summary}
