"""Background jobs (training runs and dreams), run by worker threads of the server process.

The server process owns the graph database, so jobs run here, in threads, and
share its one ``BrainService``. A job's state lives in the SQL ``jobs`` table
(queued -> running -> succeeded | failed | cancelled | interrupted); events go
to subscribers through the ``EventHub``. Cancelling sets a flag the trainer
checks before every step (and every dream cycle), and a cancelled run or dream
writes no partial version. A
server that stops (or dies) mid-job leaves it ``interrupted`` on the next
start; ``resume`` continues it from its last committed checkpoint.
"""

from __future__ import annotations

import builtins
import logging
import queue
import threading
from collections.abc import AsyncGenerator, Callable, Collection
from typing import Any

from marble_graph.errors import Conflict, MarbleError, ValidationFailed
from marble_graph.service import RESUMABLE, BrainService, JobState, JobView, RunState
from marble_server.brain_writes import api_dataset_spec
from marble_server.events import TERMINAL_EVENT, EventHub, JobEvent

log = logging.getLogger(__name__)

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
        """Queue a training job after checking the brain, the dataset and their widths.

        ``dataset`` is a built-in name or a stored spec; a bare stored name is
        pinned to its latest version now (``brain_writes.api_dataset_spec``).
        """
        dataset = api_dataset_spec(self.service, dataset)
        if epochs is not None and not 1 <= epochs <= 100_000:
            raise ValidationFailed(f"epochs: expected 1..100000, got {epochs}")
        self.service.check_dataset_fits(brain, dataset)  # NotFound names the known brains
        payload: dict[str, Any] = {
            "brain": brain,
            "dataset": dataset,
            "epochs": epochs,
            "resume": resume,
        }
        if resumed_from:
            payload["resumed_from"] = resumed_from
        with self._submit_lock:
            view = self.service.jobs.add("train", brain, payload)
        self._cancel[view.id] = threading.Event()
        self._queue.put(view.id)
        self._changed(view, "state")
        return view

    def submit_dream(self, brain: str, cycles: int | None = None) -> JobView:
        """Queue a dream of ``cycles`` replay steps (default: the brain's ``dreams.cycles``)."""
        # check_dream names bad cycles before it looks the brain up (NotFound names it).
        planned = self.service.brain_config(brain).dreams.cycles if cycles is None else cycles
        self.service.check_dream(brain, planned)
        with self._submit_lock:
            view = self.service.jobs.add("dream", brain, {"brain": brain, "cycles": planned})
        self._cancel[view.id] = threading.Event()
        self._queue.put(view.id)
        self._changed(view, "state")
        return view

    def resume(self, job_id: str) -> JobView:
        """A new job that continues an interrupted or cancelled one from its last checkpoint."""
        old = self.get(job_id)
        if old.kind != "train":
            raise Conflict(f"job {job_id} is a {old.kind} job; only training jobs can be resumed")
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
        self.service.jobs.note_resumed_by(job_id, new.id)
        return new

    def cancel(self, job_id: str) -> JobView:
        """Cancel a queued job now, or a running one at its next training step."""
        view = self.service.jobs.cancel(job_id)
        flag = self._cancel.get(job_id)
        if flag is not None:
            flag.set()
        if view.finished:
            self._changed(view, "state")
            self._changed(view, TERMINAL_EVENT)
        return view

    def get(self, job_id: str) -> JobView:
        return self.service.jobs.get(job_id)

    def list(
        self,
        brain: str | None = None,
        state: str | None = None,
        limit: int = 100,
        among: Collection[str] | None = None,
    ) -> builtins.list[JobView]:
        """Newest first, optionally for one brain or in one state; ``among`` keeps only
        jobs of those brains (a token's limit), applied before ``limit``."""
        return self.service.jobs.list(brain, state, limit, among)

    def counts_by_state(self) -> dict[str, int]:
        return self.service.jobs.counts_by_state()

    def active_for(self, brain: str) -> JobView | None:
        """The brain's queued or running job, if any."""
        return self.service.jobs.active_for(brain)

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
        view = self.service.jobs.start(job_id)
        if view is None:
            return  # cancelled while queued
        payload = view.payload
        self._changed(view, "state")
        if view.kind == "dream":
            self._conclude(job_id, "dream", lambda: self._dream(job_id, payload, flag))
        else:
            self._conclude(job_id, "run", lambda: self._train(job_id, payload, flag))

    def _train(
        self, job_id: str, payload: dict[str, Any], flag: threading.Event
    ) -> tuple[str, str | None, dict[str, Any]]:
        """A training job: a progress event per epoch; (run state, reason, result)."""
        planned = self._planned_epochs(payload)

        def on_epoch(metrics: dict[str, Any]) -> None:
            progress = min(1.0, float(metrics["epoch"]) / planned) if planned else 0.0
            current = self.service.jobs.progress(job_id, progress, metrics)
            self.events.publish(job_id, JobEvent("progress", current.as_dict(), metrics))

        summary = self.service.train(
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
        return summary.state, summary.reason, result

    def _dream(
        self, job_id: str, payload: dict[str, Any], flag: threading.Event
    ) -> tuple[str, str | None, dict[str, Any]]:
        """A dream job: a progress event per cycle; (state, reason, result with the version)."""
        planned = int(payload["cycles"])
        # An event every cycle, but the job's row at most about every 1% of the dream:
        # a commit per replay step would cost as much as the step on a small brain.
        row_every = max(1, planned // 100)
        current = self.get(job_id)

        def on_cycle(done: int, loss: float) -> None:
            nonlocal current
            metrics = {"cycle": done, "cycles": planned, "loss": loss}
            if done % row_every == 0 or done == planned:
                current = self.service.jobs.progress(job_id, done / planned, metrics, "last_cycle")
            self.events.publish(job_id, JobEvent("progress", current.as_dict(), metrics))

        summary = self.service.dream(
            str(payload["brain"]),
            planned,
            device=self.device,
            on_cycle=on_cycle,
            should_stop=flag.is_set,
        )
        return summary.state, summary.reason, summary.as_dict()

    def _conclude(
        self,
        job_id: str,
        activity: str,
        work: Callable[[], tuple[str, str | None, dict[str, Any]]],
    ) -> None:
        """Run a job's ``work`` and record how it ended: succeeded when its state is
        ``completed``, cancelled (or interrupted by a stopping server), else failed."""
        state, error = JobState.FAILED, None
        result: dict[str, Any] | None = None
        try:
            outcome, reason, result = work()
            if outcome == RunState.COMPLETED.value:
                state = JobState.SUCCEEDED
            elif outcome == RunState.CANCELLED.value:
                stopping = self._stopping.is_set()
                state = JobState.INTERRUPTED if stopping else JobState.CANCELLED
                error = f"server stopped during the {activity}" if stopping else "cancelled"
            else:
                error = reason
        except MarbleError as exc:
            error = str(exc)
        except Exception as exc:
            log.exception("job %s failed", job_id)
            error = f"{type(exc).__name__}: {exc}"
        final = self.service.jobs.finish(job_id, state, error, result)
        self._changed(final, "state")
        self._changed(final, TERMINAL_EVENT)

    # -- helpers ----------------------------------------------------------------------

    def _planned_epochs(self, payload: dict[str, Any]) -> int:
        brain = str(payload["brain"])
        if payload.get("resume"):
            return self.service.resumable_epochs(brain) or 0
        return int(payload.get("epochs") or self.service.brain_config(brain).learning.epochs)

    def _interrupt_leftovers(self) -> builtins.list[str]:
        ids = self.service.jobs.interrupt_leftovers()
        if ids:
            log.warning("marked %d unfinished job(s) interrupted: %s", len(ids), ", ".join(ids))
        return ids

    def _changed(self, view: JobView, kind: str) -> None:
        self.events.publish(view.id, JobEvent(kind, view.as_dict()))
        if kind == "state" and self._on_state is not None:
            self._on_state(view.state)
