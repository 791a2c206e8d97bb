"""Run records in the metadata store: datasets trained on, runs, their epochs.

Kept apart from the training cycle in ``runs.py`` so that module reads as
the cycle itself; everything here is bookkeeping in SQL (and the dataset's
arrays, content-addressed in blobs/).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from marble_graph.config import MarbleConfig, config_hash
from marble_graph.datasets import Dataset
from marble_graph.errors import NotFound
from marble_graph.store.metadata import (
    Brain,
    DatasetVersion,
    RunEpoch,
    RunState,
    TrainingRun,
)
from marble_graph.store.metadata import Dataset as DatasetRow
from marble_graph.versions import DatasetLink

if TYPE_CHECKING:
    from marble_graph.service import BrainService


def register_dataset(service: BrainService, dataset: Dataset) -> DatasetLink:
    """The SQL dataset version for this content (created once; the data goes to blobs/)."""
    digest = dataset.content_hash()
    with service.metadata.session() as session:
        row = session.scalars(
            select(DatasetRow).where(DatasetRow.name == dataset.name)
        ).one_or_none()
        if row is None:
            row = DatasetRow(name=dataset.name[:128], description=dataset.source)
            session.add(row)
            session.flush()
        version = session.scalars(
            select(DatasetVersion).where(
                DatasetVersion.dataset_id == row.id, DatasetVersion.content_hash == digest
            )
        ).one_or_none()
        if version is None:
            blob = service.blobs.put_arrays(
                {"features": dataset.features, "targets": dataset.targets}
            )
            number = (
                session.scalar(
                    select(func.max(DatasetVersion.version)).where(
                        DatasetVersion.dataset_id == row.id
                    )
                )
                or 0
            ) + 1
            version = DatasetVersion(
                dataset_id=row.id,
                version=number,
                content_hash=digest,
                n_rows=dataset.n_rows,
                n_features=dataset.n_features,
                columns=[{"name": n, "role": "feature"} for n in dataset.feature_names]
                + [{"name": n, "role": "target"} for n in dataset.target_names],
                blob_path=str(service.blobs.path(blob, ".npz")),
            )
            session.add(version)
            session.flush()
        return DatasetLink(version.id, digest, dataset.name, version.version, dataset.n_rows)


def list_runs(service: BrainService, name: str, state: str | None = None) -> list[dict[str, Any]]:
    """A brain's training runs, oldest first (optionally only those in ``state``)."""
    service.get_brain(name)
    query = select(TrainingRun).join(Brain).where(Brain.name == name).order_by(TrainingRun.id)
    if state is not None:
        query = query.where(TrainingRun.state == RunState(state))
    with service.metadata.session() as session:
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


def run_epochs(service: BrainService, run_id: int) -> list[dict[str, Any]]:
    with service.metadata.session() as session:
        rows = session.scalars(
            select(RunEpoch).where(RunEpoch.run_id == run_id).order_by(RunEpoch.epoch)
        ).all()
        return [dict(r.metrics) for r in rows]


def latest_unfinished_run(service: BrainService, name: str) -> TrainingRun:
    with service.metadata.session() as session:
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
    service: BrainService,
    name: str,
    base_version: int,
    link: DatasetLink,
    config: MarbleConfig,
    planned: int,
    resumed_from: int | None,
) -> int:
    """A new run record in state running; returns its id."""
    with service.metadata.session() as session:
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


def record_epoch(service: BrainService, run_id: int, metrics: dict[str, Any]) -> None:
    with service.metadata.session() as session:
        session.add(RunEpoch(run_id=run_id, epoch=int(metrics["epoch"]), metrics=metrics))


def update_run_summary(service: BrainService, run_id: int, updates: dict[str, Any]) -> None:
    with service.metadata.session() as session:
        run = session.get(TrainingRun, run_id)
        assert run is not None
        run.summary = {**run.summary, **updates}


def finish_run(
    service: BrainService,
    run_id: int,
    state: RunState,
    *,
    error: str | None = None,
    result_version: int | None = None,
    summary: dict[str, Any] | None = None,
) -> None:
    with service.metadata.session() as session:
        run = session.get(TrainingRun, run_id)
        assert run is not None
        run.state = state
        run.error = error
        run.finished_at = datetime.now(UTC)
        if result_version is not None:
            run.result_version = result_version
        if summary:
            run.summary = {**run.summary, **summary}
