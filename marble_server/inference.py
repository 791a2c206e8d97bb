"""Micro-batched inference: concurrent requests for one brain share a forward pass.

Each brain has a queue and one batching task. The task takes the first
waiting request, adds every request already queued, and, when others are
arriving (more than one was waiting), waits up to ``batch_wait_ms`` for the
batch to fill to ``max_batch_size``. A lone request never waits, so a
sequential client pays no batching delay. Forward passes of one brain run
one at a time on a dedicated thread; requests that arrive meanwhile form the
next batch, which is where the throughput comes from.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from marble_graph.datasets import check_features
from marble_graph.errors import NotFound, ValidationFailed
from marble_graph.serving import Inference, ModelCache, ServingModel

log = logging.getLogger(__name__)


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
        self._queues: dict[str, asyncio.Queue[_Request]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._executors: dict[str, ThreadPoolExecutor] = {}

    async def infer(
        self, brain: str, rows: Sequence[Sequence[float]] | np.ndarray, version: int | None = None
    ) -> Inference:
        """Outputs for ``rows`` [b, I]; ``version`` pins an exact version (else the current).

        The brain is looked up before the rows are checked, so an unknown brain is a
        404 whatever the rows look like.
        """
        model = await self._model(brain)
        checked = check_features(feature_rows(rows), model.input_width)
        if version is not None and version != model.version:
            return await self._pinned(brain, version, checked)
        request = _Request(checked, asyncio.get_running_loop().create_future())
        self._queue(brain).put_nowait(request)
        return await request.future

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        for executor in self._executors.values():
            executor.shutdown(wait=False, cancel_futures=True)
        self._tasks.clear()
        self._queues.clear()
        self._executors.clear()

    # -- internals --------------------------------------------------------------------

    async def _model(self, brain: str) -> ServingModel:
        cached = self.models.cached(brain)
        if cached is not None:
            return cached
        return await asyncio.get_running_loop().run_in_executor(
            self._executor(brain), self.models.get, brain
        )

    async def _pinned(self, brain: str, version: int, rows: np.ndarray) -> Inference:
        current = await asyncio.get_running_loop().run_in_executor(
            self._executor(brain), self.models.get, brain
        )
        if current.version != version:
            raise NotFound(
                f"version {version} of brain {brain!r} cannot be served: only the current "
                f"version ({current.version}) is kept in the graph store"
            )
        return await asyncio.get_running_loop().run_in_executor(
            self._executor(brain), current.predict, rows
        )

    def _queue(self, brain: str) -> asyncio.Queue[_Request]:
        queue = self._queues.get(brain)
        if queue is None:
            queue = self._queues[brain] = asyncio.Queue()
            self._tasks[brain] = asyncio.create_task(self._serve(brain, queue))
        return queue

    def _executor(self, brain: str) -> ThreadPoolExecutor:
        executor = self._executors.get(brain)
        if executor is None:
            executor = self._executors[brain] = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"marble-infer-{brain}"
            )
        return executor

    async def _serve(self, brain: str, queue: asyncio.Queue[_Request]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            while len(batch) < self.max_batch_size and not queue.empty():
                batch.append(queue.get_nowait())
            if len(batch) > 1 and self.batch_wait_s > 0:
                deadline = time.perf_counter() + self.batch_wait_s
                while len(batch) < self.max_batch_size:
                    remaining = deadline - time.perf_counter()
                    if remaining <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(queue.get(), remaining))
                    except TimeoutError:
                        break
            live = [r for r in batch if not r.future.done()]  # drop callers that went away
            if not live:
                continue
            try:
                result = await loop.run_in_executor(self._executor(brain), self._run, brain, live)
            except Exception as exc:
                for request in live:
                    if not request.future.done():
                        request.future.set_exception(exc)
                continue
            for request, answer in zip(live, result, strict=True):
                if not request.future.done():
                    request.future.set_result(answer)

    def _run(self, brain: str, batch: list[_Request]) -> list[Inference]:
        """One forward pass over the batch's rows, split back per request (brain's thread)."""
        model = self.models.get(brain)  # the current committed version, reloaded if it moved
        if self._on_batch is not None:
            self._on_batch(len(batch))
        rows = np.concatenate([r.rows for r in batch]) if len(batch) > 1 else batch[0].rows
        answer = model.predict(rows)
        bounds = np.cumsum([0] + [len(r.rows) for r in batch])
        return [_slice(answer, int(lo), int(hi)) for lo, hi in itertools.pairwise(bounds)]


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
