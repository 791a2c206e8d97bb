"""Job events fan-out: worker threads publish, async subscribers (SSE, GraphQL) receive.

Each subscriber owns an ``asyncio.Queue`` bound to its event loop; a publish
from a worker thread hands the event to that loop with
``call_soon_threadsafe``, so neither side blocks the other.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

TERMINAL_EVENT = "end"


@dataclass(frozen=True)
class JobEvent:
    """``state`` when the job changes state, ``progress`` after an epoch, ``end`` last."""

    kind: str
    job: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"event": self.kind, "job": self.job, "metrics": self.metrics}


@dataclass
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[JobEvent]


class EventHub:
    """Subscribers per job id; safe to publish from any thread."""

    def __init__(self) -> None:
        self._subscribers: dict[str, list[_Subscriber]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, job_id: str) -> _Subscriber:
        subscriber = _Subscriber(asyncio.get_running_loop(), asyncio.Queue())
        with self._lock:
            self._subscribers[job_id].append(subscriber)
        return subscriber

    def unsubscribe(self, job_id: str, subscriber: _Subscriber) -> None:
        with self._lock:
            listeners = self._subscribers.get(job_id, [])
            if subscriber in listeners:
                listeners.remove(subscriber)
            if not listeners:
                self._subscribers.pop(job_id, None)

    def publish(self, job_id: str, event: JobEvent) -> None:
        with self._lock:
            listeners = list(self._subscribers.get(job_id, []))
        for listener in listeners:
            try:
                listener.loop.call_soon_threadsafe(listener.queue.put_nowait, event)
            except RuntimeError:  # that subscriber's loop has closed; it is gone
                self.unsubscribe(job_id, listener)
