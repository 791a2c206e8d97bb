"""Micro-batched inference: concurrent requests for one brain share a forward pass.

Each brain has a lane: a queue and one thread that runs the brain's forward
passes, one at a time. The thread takes the first waiting request and adds
every request already queued. When it found the queue empty and then several
requests came together, it also waits up to ``batch_wait_ms`` for the batch
to fill to ``max_batch_size``. A lone request never waits, so a sequential
client pays no batching delay. Requests that arrive during a forward pass
form the next batch, which is where the throughput comes from.

The thread, not the event loop, picks up the next batch, and at once: those
requests have already waited out a whole forward pass. With the batching
loop on the event loop (an asyncio task awaiting each pass), the next pass
started only when the loop came back to that task, after it had answered
the previous batch (serialising, encoding and sending each response): with
64 concurrent clients on 2 cores the forward thread then sat idle between
passes for about as long as it computed. Answers go back to the event loop
in one callback per batch.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from marble_graph.datasets import check_features
from marble_graph.errors import ValidationFailed
from marble_graph.service import Inference, ModelCache, ServingModel, VersionRef

log = logging.getLogger(__name__)

_CLOSE_TIMEOUT_S = 10.0  # how long close() waits for a forward pass in progress


@dataclass
class _Request:
    rows: np.ndarray  # [b, I] float32, already checked
    future: asyncio.Future[Inference]


class MicroBatcher:
    """Answers ``infer`` calls from each brain's current committed version, in batches."""

    def __init__(
        self,
        models: ModelCache,
        max_batch_size: int = 64,
        batch_wait_ms: float = 2.0,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.models = models
        self.max_batch_size = max_batch_size
        self.batch_wait_s = batch_wait_ms / 1000.0
        self._on_batch = on_batch
        self._lanes: dict[str, _Lane] = {}
        # Model loads and pinned-version answers: rare, so a plain executor per brain.
        self._executors: dict[str, ThreadPoolExecutor] = {}

    async def infer(
        self,
        brain: str,
        rows: Sequence[Sequence[float]] | np.ndarray,
        version: VersionRef | None = None,
    ) -> Inference:
        """Outputs for ``rows`` [b, I]; ``version`` (a number or a tag) pins an exact
        retained version, else the current one answers.

        The brain is looked up before the rows are checked, so an unknown brain is a
        404 whatever the rows look like.
        """
        model = await self._model(brain)
        if version is not None and version != model.version:
            return await self._pinned(brain, version, feature_rows(rows))
        checked = check_features(feature_rows(rows), model.input_width)
        request = _Request(checked, asyncio.get_running_loop().create_future())
        self._lane(brain).put(request)
        return await request.future

    async def close(self) -> None:
        lanes = list(self._lanes.values())
        for lane in lanes:
            lane.close()
        await asyncio.gather(*(asyncio.to_thread(lane.join) for lane in lanes))
        for executor in self._executors.values():
            executor.shutdown(wait=False, cancel_futures=True)
        self._lanes.clear()
        self._executors.clear()

    # -- internals --------------------------------------------------------------------

    async def _model(self, brain: str) -> ServingModel:
        cached = self.models.cached(brain)
        if cached is not None:
            return cached
        return await asyncio.get_running_loop().run_in_executor(
            self._executor(brain), self.models.get, brain
        )

    async def _pinned(self, brain: str, version: VersionRef, rows: np.ndarray) -> Inference:
        """An answer from a version other than the current one: rare, so not batched. The
        model is loaded (from its snapshot) on the brain's load thread, and its forward
        pass runs under the lane's lock, one pass of the brain at a time."""
        loop = asyncio.get_running_loop()
        model = await loop.run_in_executor(self._executor(brain), self.models.get, brain, version)
        checked = check_features(rows, model.input_width)
        lane = self._lane(brain)
        return await loop.run_in_executor(self._executor(brain), lane.predict, model, checked)

    def _lane(self, brain: str) -> _Lane:
        lane = self._lanes.get(brain)
        if lane is None:
            lane = self._lanes[brain] = _Lane(brain, self, asyncio.get_running_loop())
        return lane

    def _executor(self, brain: str) -> ThreadPoolExecutor:
        executor = self._executors.get(brain)
        if executor is None:
            executor = self._executors[brain] = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"marble-load-{brain}"
            )
        return executor

    def _run(self, brain: str, batch: list[_Request]) -> list[Inference]:
        """One forward pass over the batch's rows, split back per request (lane thread)."""
        model = self.models.get(brain)  # the current committed version, reloaded if it moved
        if self._on_batch is not None:
            self._on_batch(len(batch))
        rows = np.concatenate([r.rows for r in batch]) if len(batch) > 1 else batch[0].rows
        answer = self._lanes[brain].predict(model, rows)
        bounds = np.cumsum([0] + [len(r.rows) for r in batch])
        return [_slice(answer, int(lo), int(hi)) for lo, hi in itertools.pairwise(bounds)]


class _Lane:
    """One brain's request queue and the thread that answers it in batches."""

    def __init__(self, brain: str, batcher: MicroBatcher, loop: asyncio.AbstractEventLoop) -> None:
        self.brain = brain
        self.batcher = batcher
        self.loop = loop
        self._pending: deque[_Request] = deque()
        self._changed = threading.Condition()
        self._closed = False
        # Forward passes of one model one at a time, also for pinned-version answers.
        self._forward = threading.Lock()
        self._thread = threading.Thread(
            target=self._work, name=f"marble-infer-{brain}", daemon=True
        )
        self._thread.start()

    def put(self, request: _Request) -> None:
        with self._changed:
            self._pending.append(request)
            self._changed.notify()

    def predict(self, model: ServingModel, rows: np.ndarray) -> Inference:
        with self._forward:
            return model.predict_checked(rows)

    def close(self) -> None:
        """Stop taking batches; requests still queued are cancelled (event-loop thread)."""
        with self._changed:
            self._closed = True
            waiting = list(self._pending)
            self._pending.clear()
            self._changed.notify()
        for request in waiting:
            request.future.cancel()

    def join(self) -> None:
        self._thread.join(_CLOSE_TIMEOUT_S)

    def _work(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            # A caller that went away (cancelled future) needs no rows computed. Reading
            # done() from this thread races only with a cancellation, which _deliver
            # checks again on the loop.
            batch = [r for r in batch if not r.future.done()]
            if not batch:
                continue
            try:
                answers: list[Inference] | BaseException = self.batcher._run(self.brain, batch)
            except Exception as exc:
                answers = exc
            try:
                self.loop.call_soon_threadsafe(_deliver, batch, answers)
            except RuntimeError:  # the event loop is closed: nobody is waiting any more
                return

    def _next_batch(self) -> list[_Request] | None:
        """The next batch to run (see the module doc); None once the lane is closed."""
        limit = self.batcher.max_batch_size
        with self._changed:
            backlog = bool(self._pending)  # these requests queued up during the last pass
            while not self._pending and not self._closed:
                self._changed.wait()
            if self._closed:
                return None
            batch = self._take(limit)
            wait = self.batcher.batch_wait_s
            if len(batch) > 1 and wait > 0 and not backlog:
                deadline = time.perf_counter() + wait
                while len(batch) < limit and not self._closed:
                    remaining = deadline - time.perf_counter()
                    if remaining <= 0:
                        break
                    if not self._pending:
                        self._changed.wait(remaining)
                    batch.extend(self._take(limit - len(batch)))
            return batch

    def _take(self, count: int) -> list[_Request]:
        taken: list[_Request] = []
        while self._pending and len(taken) < count:
            taken.append(self._pending.popleft())
        return taken


def _deliver(batch: list[_Request], answers: list[Inference] | BaseException) -> None:
    """Hand a batch's answers (or its error) to its callers (event-loop thread)."""
    for index, request in enumerate(batch):
        if request.future.done():
            continue
        if isinstance(answers, BaseException):
            request.future.set_exception(answers)
        else:
            request.future.set_result(answers[index])


def feature_rows(inputs: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """``inputs`` as a float32 ``[rows, width]`` array; rows of different widths are refused.

    REST and GraphQL inference both come through here (via ``MicroBatcher.infer``),
    so a ragged batch is the same ``ValidationFailed`` on both APIs, naming the row.
    """
    if isinstance(inputs, np.ndarray):
        return inputs
    if not inputs:
        return np.zeros((0, 0), np.float32)
    first = len(inputs[0])
    for index, row in enumerate(inputs):
        if len(row) != first:
            raise ValidationFailed(
                f"inputs: row {index} has {len(row)} values, row 0 has {first}; "
                "every row must be as wide as the brain's inputs"
            )
    return np.asarray(inputs, np.float32)


def _slice(answer: Inference, lo: int, hi: int) -> Inference:
    return Inference(
        version=answer.version,
        outputs=answer.outputs[lo:hi],
        labels=answer.labels[lo:hi] if answer.labels is not None else None,
        probabilities=answer.probabilities[lo:hi] if answer.probabilities is not None else None,
    )
