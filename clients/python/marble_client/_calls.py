"""Every API call as data (method, path, body, whether it may be repeated), and its parsing.

The sync and async clients build the same ``Call`` here and parse the same way;
only sending differs. Builders are pure: no I/O, no client state.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from marble_client._exceptions import (
    ValidationFailed,
    error_from_graphql,
    error_from_response,
    transport_error,
)
from marble_client._models import CypherResult
from marble_client._retry import IDEMPOTENT_METHODS

ModelT = TypeVar("ModelT", bound=BaseModel)

Rows = Sequence[float] | Sequence[Sequence[float]]

IDEMPOTENCY_HEADER = "Idempotency-Key"
CYPHER_DOCUMENT = (
    "query Cypher($brain: String!, $query: String!, $params: JSON) {\n"
    "  cypher(brain: $brain, query: $query, params: $params) { columns rows truncated }\n"
    "}"
)
# A document that mentions `mutation` anywhere is treated as one: never retried without a key.
_MUTATION = re.compile(r"\bmutation\b")


@dataclass(frozen=True)
class Call:
    """One request to the API, before a client sends it."""

    method: str
    path: str
    params: Mapping[str, str | int] = field(default_factory=dict)
    json: Any = None
    # Safe to repeat: reads, and POSTs that only read (/infer, GraphQL queries).
    idempotent: bool = False
    idempotency_key: str | None = None

    def key_to_send(self, auto_keys: bool) -> str | None:
        """The ``Idempotency-Key`` of this logical call, made once and reused by its retries."""
        if self.idempotency_key is not None:
            return self.idempotency_key
        if auto_keys and self.method == "POST" and not self.idempotent:
            return str(uuid.uuid4())
        return None

    def request(
        self,
        http: httpx.Client | httpx.AsyncClient,
        key: str | None,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Request:
        """The httpx request for this call (built anew for every attempt)."""
        headers = {IDEMPOTENCY_HEADER: key} if key is not None else None
        return http.build_request(
            self.method,
            self.path,
            params=dict(self.params) or None,
            json=self.json,
            headers=headers,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )


def _read(method: str, path: str, **params: str | int | None) -> Call:
    given = {k: v for k, v in params.items() if v is not None}
    return Call(method, path, params=given, idempotent=method in IDEMPOTENT_METHODS)


def _segment(value: str) -> str:
    return quote(value, safe="")


def health() -> Call:
    return _read("GET", "/health")


def ready() -> Call:
    return _read("GET", "/ready")


def create_brain(name: str, dataset: str | None, seed: int | None, key: str | None) -> Call:
    body: dict[str, Any] = {"name": name}
    if dataset is not None:
        body["dataset"] = dataset
    if seed is not None:
        body["seed"] = seed
    return Call("POST", "/brains", json=body, idempotency_key=key)


def list_brains() -> Call:
    return _read("GET", "/brains")


def get_brain(name: str) -> Call:
    return _read("GET", f"/brains/{_segment(name)}")


def delete_brain(name: str) -> Call:
    return _read("DELETE", f"/brains/{_segment(name)}")


def repair_brain(name: str, key: str | None) -> Call:
    return Call("POST", f"/brains/{_segment(name)}/repair", idempotency_key=key)


def brain_versions(name: str) -> Call:
    return _read("GET", f"/brains/{_segment(name)}/versions")


def export_graph(name: str, tables: Sequence[str] | None, offset: int, limit: int | None) -> Call:
    joined = ",".join(tables) if tables is not None else None
    return _read(
        "GET", f"/brains/{_segment(name)}/graph", tables=joined, offset=offset or None, limit=limit
    )


def infer(brain: str, inputs: Rows, version: int | None) -> Call:
    body: dict[str, Any] = {"brain": brain, "inputs": rows_of(inputs)}
    if version is not None:
        body["version"] = version
    return Call("POST", "/infer", json=body, idempotent=True)


def train(brain: str, dataset: str, epochs: int | None, key: str | None) -> Call:
    body: dict[str, Any] = {"dataset": dataset}
    if epochs is not None:
        body["epochs"] = epochs
    return Call("POST", f"/brains/{_segment(brain)}/train", json=body, idempotency_key=key)


def list_jobs(brain: str | None, state: str | None, limit: int | None) -> Call:
    return _read("GET", "/jobs", brain=brain, state=state, limit=limit)


def get_job(job_id: str) -> Call:
    return _read("GET", f"/jobs/{_segment(job_id)}")


def cancel_job(job_id: str, key: str | None) -> Call:
    return Call("POST", f"/jobs/{_segment(job_id)}/cancel", idempotency_key=key)


def resume_job(job_id: str, key: str | None) -> Call:
    return Call("POST", f"/jobs/{_segment(job_id)}/resume", idempotency_key=key)


def backup(destination: str, key: str | None) -> Call:
    return Call("POST", "/admin/backup", json={"destination": destination}, idempotency_key=key)


def job_events(job_id: str) -> Call:
    return _read("GET", f"/jobs/{_segment(job_id)}/events")


def graphql(
    query: str,
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
    key: str | None,
) -> Call:
    body: dict[str, Any] = {"query": query, "variables": dict(variables or {})}
    if operation_name is not None:
        body["operationName"] = operation_name
    reads_only = _MUTATION.search(query) is None
    return Call("POST", "/graphql", json=body, idempotent=reads_only, idempotency_key=key)


def cypher(brain: str, query: str, params: Mapping[str, Any] | None) -> Call:
    variables = {"brain": brain, "query": query, "params": dict(params) if params else None}
    return graphql(CYPHER_DOCUMENT, variables, "Cypher", None)


# -- parsing ------------------------------------------------------------------------------


@cache
def _list_adapter(model: type[ModelT]) -> TypeAdapter[list[ModelT]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def parse(response: httpx.Response, model: type[ModelT]) -> ModelT:
    """The response body as ``model``."""
    return model.model_validate_json(response.content)


def parse_list(response: httpx.Response, model: type[ModelT]) -> list[ModelT]:
    """The response body as a list of ``model``."""
    return _list_adapter(model).validate_json(response.content)


def graphql_data(response: httpx.Response) -> dict[str, Any]:
    """The ``data`` of a GraphQL answer; its first error raised as the matching exception."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("errors") and "type" not in body:
        raise error_from_graphql(body["errors"], response.status_code)
    if not response.is_success or not isinstance(body, dict):
        raise error_from_response(response)
    data = body.get("data")
    return data if isinstance(data, dict) else {}


def cypher_result(data: Mapping[str, Any]) -> CypherResult:
    return CypherResult.model_validate(data["cypher"])


def rows_of(inputs: Rows) -> list[list[float]]:
    """Input rows as JSON lists: one row is a batch of one; arrays with ``tolist`` work too.

    Raises ``ValidationFailed`` naming the first value JSON cannot carry (NaN, infinity).
    """
    values: Any = inputs.tolist() if hasattr(inputs, "tolist") else inputs
    rows = [list(r) if _is_row(r) else r for r in values]
    if rows and not any(_is_row(r) for r in rows):
        rows = [rows]
    batch = [[float(v) for v in row] for row in rows]
    for i, row in enumerate(batch):
        for j, value in enumerate(row):
            if not math.isfinite(value):
                raise ValidationFailed(f"inputs[{i}][{j}]: expected a finite number, got {value}")
    return batch


def _is_row(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def iter_lines(response: httpx.Response) -> Iterator[str]:
    """The lines of a streamed response; a broken connection raises our ``TransportError``."""
    try:
        yield from response.iter_lines()
    except httpx.TransportError as error:
        raise transport_error(error) from error


async def aiter_lines(response: httpx.Response) -> AsyncIterator[str]:
    """The async twin of ``iter_lines``."""
    try:
        async for line in response.aiter_lines():
            yield line
    except httpx.TransportError as error:
        raise transport_error(error) from error


def json_line(line: str) -> dict[str, Any]:
    """One NDJSON line as an object."""
    value = json.loads(line)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object per line, got {line[:80]!r}")
    return value
