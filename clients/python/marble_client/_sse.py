"""Server-sent events: a line decoder (the WHATWG event-stream rules) and job events.

The server sends ``event: state|progress|end`` and ``data: {json}`` blocks ended by a
blank line, and ``: keepalive`` comments on a quiet stream; the decoder is fed lines
one at a time, so the sync and async clients share it.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass

from marble_client._models import JobEvent

END_EVENT = "end"


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Turns event-stream lines (without their line endings) into events."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._retry: int | None = None

    def decode(self, line: str) -> ServerSentEvent | None:
        """Feed one line; a blank line completes the event collected so far, if any."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):  # a comment: keepalives
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data:
            self._event = ""
            return None
        event = ServerSentEvent(
            event=self._event or "message",
            data="\n".join(self._data),
            id=self._id,
            retry=self._retry,
        )
        self._event, self._data = "", []
        return event


def job_event(sse: ServerSentEvent) -> JobEvent:
    """A job event from its server-sent event (the ``data`` is the whole event as JSON)."""
    return JobEvent.model_validate_json(sse.data)


def job_events(lines: Iterable[str]) -> Iterator[JobEvent]:
    """The job events of an event stream's lines, ending after ``end``."""
    decoder = SSEDecoder()
    for line in lines:
        sse = decoder.decode(line)
        if sse is not None:
            event = job_event(sse)
            yield event
            if event.event == END_EVENT:
                return


async def ajob_events(lines: AsyncIterable[str]) -> AsyncIterator[JobEvent]:
    """The async twin of ``job_events``."""
    decoder = SSEDecoder()
    async for line in lines:
        sse = decoder.decode(line)
        if sse is not None:
            event = job_event(sse)
            yield event
            if event.event == END_EVENT:
                return
