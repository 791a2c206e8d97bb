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
from marble_client._uploads import UploadBody, json_value, upload_body

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
    params: Mapping[str, str | int | float | Sequence[str]] = field(default_factory=dict)
    json: Any = None
    # A body sent as it is (a dataset file) instead of ``json``.
    body: UploadBody | None = None
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
        headers = {IDEMPOTENCY_HEADER: key} if key is not None else {}
        content: Any = None
        if self.body is not None:
            # A file is streamed; its length is declared so a server can refuse it at once.
            headers["Content-Type"] = self.body.media_type
            headers["Content-Length"] = str(self.body.size)
            is_async = isinstance(http, httpx.AsyncClient)
            content = self.body.async_chunks() if is_async else self.body.chunks()
        return http.build_request(
            self.method,
            self.path,
            params=dict(self.params) or None,
            json=self.json,
            content=content,
            headers=headers or None,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )


def _read(method: str, path: str, **params: str | int | float | None) -> Call:
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


def infer(
    brain: str,
    inputs: Rows | None,
    version: int | str | None,
    objects: Sequence[Any] | None = None,
) -> Call:
    if (inputs is None) == (objects is None):
        raise ValidationFailed("infer: give either inputs (feature rows) or objects (raw values)")
    body: dict[str, Any] = {"brain": brain}
    if objects is not None:
        body["objects"] = json_value(list(objects), "objects")
    else:
        assert inputs is not None
        body["inputs"] = rows_of(inputs)
    if version is not None:
        body["version"] = version
    return Call("POST", "/infer", json=body, idempotent=True)


def activations(
    brain: str, inputs: Sequence[float] | None, obj: Any, version: int | str | None = None
) -> Call:
    """``POST /brains/{name}/activations`` for one row or one raw object; it only reads."""
    if (inputs is None) == (obj is None):
        raise ValidationFailed("activations: give either inputs (one row) or obj (a raw object)")
    body: dict[str, Any]
    if inputs is not None:
        body = {"inputs": json_value(list(inputs), "inputs")}
    else:
        body = {"object": json_value(obj, "obj")}
    if version is not None:
        body["version"] = version
    return Call("POST", f"/brains/{_segment(brain)}/activations", json=body, idempotent=True)


def train(brain: str, dataset: str, epochs: int | None, key: str | None) -> Call:
    body: dict[str, Any] = {"dataset": dataset}
    if epochs is not None:
        body["epochs"] = epochs
    return Call("POST", f"/brains/{_segment(brain)}/train", json=body, idempotency_key=key)


def dream(brain: str, cycles: int | None, key: str | None) -> Call:
    body: dict[str, Any] = {} if cycles is None else {"cycles": cycles}
    return Call("POST", f"/brains/{_segment(brain)}/dream", json=body, idempotency_key=key)


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


# -- datasets -----------------------------------------------------------------------------


def upload_dataset(
    name: str,
    source: Any,
    target: str | None,
    inputs: Sequence[str] | None,
    encoders: Mapping[str, Mapping[str, Any]] | None,
    parent: str | int | None,
    note: str | None,
) -> Call:
    """``POST /datasets/{name}`` with the source as the body.

    Retried like a read: the same rows again record nothing new (the server answers
    the latest version with ``created`` False).
    """
    params: dict[str, str | int | float | Sequence[str]] = {}
    if target is not None:
        params["target"] = target
    if inputs:
        params["input"] = list(inputs)
    if encoders is not None:
        params["encoders"] = json.dumps(json_value(encoders, "encoders"))
    if parent is not None:
        params["parent"] = str(parent)
    if note is not None:
        params["note"] = note
    path = f"/datasets/{_segment(name)}"
    return Call("POST", path, params=params, body=upload_body(source), idempotent=True)


def list_datasets() -> Call:
    return _read("GET", "/datasets")


def dataset_versions(name: str) -> Call:
    return _read("GET", f"/datasets/{_segment(name)}/versions")


def dataset_version(name: str, ref: str | int | None) -> Call:
    return _read("GET", f"/datasets/{_segment(name)}/versions/{_ref(ref)}")


def diff_datasets(name: str, a: str | int, b: str | int, limit: int | None) -> Call:
    return _read(
        "GET", f"/datasets/{_segment(name)}/diff", **{"from": str(a), "to": str(b)}, limit=limit
    )


def tag_dataset(name: str, ref: str | int, tag: str, key: str | None) -> Call:
    path = f"/datasets/{_segment(name)}/versions/{_ref(ref)}/tags"
    return Call("POST", path, json={"tag": tag}, idempotency_key=key)


def untag_dataset(name: str, tag: str) -> Call:
    return _read("DELETE", f"/datasets/{_segment(name)}/tags/{_segment(tag)}")


def revert_dataset(name: str, ref: str | int, note: str | None, key: str | None) -> Call:
    path = f"/datasets/{_segment(name)}/versions/{_ref(ref)}/revert"
    body = {"note": note} if note is not None else None
    return Call("POST", path, json=body, idempotency_key=key)


@dataclass(frozen=True)
class SavedDiff:
    """A saved diff as the API takes it: one Parquet body and the hashes it joins."""

    body: UploadBody
    base_hash: str
    target_hash: str


def apply_dataset_diff(
    name: str, diff: SavedDiff, onto: str | int | None, note: str | None
) -> Call:
    """``POST /datasets/{name}/apply`` with the diff's rows as the body.

    Retried like a read: a diff never applies twice. Onto the same version again it
    makes the same rows (nothing new while they are the latest); onto its own result
    it is refused, naming both hashes.
    """
    params: dict[str, str | int | float | Sequence[str]] = {
        "base_hash": diff.base_hash,
        "target_hash": diff.target_hash,
    }
    if onto is not None:
        params["onto"] = str(onto)
    if note is not None:
        params["note"] = note
    path = f"/datasets/{_segment(name)}/apply"
    return Call("POST", path, params=params, body=diff.body, idempotent=True)


def dataset_rows(
    name: str,
    ref: str | int | None,
    fmt: str,
    split: str | None,
    test_fraction: float | None,
    num_shards: int | None,
    shard_index: int | None,
) -> Call:
    return _read(
        "GET",
        f"/datasets/{_segment(name)}/versions/{_ref(ref)}/rows",
        format=fmt,
        split=split,
        test_fraction=test_fraction,
        num_shards=num_shards,
        shard_index=shard_index,
    )


def trained_brains(name: str, ref: str | int | None) -> Call:
    return _read("GET", f"/datasets/{_segment(name)}/versions/{_ref(ref)}/brains")


def _ref(ref: str | int | None) -> str:
    """A version reference as a path segment: a number, a tag, or ``latest`` (None)."""
    return "latest" if ref is None else _segment(str(ref))


# -- brain history (client.versions): a version is a number or a tag --------------------

VersionRef = int | str


def _version_segment(ref: VersionRef) -> str:
    return _segment(str(ref))


def show_version(name: str, ref: VersionRef) -> Call:
    return _read("GET", f"/brains/{_segment(name)}/versions/{_version_segment(ref)}")


def diff_versions(name: str, a: VersionRef, b: VersionRef) -> Call:
    versions = f"/brains/{_segment(name)}/versions"
    return _read("GET", f"{versions}/{_version_segment(a)}/diff/{_version_segment(b)}")


def tag_version(name: str, ref: VersionRef, tag: str, key: str | None) -> Call:
    path = f"/brains/{_segment(name)}/versions/{_version_segment(ref)}/tags"
    return Call("POST", path, json={"tag": tag}, idempotency_key=key)


def untag_version(name: str, tag: str) -> Call:
    return _read("DELETE", f"/brains/{_segment(name)}/tags/{_segment(tag)}")


def rollback_brain(name: str, ref: VersionRef, key: str | None) -> Call:
    path = f"/brains/{_segment(name)}/rollback"
    return Call("POST", path, json={"version": ref}, idempotency_key=key)


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
