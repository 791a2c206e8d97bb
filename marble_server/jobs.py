"""Background training jobs, run by worker threads of the server process.

The server process owns the graph database, so jobs run here, in threads, and
share its one ``BrainService``. A job's state lives in the SQL ``jobs`` table
(queued -> running -> succeeded | failed | cancelled | interrupted); events go
to subscribers through the ``EventHub``. Cancelling sets a flag the trainer
checks before every step, and a cancelled run writes no partial version. A
server that stops (or dies) mid-job leaves it ``interrupted`` on the next
start; ``resume`` continues it from its last committed checkpoint.
"""

from __future__ import annotations

import builtins
import logging
import queue
import threading
from collections.abc import AsyncGenerator, Callable, Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from marble_graph.errors import Conflict, MarbleError, NotFound, ValidationFailed
from marble_graph.run_records import latest_unfinished_run
from marble_graph.runs import load_dataset_for_brain, train_brain
from marble_graph.service import BrainService
from marble_graph.store.metadata import Brain, Job, JobState, RunState, TrainingRun
from marble_server.brain_ops import check_api_dataset
from marble_server.events import TERMINAL_EVENT, EventHub, JobEvent
from marble_server.job_views import ACTIVE, FINISHED, JobView, brain_name, job_view

log = logging.getLogger(__name__)

RESUMABLE = (JobState.INTERRUPTED, JobState.CANCELLED)
_STOP = "__stop__"


class JobManager:
    """A queue of jobs served by ``workers`` threads; one training job per brain at a time."""

    def __init__(
        self,
        service: BrainService,
        events: EventHub,
        workers: int = 1,
        device: str | None = None,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        self.service = service
        self.events = events
        self.device = device
        self._workers = workers
        self._queue: queue.Queue[str] = queue.Queue()
        self._cancel: dict[str, threading.Event] = {}
        self._threads: list[threading.Thread] = []
        self._submit_lock = threading.Lock()
        self._stopping = threading.Event()
        self._on_state = on_state

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> builtins.list[str]:
        """Mark jobs a previous server left unfinished as interrupted; start the workers."""
        interrupted = self._interrupt_leftovers()
        for index in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"marble-job-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return interrupted

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop at the next step boundary; running jobs end ``interrupted`` (resumable)."""
        self._stopping.set()
        for flag in list(self._cancel.values()):
            flag.set()
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads.clear()

    # -- API --------------------------------------------------------------------------

    def submit_train(
        self,
        brain: str,
        dataset: str,
        epochs: int | None = None,
        resume: bool = False,
        resumed_from: str | None = None,
    ) -> JobView:
        """Queue a training job after checking the brain, the dataset and their widths."""
        check_api_dataset(dataset)
        if epochs is not None and not 1 <= epochs <= 100_000:
            raise ValidationFailed(f"epochs: expected 1..100000, got {epochs}")
        self._check_dataset_fits(brain, dataset)
        with self._submit_lock, self.service.metadata.session() as session:
            row = session.scalars(select(Brain).where(Brain.name == brain)).first()
            assert row is not None  # _check_dataset_fits found it
            busy = _active_job(session, brain)
            if busy is not None:
                raise Conflict(
                    f"brain {brain!r} already has training job {busy.id} ({busy.state.value}); "
                    "wait for it or cancel it"
                )
            payload = {"brain": brain, "dataset": dataset, "epochs": epochs, "resume": resume}
            if resumed_from:
                payload["resumed_from"] = resumed_from
            job = Job(kind="train", brain_id=row.id, payload=payload)
            session.add(job)
            session.flush()
            view = job_view(job, brain)
        self._cancel[view.id] = threading.Event()
        self._queue.put(view.id)
        self._changed(view, "state")
        return view

    def resume(self, job_id: str) -> JobView:
        """A new job that continues an interrupted or cancelled one from its last checkpoint."""
        old = self.get(job_id)
        if old.state not in {s.value for s in RESUMABLE}:
            raise Conflict(
                f"job {job_id} is {old.state}; only interrupted or cancelled jobs can be resumed"
            )
        if old.brain is None:
            raise Conflict(f"job {job_id}'s brain no longer exists")
        successor = (old.result or {}).get("resumed_by")
        if successor:
            raise Conflict(f"job {job_id} was already resumed by job {successor}")
        new = self.submit_train(
            old.brain,
            str(old.payload["dataset"]),
            old.payload.get("epochs"),
            resume=True,
            resumed_from=job_id,
        )
        with self.service.metadata.session() as session:
            row = self._row(session, job_id)
            row.result = {**(row.result or {}), "resumed_by": new.id}
        return new

    def cancel(self, job_id: str) -> JobView:
        """Cancel a queued job now, or a running one at its next training step."""
        with self.service.metadata.session() as session:
            job = self._row(session, job_id)
            if job.state in FINISHED:
                raise Conflict(f"job {job_id} already finished ({job.state.value})")
            if job.state == JobState.QUEUED:
                job.state, job.finished_at = JobState.CANCELLED, datetime.now(UTC)
                job.error = "cancelled before it started"
            view = job_view(job, brain_name(session, job))
        flag = self._cancel.get(job_id)
        if flag is not None:
            flag.set()
        if view.finished:
            self._changed(view, "state")
            self._changed(view, TERMINAL_EVENT)
        return view

    def get(self, job_id: str) -> JobView:
        with self.service.metadata.session() as session:
            job = self._row(session, job_id)
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
        with self.service.metadata.session() as session:
            query = select(Job, Brain.name).outerjoin(Brain, Job.brain_id == Brain.id)
            if brain is not None:
                query = query.where(Brain.name == brain)
            if among is not None:
                query = query.where(Brain.name.in_(list(among)))
            if state is not None:
                if state not in JobState._value2member_map_:
                    names = ", ".join(s.value for s in JobState)
                    raise ValidationFailed(f"job state {state!r}: expected one of {names}")
                query = query.where(Job.state == JobState(state))
            rows = session.execute(query.order_by(Job.created_at.desc()).limit(limit)).all()
            return [job_view(job, name) for job, name in rows]

    def counts_by_state(self) -> dict[str, int]:
        with self.service.metadata.session() as session:
            rows = session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
            return {state.value: int(count) for state, count in rows}

    def active_for(self, brain: str) -> JobView | None:
        """The brain's queued or running job, if any."""
        with self.service.metadata.session() as session:
            job = _active_job(session, brain)
            return job_view(job, brain) if job is not None else None

    async def watch(self, job_id: str) -> AsyncGenerator[JobEvent, None]:
        """The job's current state, then its events as they happen, ending after ``end``."""
        subscriber = self.events.subscribe(job_id)  # before the snapshot: miss nothing
        try:
            view = self.get(job_id)
            yield JobEvent("state", view.as_dict())
            if view.finished:
                yield JobEvent(TERMINAL_EVENT, view.as_dict())
                return
            while True:
                event = await subscriber.queue.get()
                yield event
                if event.kind == TERMINAL_EVENT:
                    return
        finally:
            self.events.unsubscribe(job_id, subscriber)

    # -- workers ----------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id == _STOP:
                return
            try:
                self._run(job_id)
            except Exception:  # a worker must survive any one job's failure
                log.exception("job %s crashed its worker", job_id)
            finally:
                self._cancel.pop(job_id, None)

    def _run(self, job_id: str) -> None:
        flag = self._cancel.setdefault(job_id, threading.Event())
        with self.service.metadata.session() as session:
            job = self._row(session, job_id)
            if job.state != JobState.QUEUED:
                return  # cancelled while queued
            job.state, job.started_at = JobState.RUNNING, datetime.now(UTC)
            payload, brain = dict(job.payload), brain_name(session, job)
            view = job_view(job, brain)
        self._changed(view, "state")
        planned = self._planned_epochs(payload)

        def on_epoch(metrics: dict[str, Any]) -> None:
            progress = min(1.0, float(metrics["epoch"]) / planned) if planned else 0.0
            with self.service.metadata.session() as session:
                row = self._row(session, job_id)
                row.progress = progress
                row.result = {"last_epoch": metrics}
                current = job_view(row, brain)
            self.events.publish(job_id, JobEvent("progress", current.as_dict(), metrics))

        state, error = JobState.FAILED, None
        result: dict[str, Any] | None = None
        try:
            summary = train_brain(
                self.service,
                str(payload["brain"]),
                str(payload["dataset"]),
                epochs=payload.get("epochs"),
                device=self.device,
                resume=bool(payload.get("resume")),
                on_epoch=on_epoch,
                should_stop=flag.is_set,
            )
            result = {
                "run_id": summary.run_id,
                "version": summary.version,
                "epochs": summary.epochs,
                "test": summary.test,
                "baseline": summary.baseline,
                "reason": summary.reason,
                "last_epoch": summary.history[-1] if summary.history else None,
            }
            if summary.state == RunState.COMPLETED.value:
                state = JobState.SUCCEEDED
            elif summary.state == RunState.CANCELLED.value:
                state = JobState.INTERRUPTED if self._stopping.is_set() else JobState.CANCELLED
                error = "server stopped during the run" if self._stopping.is_set() else "cancelled"
            else:
                error = summary.reason
        except MarbleError as exc:
            error = str(exc)
        except Exception as exc:
            log.exception("job %s failed", job_id)
            error = f"{type(exc).__name__}: {exc}"
        with self.service.metadata.session() as session:
            row = self._row(session, job_id)
            row.state, row.error, row.finished_at = state, error, datetime.now(UTC)
            if result is not None:
                row.result = result
                row.run_id = int(result["run_id"])
            if state == JobState.SUCCEEDED:
                row.progress = 1.0
            final = job_view(row, brain)
        self._changed(final, "state")
        self._changed(final, TERMINAL_EVENT)

    # -- helpers ----------------------------------------------------------------------

    def _check_dataset_fits(self, brain: str, dataset: str) -> None:
        config = self.service.brain_config(brain)  # NotFound names the known brains
        kinds, _ = self.service.graph.counts_by_kind_and_type(
            self.service.get_brain(brain).graph_key
        )
        load_dataset_for_brain(dataset, config, kinds.get("input", 0), kinds.get("output", 0))

    def _planned_epochs(self, payload: dict[str, Any]) -> int:
        brain = str(payload["brain"])
        if payload.get("resume"):
            try:
                run = latest_unfinished_run(self.service, brain)
                return int(run.summary.get("epochs_planned", 0))
            except NotFound:
                return 0
        return int(payload.get("epochs") or self.service.brain_config(brain).learning.epochs)

    def _interrupt_leftovers(self) -> builtins.list[str]:
        now = datetime.now(UTC)
        with self.service.metadata.session() as session:
            ids = list(session.scalars(select(Job.id).where(Job.state.in_(ACTIVE))))
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
        if ids:
            log.warning("marked %d unfinished job(s) interrupted: %s", len(ids), ", ".join(ids))
        return ids

    def _row(self, session: Session, job_id: str) -> Job:
        job = session.get(Job, job_id)
        if job is None:
            raise NotFound(f"no job with id {job_id!r}")
        return job

    def _changed(self, view: JobView, kind: str) -> None:
        self.events.publish(view.id, JobEvent(kind, view.as_dict()))
        if kind == "state" and self._on_state is not None:
            self._on_state(view.state)


def _active_job(session: Session, brain: str) -> Job | None:
    return session.scalars(
        select(Job)
        .join(Brain, Job.brain_id == Brain.id)
        .where(Brain.name == brain, Job.state.in_(ACTIVE))
    ).first()
