"""A brain's graph, streamed as NDJSON: a header line, then one ``{"table", ...}`` row a line.

``GraphExport`` (and its async twin) is both a context manager that reads the
header first, and an iterator of rows that opens and closes the stream itself:

    with client.brains.graph("wave") as export:   # export.header is read
        for row in export: ...
    for row in client.brains.graph("wave"): ...    # header available after the first row
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from types import TracebackType
from typing import Self

import httpx

from marble_client._calls import aiter_lines, iter_lines, json_line
from marble_client._exceptions import MarbleError
from marble_client._models import GraphHeader, GraphRow

EMPTY = ""


def parse_header(line: str) -> GraphHeader:
    if line == EMPTY:
        raise MarbleError("graph export: the server sent no header line")
    return GraphHeader.model_validate(json_line(line))


def parse_row(line: str) -> GraphRow:
    values = json_line(line)
    table = values.pop("table", None)
    if not isinstance(table, str):
        raise MarbleError(f"graph export: row without a table: {line[:80]!r}")
    return GraphRow(table=table, values=values)


class GraphExport:
    """The rows of one graph export (see the module docstring for the two ways to read it)."""

    def __init__(self, open_stream: Callable[[], AbstractContextManager[httpx.Response]]) -> None:
        self._open_stream = open_stream
        self._stream: AbstractContextManager[httpx.Response] | None = None
        self._lines: Iterator[str] | None = None
        self._header: GraphHeader | None = None

    @property
    def header(self) -> GraphHeader:
        """The export's first line; read on entering the ``with`` block (or the first row)."""
        if self._header is None:
            raise RuntimeError("the header is read on entering `with` or at the first row")
        return self._header

    def __enter__(self) -> Self:
        stream = self._open_stream()
        response = stream.__enter__()
        self._stream = stream
        self._lines = _lines(response)
        try:
            self._header = parse_header(next(self._lines, EMPTY))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        stream, self._stream, self._lines = self._stream, None, None
        if stream is not None:
            stream.__exit__(exc_type, exc, traceback)

    def __iter__(self) -> Iterator[GraphRow]:
        if self._lines is not None:
            yield from (parse_row(line) for line in self._lines)
            return
        with self:
            yield from self


class AsyncGraphExport:
    """The async twin of ``GraphExport``: ``async with`` and ``async for``."""

    def __init__(
        self, open_stream: Callable[[], AbstractAsyncContextManager[httpx.Response]]
    ) -> None:
        self._open_stream = open_stream
        self._stream: AbstractAsyncContextManager[httpx.Response] | None = None
        self._lines: AsyncIterator[str] | None = None
        self._header: GraphHeader | None = None

    @property
    def header(self) -> GraphHeader:
        """The export's first line; read on entering ``async with`` (or the first row)."""
        if self._header is None:
            raise RuntimeError("the header is read on entering `async with` or at the first row")
        return self._header

    async def __aenter__(self) -> Self:
        stream = self._open_stream()
        response = await stream.__aenter__()
        self._stream = stream
        self._lines = _alines(response)
        try:
            self._header = parse_header(await anext(self._lines, EMPTY))
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        stream, self._stream, self._lines = self._stream, None, None
        if stream is not None:
            await stream.__aexit__(exc_type, exc, traceback)

    async def __aiter__(self) -> AsyncIterator[GraphRow]:
        if self._lines is not None:
            async for line in self._lines:
                yield parse_row(line)
            return
        async with self:
            async for row in self:
                yield row


def _lines(response: httpx.Response) -> Iterator[str]:
    return (line for line in iter_lines(response) if line.strip())


async def _alines(response: httpx.Response) -> AsyncIterator[str]:
    async for line in aiter_lines(response):
        if line.strip():
            yield line
