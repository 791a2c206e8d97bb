"""Job handles: follow a training job's events, wait for it with a progress bar, cancel it.

``wait()`` returns the final ``JobRecord`` when the job succeeded and raises
``JobFailed`` (carrying that record) when it ended failed, cancelled or interrupted,
so a script that reaches the next line knows the new version exists. It follows the
job's event stream; when the stream drops before the job ends, it reconnects (the
server starts each stream with the job's current state) under the client's retry
policy, counting only drops without progress in between.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import aclosing, closing
from typing import TYPE_CHECKING

import httpx

from marble_client._exceptions import JobFailed, JobTimeout, TransportError
from marble_client._models import JobEvent, JobRecord
from marble_client._progress import ProgressBar
from marble_client._retry import RetryPolicy
from marble_client._sse import END_EVENT

if TYPE_CHECKING:
    from marble_client._async_client import AsyncJobs
    from marble_client._client import Jobs


class JobWatch:
    """What waiting on one job has seen: its latest record, the bar, the deadline, drops."""

    def __init__(
        self,
        record: JobRecord,
        retry: RetryPolicy,
        *,
        progress: bool,
        timeout: float | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.record = record
        self.retry = retry
        self.bar = ProgressBar() if progress else None
        self.timeout = timeout
        self.clock = clock
        self.deadline = clock() + timeout if timeout is not None else None
        self.drops = 0
        self.events_this_stream = 0

    def connected(self) -> None:
        self.events_this_stream = 0

    def see(self, event: JobEvent) -> bool:
        """Take one event; True when it is the last (``end``)."""
        self.record = event.job
        self.events_this_stream += 1
        if event.event == "progress":
            self.drops = 0  # the job moved: a later drop starts a fresh count
        if self.bar is not None:
            self.bar.update(event)
        if event.event == END_EVENT:
            return True
        self.check_deadline()
        return False

    def check_deadline(self) -> None:
        if self.deadline is not None and self.clock() >= self.deadline:
            raise JobTimeout(self.record, self.timeout or 0.0)

    def stream_timeout(self, default: httpx.Timeout) -> httpx.Timeout | None:
        """Reads of the event stream give up at the deadline (a keepalive comes every 15 s)."""
        if self.deadline is None:
            return None
        remaining = max(0.001, self.deadline - self.clock())
        read = remaining if default.read is None else min(default.read, remaining)
        return httpx.Timeout(
            connect=default.connect, read=read, write=default.write, pool=default.pool
        )

    def dropped(self, error: TransportError | None) -> float:
        """Seconds to wait before reconnecting after the stream ended early; raises when spent."""
        self.check_deadline()
        if error is not None and self.events_this_stream == 0:
            raise error  # it never connected: the request's own retries are already spent
        delay = self.retry.delay(self.drops, retryable=True)
        if delay is None:
            detail = f"the event stream of job {self.record.id} ended before the job did"
            raise error or TransportError(f"{detail} ({self.drops + 1} times)")
        self.drops += 1
        return delay

    def result(self) -> JobRecord:
        if not self.record.succeeded:
            raise JobFailed(self.record)
        return self.record

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Job:
    """A handle on one job: ``wait()``, ``events()``, ``cancel()``, ``resume()``."""

    def __init__(self, jobs: Jobs, record: JobRecord, sleep: Callable[[float], None]) -> None:
        self._jobs = jobs
        self._sleep = sleep
        self.record = record

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def state(self) -> str:
        """The state last seen (``refresh()`` asks the server)."""
        return self.record.state

    def refresh(self) -> JobRecord:
        """The job as the server has it now."""
        self.record = self._jobs.get(self.id)
        return self.record

    def events(self) -> Iterator[JobEvent]:
        """The job's events: its current state first, then each change, ending with ``end``."""
        for event in self._jobs.events(self.id):
            self.record = event.job
            yield event

    def wait(self, *, progress: bool = False, timeout: float | None = None) -> JobRecord:
        """Block until the job ends; see the module docstring for what it returns and raises.

        ``progress=True`` draws a progress bar on stderr; ``timeout`` (seconds) raises
        ``JobTimeout`` when the job is still running then (the job keeps running).
        """
        watch = JobWatch(self.record, self._jobs._retry, progress=progress, timeout=timeout)
        timeouts = self._jobs._timeout
        try:
            while True:
                error: TransportError | None = None
                watch.connected()
                try:
                    events = self._jobs._stream_events(self.id, watch.stream_timeout(timeouts))
                    with closing(events):
                        for event in events:
                            if watch.see(event):
                                return watch.result()
                except TransportError as dropped:
                    error = dropped
                self._sleep(watch.dropped(error))
        finally:
            self.record = watch.record
            watch.close()

    def cancel(self, *, idempotency_key: str | None = None) -> JobRecord:
        """Cancel now if queued, else at the next training step (no partial version)."""
        self.record = self._jobs.cancel(self.id, idempotency_key=idempotency_key)
        return self.record

    def resume(self, *, idempotency_key: str | None = None) -> Job:
        """A new job continuing this interrupted or cancelled one from its last checkpoint."""
        return self._jobs.resume(self.id, idempotency_key=idempotency_key)

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.state} {self.record.progress:.0%}>"


class AsyncJob:
    """The async twin of ``Job``: ``await job.wait()``, ``async for event in job.events()``."""

    def __init__(
        self, jobs: AsyncJobs, record: JobRecord, sleep: Callable[[float], Awaitable[None]]
    ) -> None:
        self._jobs = jobs
        self._sleep = sleep
        self.record = record

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def state(self) -> str:
        """The state last seen (``refresh()`` asks the server)."""
        return self.record.state

    async def refresh(self) -> JobRecord:
        """The job as the server has it now."""
        self.record = await self._jobs.get(self.id)
        return self.record

    async def events(self) -> AsyncIterator[JobEvent]:
        """The job's events: its current state first, then each change, ending with ``end``.

        Leaving the loop early closes the stream when the generator is collected; wrap it
        in ``contextlib.aclosing`` to close it at once.
        """
        async for event in self._jobs.events(self.id):
            self.record = event.job
            yield event

    async def wait(self, *, progress: bool = False, timeout: float | None = None) -> JobRecord:
        """Wait until the job ends; see the module docstring for what it returns and raises.

        ``progress=True`` draws a progress bar on stderr; ``timeout`` (seconds) raises
        ``JobTimeout`` when the job is still running then (the job keeps running).
        """
        watch = JobWatch(self.record, self._jobs._retry, progress=progress, timeout=timeout)
        try:
            async with asyncio.timeout(timeout):
                return await self._follow(watch)
        except JobTimeout:
            raise
        except TimeoutError as expired:
            raise JobTimeout(watch.record, timeout or 0.0) from expired
        finally:
            self.record = watch.record
            watch.close()

    async def _follow(self, watch: JobWatch) -> JobRecord:
        timeouts = self._jobs._timeout
        while True:
            error: TransportError | None = None
            watch.connected()
            try:
                events = self._jobs._stream_events(self.id, watch.stream_timeout(timeouts))
                async with aclosing(events):
                    async for event in events:
                        if watch.see(event):
                            return watch.result()
            except TransportError as dropped:
                error = dropped
            await self._sleep(watch.dropped(error))

    async def cancel(self, *, idempotency_key: str | None = None) -> JobRecord:
        """Cancel now if queued, else at the next training step (no partial version)."""
        self.record = await self._jobs.cancel(self.id, idempotency_key=idempotency_key)
        return self.record

    async def resume(self, *, idempotency_key: str | None = None) -> AsyncJob:
        """A new job continuing this interrupted or cancelled one from its last checkpoint."""
        return await self._jobs.resume(self.id, idempotency_key=idempotency_key)

    def __repr__(self) -> str:
        return f"<AsyncJob {self.id} {self.state} {self.record.progress:.0%}>"
