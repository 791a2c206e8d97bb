"""``AsyncMarbleClient``: the async twin of ``MarbleClient``, name for name."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self

import httpx

from marble_client import _calls as calls
from marble_client._calls import Call, Rows, parse, parse_list
from marble_client._config import DEFAULT_TIMEOUT, ClientConfig
from marble_client._datasets import AsyncDatasets
from marble_client._exceptions import error_from_response, transport_error
from marble_client._graph import AsyncGraphExport
from marble_client._jobs import AsyncJob
from marble_client._memories import AsyncMemories
from marble_client._models import (
    BackupSummary,
    Brain,
    BrainDetails,
    BrainVersion,
    CypherResult,
    Health,
    InferResult,
    JobEvent,
    JobRecord,
    NeuronActivations,
    Ready,
    RepairReport,
)
from marble_client._retry import RetryPolicy
from marble_client._sse import ajob_events
from marble_client._versions import AsyncVersions


class AsyncMarbleClient:
    """A MARBLE server's API: ``async with AsyncMarbleClient() as client: ...``.

    Arguments as for ``MarbleClient``; ``sleep`` is awaited between retries.
    """

    brains: AsyncBrains
    jobs: AsyncJobs
    datasets: AsyncDatasets
    versions: AsyncVersions
    memories: AsyncMemories

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        backoff_factor: float = 0.5,
        auto_idempotency_keys: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._config = ClientConfig.resolve(
            base_url, token, timeout, max_retries, backoff_factor, auto_idempotency_keys
        )
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=self._config.base_url,
            headers=self._config.headers(),
            timeout=self._config.timeout,
            transport=transport,
        )
        self.brains = AsyncBrains(self)
        self.jobs = AsyncJobs(self)
        self.datasets = AsyncDatasets(self)
        self.versions = AsyncVersions(self)
        self.memories = AsyncMemories(self)

    @property
    def base_url(self) -> str:
        return self._config.base_url

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<AsyncMarbleClient {self.base_url}>"

    # -- the API ----------------------------------------------------------------------

    async def health(self) -> Health:
        """``GET /health``: the process is up (no token needed)."""
        return parse(await self._send(calls.health()), Health)

    async def ready(self) -> Ready:
        """``GET /ready``: both stores are open and answer (no token needed)."""
        return parse(await self._send(calls.ready()), Ready)

    async def infer(
        self,
        brain: str,
        inputs: Rows | None = None,
        *,
        objects: Sequence[Any] | None = None,
        version: int | str | None = None,
    ) -> InferResult:
        """Outputs of ``brain`` for one input row or a batch of rows (retried: it only reads).

        ``objects`` instead of ``inputs``: raw values for a brain trained on a stored
        dataset, with the outputs ``decoded`` (see ``MarbleClient.infer``). ``version``: a
        number or a tag, served while the server's retention keeps it.
        """
        call = calls.infer(brain, inputs, version, objects)
        return parse(await self._send(call), InferResult)

    async def activations(
        self,
        name: str,
        inputs: Sequence[float] | None = None,
        *,
        obj: Any = None,
        version: int | str | None = None,
    ) -> NeuronActivations:
        """Every neuron's final state for one input row (or one raw object, ``obj``), with
        the neuron ids, kinds and the outputs, from the brain's current version or exactly
        ``version`` (a number or a tag; infer scope; retried: it only reads)."""
        return parse(
            await self._send(calls.activations(name, inputs, obj, version)), NeuronActivations
        )

    async def train(
        self,
        brain: str,
        dataset: str,
        *,
        epochs: int | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncJob:
        """Queue a training job on ``brain``; follow it with the handle.

        ``dataset`` is a built-in dataset or a stored one: ``"name"`` (its latest version,
        pinned when the job is queued), ``"name@3"`` or ``"name@tag"``.
        """
        response = await self._send(calls.train(brain, dataset, epochs, idempotency_key))
        return AsyncJob(self.jobs, parse(response, JobRecord), self._sleep)

    async def dream(
        self,
        brain: str,
        *,
        cycles: int | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncJob:
        """Queue a dream on ``brain``: ``cycles`` replay steps (1..100000; default the
        brain's ``dreams.cycles``) of its recorded experiences, then a new version. Follow
        it with the handle; each cycle is a progress event. ``Conflict`` when the brain
        recorded no experiences."""
        response = await self._send(calls.dream(brain, cycles, idempotency_key))
        return AsyncJob(self.jobs, parse(response, JobRecord), self._sleep)

    async def backup(
        self,
        destination: str,
        *,
        timeout: float | None = None,
        idempotency_key: str | None = None,
    ) -> BackupSummary:
        """``POST /admin/backup``: copy the server's data home to ``backups/<destination>``.

        ``destination`` is a name, not a path; an existing name raises ``Conflict``. Needs
        an admin token that may use every brain. ``timeout`` (seconds) overrides the
        client's for this call: a large home takes a while to copy.
        """
        call = calls.backup(destination, idempotency_key)
        wait = httpx.Timeout(timeout) if timeout is not None else None
        return parse(await self._send(call, timeout=wait), BackupSummary)

    async def graphql(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        operation_name: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """The ``data`` of a GraphQL document; the first error raised as its exception.

        Queries are retried like reads; a document with a mutation only with a key.
        """
        call = calls.graphql(query, variables, operation_name, idempotency_key)
        return calls.graphql_data(await self._send(call, accept_errors=True))

    async def cypher(
        self, brain: str, query: str, params: Mapping[str, Any] | None = None
    ) -> CypherResult:
        """A read-only Cypher query; ``$brain``, ``$lo``, ``$hi`` are bound by the server."""
        response = await self._send(calls.cypher(brain, query, params), accept_errors=True)
        data = calls.graphql_data(response)
        return calls.cypher_result(data)

    # -- sending ----------------------------------------------------------------------

    async def _send(
        self,
        call: Call,
        *,
        stream: bool = False,
        timeout: httpx.Timeout | None = None,
        accept_errors: bool = False,
    ) -> httpx.Response:
        """Send ``call`` under the retry policy; a failed answer raises its ``MarbleError``.

        ``accept_errors`` returns 4xx answers (GraphQL errors are parsed from the body).
        """
        key = call.key_to_send(self._config.auto_idempotency_keys)
        retryable = call.idempotent or key is not None
        attempt = 0
        while True:
            request = call.request(self._http, key, timeout)
            try:
                response = await self._http.send(request, stream=stream)
            except httpx.TransportError as error:
                delay = self._config.retry.delay(attempt, retryable=retryable, error=error)
                if delay is None:
                    raise transport_error(error) from error
            else:
                status = response.status_code
                if response.is_success or (accept_errors and status < 500):
                    return response
                delay = self._config.retry.delay(attempt, retryable=retryable, status=status)
                if delay is None:
                    try:
                        await response.aread()
                        raise error_from_response(response)
                    finally:
                        await response.aclose()
                await response.aclose()
            await self._sleep(delay)
            attempt += 1

    @asynccontextmanager
    async def _stream(
        self, call: Call, timeout: httpx.Timeout | None = None
    ) -> AsyncIterator[httpx.Response]:
        response = await self._send(call, stream=True, timeout=timeout)
        try:
            yield response
        finally:
            await response.aclose()


class AsyncBrains:
    """``client.brains``: create, list, get, delete brains; their versions and graphs."""

    def __init__(self, client: AsyncMarbleClient) -> None:
        self._client = client

    async def create(
        self,
        name: str,
        *,
        dataset: str | None = None,
        seed: int | None = None,
        idempotency_key: str | None = None,
    ) -> BrainDetails:
        """Seed a new brain, sized for ``dataset`` and from its preset when given."""
        call = calls.create_brain(name, dataset, seed, idempotency_key)
        return parse(await self._client._send(call), BrainDetails)

    async def list(self) -> builtins.list[Brain]:
        """Every committed brain, by name."""
        return parse_list(await self._client._send(calls.list_brains()), Brain)

    async def get(self, name: str) -> BrainDetails:
        return parse(await self._client._send(calls.get_brain(name)), BrainDetails)

    async def repair(self, name: str, *, idempotency_key: str | None = None) -> RepairReport:
        """Rebuild a damaged brain's current version from its snapshot (admin scope).

        A no-op on an intact brain (``repaired`` is False). ``Brain.damage`` says when a
        brain needs it; until then training and inference on it raise ``Conflict``.
        """
        response = await self._client._send(calls.repair_brain(name, idempotency_key))
        return parse(response, RepairReport)

    async def delete(self, name: str) -> None:
        """Delete a brain and its versions (refused while it trains).

        Retried like every DELETE: when a first attempt's answer is lost, the retry may
        raise ``NotFound`` although the brain was deleted.
        """
        response = await self._client._send(calls.delete_brain(name))
        await response.aclose()

    async def versions(self, name: str) -> builtins.list[BrainVersion]:
        """Every version of the brain, oldest first."""
        response = await self._client._send(calls.brain_versions(name))
        return parse_list(response, BrainVersion)

    def graph(
        self,
        name: str,
        *,
        tables: Sequence[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> AsyncGraphExport:
        """The current version's graph, streamed: ``async with`` it for the header, then
        ``async for`` the rows (or ``async for`` it directly).

        ``tables`` picks tables (neurons, synapses, lobes...); ``offset``/``limit`` page
        through each table.
        """
        call = calls.export_graph(name, tables, offset, limit)
        return AsyncGraphExport(lambda: self._client._stream(call))


class AsyncJobs:
    """``client.jobs``: list, get, follow, cancel and resume jobs; stream their events."""

    def __init__(self, client: AsyncMarbleClient) -> None:
        self._client = client

    async def list(
        self, *, brain: str | None = None, state: str | None = None, limit: int | None = None
    ) -> builtins.list[JobRecord]:
        """Jobs, newest first; of one brain, in one state (queued, running, succeeded...)."""
        response = await self._client._send(calls.list_jobs(brain, state, limit))
        return parse_list(response, JobRecord)

    async def get(self, job_id: str) -> JobRecord:
        return parse(await self._client._send(calls.get_job(job_id)), JobRecord)

    async def follow(self, job_id: str) -> AsyncJob:
        """A handle on an existing job (to wait for it, stream it, cancel it)."""
        return AsyncJob(self, await self.get(job_id), self._client._sleep)

    async def cancel(self, job_id: str, *, idempotency_key: str | None = None) -> JobRecord:
        """Cancel now if queued, else at the next training step (no partial version)."""
        response = await self._client._send(calls.cancel_job(job_id, idempotency_key))
        return parse(response, JobRecord)

    async def resume(self, job_id: str, *, idempotency_key: str | None = None) -> AsyncJob:
        """A new job continuing an interrupted or cancelled one from its last checkpoint."""
        response = await self._client._send(calls.resume_job(job_id, idempotency_key))
        return AsyncJob(self, parse(response, JobRecord), self._client._sleep)

    def events(self, job_id: str) -> AsyncIterator[JobEvent]:
        """Server-sent events of the job: its state now, each change, ``end`` last."""
        return self._stream_events(job_id)

    async def _stream_events(
        self, job_id: str, timeout: httpx.Timeout | None = None
    ) -> AsyncGenerator[JobEvent, None]:
        async with self._client._stream(calls.job_events(job_id), timeout) as response:
            async for event in ajob_events(calls.aiter_lines(response)):
                yield event

    @property
    def _retry(self) -> RetryPolicy:
        return self._client._config.retry

    @property
    def _timeout(self) -> httpx.Timeout:
        return self._client._config.timeout
