"""MicroBatcher's lanes: who waits for a batch to fill, and who goes at once.

The forward pass is replaced by a gate the test opens, so what each batch
holds does not depend on how fast the machine is. Everything else (queue,
lane thread, answers handed back to the event loop) is the batcher's own.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from marble_graph.service import Inference
from marble_server.inference import MicroBatcher

pytestmark = pytest.mark.anyio

LONG_WAIT_MS = 60_000.0  # a batch that waited for this would time the test out


@dataclass
class _Model:
    """What the batcher reads of a serving model before the forward pass."""

    input_width: int = 2
    version: int = 1


class GatedBatcher(MicroBatcher):
    """Forward passes that start when the test says so and echo each row's first value."""

    def __init__(self, batch_wait_ms: float, max_batch_size: int = 64) -> None:
        super().__init__(
            models=None,  # type: ignore[arg-type]
            max_batch_size=max_batch_size,
            batch_wait_ms=batch_wait_ms,
        )
        self.batches: list[int] = []
        self.started = threading.Event()
        self.release = threading.Event()

    async def _model(self, brain: str) -> Any:
        return _Model()

    def _run(self, brain: str, batch: list[Any]) -> list[Inference]:
        self.batches.append(len(batch))
        self.started.set()
        assert self.release.wait(30), "the test never released the forward pass"
        return [Inference(1, r.rows[:, :1].copy(), None, None) for r in batch]


async def _started(batcher: GatedBatcher) -> None:
    assert await asyncio.to_thread(batcher.started.wait, 30)


async def test_requests_queued_during_a_forward_go_at_once_without_the_wait() -> None:
    batcher = GatedBatcher(batch_wait_ms=LONG_WAIT_MS)
    try:
        first = asyncio.ensure_future(batcher.infer("b", [[1.0, 0.0]]))
        await _started(batcher)  # a lone request: no wait, its forward is running
        queued = [asyncio.ensure_future(batcher.infer("b", [[v, 0.0]])) for v in (2.0, 3.0)]
        await asyncio.sleep(0.05)  # both are in the lane's queue behind the running pass
        batcher.release.set()
        answers = await asyncio.wait_for(asyncio.gather(first, *queued), timeout=20)
    finally:
        batcher.release.set()
        await batcher.close()
    assert batcher.batches == [1, 2]  # the backlog went as one batch, without waiting to fill
    assert [float(a.outputs[0, 0]) for a in answers] == [1.0, 2.0, 3.0]


async def test_requests_found_together_by_an_idle_lane_wait_for_the_batch_to_fill() -> None:
    batcher = GatedBatcher(batch_wait_ms=LONG_WAIT_MS, max_batch_size=3)
    batcher.release.set()
    try:
        await asyncio.wait_for(batcher.infer("b", [[9.0, 0.0]]), timeout=20)  # a lone one
        await asyncio.sleep(0.05)  # the lane is idle again, waiting for requests
        lane = batcher._lanes["b"]
        with lane._changed:  # the lane cannot look until both are queued
            together = [asyncio.ensure_future(batcher.infer("b", [[v, 0.0]])) for v in (0.0, 1.0)]
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.05)  # the lane holds those two and waits for a third
        later = asyncio.ensure_future(batcher.infer("b", [[2.0, 0.0]]))
        answers = await asyncio.wait_for(asyncio.gather(*together, later), timeout=20)
    finally:
        await batcher.close()
    assert batcher.batches == [1, 3]  # the lone request did not wait; the pair waited to fill
    assert [float(a.outputs[0, 0]) for a in answers] == [0.0, 1.0, 2.0]


async def test_a_failed_forward_fails_its_batch_and_the_lane_goes_on() -> None:
    batcher = GatedBatcher(batch_wait_ms=0.0)
    batcher.release.set()
    calls: list[int] = []
    answer = GatedBatcher._run

    def fail_once(brain: str, batch: list[Any]) -> list[Inference]:
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("the forward pass broke")
        return answer(batcher, brain, batch)

    batcher._run = fail_once  # type: ignore[method-assign]
    try:
        with pytest.raises(RuntimeError, match="the forward pass broke"):
            await asyncio.wait_for(batcher.infer("b", [[1.0, 0.0]]), timeout=20)
        later = await asyncio.wait_for(batcher.infer("b", np.array([[5.0, 0.0]])), timeout=20)
    finally:
        await batcher.close()
    assert float(later.outputs[0, 0]) == 5.0


async def test_close_cancels_requests_still_queued() -> None:
    batcher = GatedBatcher(batch_wait_ms=0.0)
    running = asyncio.ensure_future(batcher.infer("b", [[1.0, 0.0]]))
    await _started(batcher)
    queued = asyncio.ensure_future(batcher.infer("b", [[2.0, 0.0]]))
    await asyncio.sleep(0.05)
    closing = asyncio.ensure_future(batcher.close())
    await asyncio.sleep(0.05)
    batcher.release.set()
    await asyncio.wait_for(closing, timeout=20)
    with pytest.raises(asyncio.CancelledError):
        await queued
    running.cancel()
