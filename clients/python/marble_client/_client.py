"""``MarbleClient``: the REST and GraphQL API of a MARBLE server, synchronously."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

import httpx

from marble_client import _calls as calls
from marble_client._calls import Call, Rows, parse, parse_list
from marble_client._config import DEFAULT_TIMEOUT, ClientConfig
from marble_client._datasets import Datasets
from marble_client._exceptions import error_from_response, transport_error
from marble_client._graph import GraphExport
from marble_client._jobs import Job
from marble_client._memories import Memories
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
from marble_client._sse import job_events
from marble_client._versions import Versions


class MarbleClient:
    """A MARBLE server's API: ``with MarbleClient() as client: client.brains.list()``.

    ``base_url`` and ``token`` default to ``MARBLE_URL`` and ``MARBLE_TOKEN``. Idempotent
    calls are retried on connection errors and 502/503/504, ``max_retries`` times with
    waits of ``backoff_factor * 2**n`` seconds; other POSTs only with an idempotency key
    (``idempotency_key=`` per call, or ``auto_idempotency_keys=True`` for all of them).
    ``transport`` replaces the network (tests pass an in-process app or a mock);
    ``sleep`` is how the client waits between retries.
    """

    brains: Brains
    jobs: Jobs
    datasets: Datasets
    versions: Versions
    memories: Memories

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        backoff_factor: float = 0.5,
        auto_idempotency_keys: bool = False,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._config = ClientConfig.resolve(
            base_url, token, timeout, max_retries, backoff_factor, auto_idempotency_keys
        )
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self._config.base_url,
            headers=self._config.headers(),
            timeout=self._config.timeout,
            transport=transport,
        )
        self.brains = Brains(self)
        self.jobs = Jobs(self)
        self.datasets = Datasets(self)
        self.versions = Versions(self)
        self.memories = Memories(self)

    @property
    def base_url(self) -> str:
        return self._config.base_url

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<MarbleClient {self.base_url}>"

    # -- the API ----------------------------------------------------------------------

    def health(self) -> Health:
        """``GET /health``: the process is up (no token needed)."""
        return parse(self._send(calls.health()), Health)

    def ready(self) -> Ready:
        """``GET /ready``: both stores are open and answer (no token needed)."""
        return parse(self._send(calls.ready()), Ready)

    def infer(
        self,
        brain: str,
        inputs: Rows | None = None,
        *,
        objects: Sequence[Any] | None = None,
        version: int | str | None = None,
    ) -> InferResult:
        """Outputs of ``brain`` for one input row or a batch of rows (retried: it only reads).

        ``objects`` instead of ``inputs``: raw values for a brain trained on a stored dataset
        (a list of values, or of ``{column: value}`` mappings; bytes as they are), encoded
        as its training data was; ``decoded`` then holds the outputs decoded. ``version``
        (a number or a tag) asks for exactly that version, while the server's retention
        keeps it.
        """
        return parse(self._send(calls.infer(brain, inputs, version, objects)), InferResult)

    def activations(
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
        return parse(self._send(calls.activations(name, inputs, obj, version)), NeuronActivations)

    def train(
        self,
        brain: str,
        dataset: str,
        *,
        epochs: int | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Queue a training job on ``brain``; follow it with the handle.

        ``dataset`` is a built-in dataset or a stored one: ``"name"`` (its latest version,
        pinned when the job is queued), ``"name@3"`` or ``"name@tag"``.
        """
        response = self._send(calls.train(brain, dataset, epochs, idempotency_key))
        return Job(self.jobs, parse(response, JobRecord), self._sleep)

    def dream(
        self,
        brain: str,
        *,
        cycles: int | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Queue a dream on ``brain``: ``cycles`` replay steps (1..100000; default the
        brain's ``dreams.cycles``) of its recorded experiences, then a new version. Follow
        it with the handle; each cycle is a progress event. ``Conflict`` when the brain
        recorded no experiences."""
        response = self._send(calls.dream(brain, cycles, idempotency_key))
        return Job(self.jobs, parse(response, JobRecord), self._sleep)

    def backup(
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
        return parse(self._send(call, timeout=wait), BackupSummary)

    def graphql(
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
        return calls.graphql_data(self._send(call, accept_errors=True))

    def cypher(
        self, brain: str, query: str, params: Mapping[str, Any] | None = None
    ) -> CypherResult:
        """A read-only Cypher query; ``$brain``, ``$lo``, ``$hi`` are bound by the server."""
        data = calls.graphql_data(
            self._send(calls.cypher(brain, query, params), accept_errors=True)
        )
        return calls.cypher_result(data)

    # -- sending ----------------------------------------------------------------------

    def _send(
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
                response = self._http.send(request, stream=stream)
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
                        response.read()
                        raise error_from_response(response)
                    finally:
                        response.close()
                response.close()
            self._sleep(delay)
            attempt += 1

    @contextmanager
    def _stream(self, call: Call, timeout: httpx.Timeout | None = None) -> Iterator[httpx.Response]:
        response = self._send(call, stream=True, timeout=timeout)
        try:
            yield response
        finally:
            response.close()


class Brains:
    """``client.brains``: create, list, get, delete brains; their versions and graphs."""

    def __init__(self, client: MarbleClient) -> None:
        self._client = client

    def create(
        self,
        name: str,
        *,
        dataset: str | None = None,
        seed: int | None = None,
        idempotency_key: str | None = None,
    ) -> BrainDetails:
        """Seed a new brain, sized for ``dataset`` and from its preset when given."""
        call = calls.create_brain(name, dataset, seed, idempotency_key)
        return parse(self._client._send(call), BrainDetails)

    def list(self) -> builtins.list[Brain]:
        """Every committed brain, by name."""
        return parse_list(self._client._send(calls.list_brains()), Brain)

    def get(self, name: str) -> BrainDetails:
        return parse(self._client._send(calls.get_brain(name)), BrainDetails)

    def repair(self, name: str, *, idempotency_key: str | None = None) -> RepairReport:
        """Rebuild a damaged brain's current version from its snapshot (admin scope).

        A no-op on an intact brain (``repaired`` is False). ``Brain.damage`` says when a
        brain needs it; until then training and inference on it raise ``Conflict``.
        """
        response = self._client._send(calls.repair_brain(name, idempotency_key))
        return parse(response, RepairReport)

    def delete(self, name: str) -> None:
        """Delete a brain and its versions (refused while it trains).

        Retried like every DELETE: when a first attempt's answer is lost, the retry may
        raise ``NotFound`` although the brain was deleted.
        """
        self._client._send(calls.delete_brain(name)).close()

    def versions(self, name: str) -> builtins.list[BrainVersion]:
        """Every version of the brain, oldest first."""
        return parse_list(self._client._send(calls.brain_versions(name)), BrainVersion)

    def graph(
        self,
        name: str,
        *,
        tables: Sequence[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> GraphExport:
        """The current version's graph, streamed: ``with`` it for the header, iterate rows.

        ``tables`` picks tables (neurons, synapses, lobes...); ``offset``/``limit`` page
        through each table.
        """
        call = calls.export_graph(name, tables, offset, limit)
        return GraphExport(lambda: self._client._stream(call))


class Jobs:
    """``client.jobs``: list, get, follow, cancel and resume jobs; stream their events."""

    def __init__(self, client: MarbleClient) -> None:
        self._client = client

    def list(
        self, *, brain: str | None = None, state: str | None = None, limit: int | None = None
    ) -> builtins.list[JobRecord]:
        """Jobs, newest first; of one brain, in one state (queued, running, succeeded...)."""
        return parse_list(self._client._send(calls.list_jobs(brain, state, limit)), JobRecord)

    def get(self, job_id: str) -> JobRecord:
        return parse(self._client._send(calls.get_job(job_id)), JobRecord)

    def follow(self, job_id: str) -> Job:
        """A handle on an existing job (to wait for it, stream it, cancel it)."""
        return Job(self, self.get(job_id), self._client._sleep)

    def cancel(self, job_id: str, *, idempotency_key: str | None = None) -> JobRecord:
        """Cancel now if queued, else at the next training step (no partial version)."""
        return parse(self._client._send(calls.cancel_job(job_id, idempotency_key)), JobRecord)

    def resume(self, job_id: str, *, idempotency_key: str | None = None) -> Job:
        """A new job continuing an interrupted or cancelled one from its last checkpoint."""
        response = self._client._send(calls.resume_job(job_id, idempotency_key))
        return Job(self, parse(response, JobRecord), self._client._sleep)

    def events(self, job_id: str) -> Iterator[JobEvent]:
        """Server-sent events of the job: its state now, each change, ``end`` last."""
        return self._stream_events(job_id)

    def _stream_events(
        self, job_id: str, timeout: httpx.Timeout | None = None
    ) -> Generator[JobEvent, None, None]:
        with self._client._stream(calls.job_events(job_id), timeout) as response:
            yield from job_events(calls.iter_lines(response))

    @property
    def _retry(self) -> RetryPolicy:
        return self._client._config.retry

    @property
    def _timeout(self) -> httpx.Timeout:
        return self._client._config.timeout
