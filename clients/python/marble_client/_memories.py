"""``client.memories``: a brain's memories: remember, recall, lookup, forget, list.

``Memories`` (sync) and ``AsyncMemories`` mirror each other name for name. A
remembered input is stored with its embedding (the brain's state for it); a
fact is a key and a JSON value. ``recall`` answers the k memories nearest one
query by cosine similarity; ``lookup`` of a key without memories raises ``NotFound``.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from marble_client._calls import Call, Rows, parse, parse_list, rows_of
from marble_client._exceptions import ValidationFailed
from marble_client._models import Memory, MemoryPage
from marble_client._uploads import json_value

if TYPE_CHECKING:
    from marble_client._async_client import AsyncMarbleClient
    from marble_client._client import MarbleClient


def _path(name: str, *rest: str) -> str:
    return "/".join([f"/brains/{quote(name, safe='')}/memories", *rest])


def remember_call(
    name: str,
    inputs: Rows | None,
    objects: Sequence[Any] | None,
    key: str | None,
    keys: Sequence[str | None] | None,
    value: Any,
    values: Sequence[Any] | None,
    idempotency_key: str | None,
) -> Call:
    """``POST /brains/{name}/memories``: rows, objects, or (with neither) facts."""
    body: dict[str, Any] = {}
    if inputs is not None:
        body["inputs"] = rows_of(inputs)
    if objects is not None:
        body["objects"] = json_value(list(objects), "objects")
    if key is not None:
        body["key"] = key
    if keys is not None:
        body["keys"] = list(keys)
    if value is not None:
        body["value"] = json_value(value, "value")
    if values is not None:
        body["values"] = json_value(list(values), "values")
    return Call("POST", _path(name), json=body, idempotency_key=idempotency_key)


def recall_call(
    name: str,
    features: Sequence[float] | None,
    obj: Any,
    embedding: Sequence[float] | None,
    k: int,
    exact: bool,
) -> Call:
    """``POST /brains/{name}/memories/recall``: it only reads, so it may be repeated."""
    given = [q for q in (features, obj, embedding) if q is not None]
    if len(given) != 1:
        raise ValidationFailed("recall: give exactly one query: features, obj or embedding")
    body: dict[str, Any] = {"k": k, "exact": exact}
    if features is not None:
        body["features"] = json_value(list(features), "features")
    if obj is not None:
        body["object"] = json_value(obj, "obj")
    if embedding is not None:
        body["embedding"] = json_value(list(embedding), "embedding")
    return Call("POST", _path(name, "recall"), json=body, idempotent=True)


def forget_call(
    name: str, older_than: datetime | None, keep_last: int | None, idempotency_key: str | None
) -> Call:
    """``POST /brains/{name}/memories/forget`` with exactly one rule."""
    body: dict[str, Any] = {}
    if older_than is not None:
        body["older_than"] = older_than.isoformat()
    if keep_last is not None:
        body["keep_last"] = keep_last
    return Call("POST", _path(name, "forget"), json=body, idempotency_key=idempotency_key)


def lookup_call(name: str, key: str) -> Call:
    return Call("GET", _path(name, "keys", quote(key, safe="")), idempotent=True)


def list_call(name: str, limit: int, before: int | None) -> Call:
    params = {"limit": limit} if before is None else {"limit": limit, "before": before}
    return Call("GET", _path(name), params=params, idempotent=True)


def _ids(response: httpx.Response) -> builtins.list[int]:
    return [int(i) for i in response.json()["ids"]]


def _removed(response: httpx.Response) -> int:
    return int(response.json()["removed"])


class Memories:
    """``client.memories``: remember inputs and facts, recall, look up, forget, list."""

    def __init__(self, client: MarbleClient) -> None:
        self._client = client

    def remember(
        self,
        name: str,
        inputs: Rows | None = None,
        *,
        objects: Sequence[Any] | None = None,
        key: str | None = None,
        keys: Sequence[str | None] | None = None,
        value: Any = None,
        values: Sequence[Any] | None = None,
        idempotency_key: str | None = None,
    ) -> builtins.list[int]:
        """Remember input rows or raw objects, or with neither a fact (``key`` and ``value``);
        the new ids (train scope)."""
        call = remember_call(name, inputs, objects, key, keys, value, values, idempotency_key)
        return _ids(self._client._send(call))

    def recall(
        self,
        name: str,
        features: Sequence[float] | None = None,
        *,
        obj: Any = None,
        embedding: Sequence[float] | None = None,
        k: int = 10,
        exact: bool = False,
    ) -> builtins.list[Memory]:
        """The ``k`` memories nearest one query by cosine similarity (infer scope)."""
        call = recall_call(name, features, obj, embedding, k, exact)
        return parse_list(self._client._send(call), Memory)

    def lookup(self, name: str, key: str) -> builtins.list[Memory]:
        """The memories and facts under ``key``, newest first; ``NotFound`` when none."""
        return parse_list(self._client._send(lookup_call(name, key)), Memory)

    def forget(
        self,
        name: str,
        *,
        older_than: datetime | None = None,
        keep_last: int | None = None,
        idempotency_key: str | None = None,
    ) -> int:
        """Forget memories created before ``older_than``, or all but the newest ``keep_last``;
        how many went (train scope)."""
        call = forget_call(name, older_than, keep_last, idempotency_key)
        return _removed(self._client._send(call))

    def list(self, name: str, *, limit: int = 50, before: int | None = None) -> MemoryPage:
        """A page of the brain's memories, newest first (``before``: the next page)."""
        return parse(self._client._send(list_call(name, limit, before)), MemoryPage)


class AsyncMemories:
    """``client.memories`` of ``AsyncMarbleClient``: the async twin of ``Memories``."""

    def __init__(self, client: AsyncMarbleClient) -> None:
        self._client = client

    async def remember(
        self,
        name: str,
        inputs: Rows | None = None,
        *,
        objects: Sequence[Any] | None = None,
        key: str | None = None,
        keys: Sequence[str | None] | None = None,
        value: Any = None,
        values: Sequence[Any] | None = None,
        idempotency_key: str | None = None,
    ) -> builtins.list[int]:
        """Remember input rows or raw objects, or with neither a fact (``key`` and ``value``);
        the new ids (train scope)."""
        call = remember_call(name, inputs, objects, key, keys, value, values, idempotency_key)
        return _ids(await self._client._send(call))

    async def recall(
        self,
        name: str,
        features: Sequence[float] | None = None,
        *,
        obj: Any = None,
        embedding: Sequence[float] | None = None,
        k: int = 10,
        exact: bool = False,
    ) -> builtins.list[Memory]:
        """The ``k`` memories nearest one query by cosine similarity (infer scope)."""
        call = recall_call(name, features, obj, embedding, k, exact)
        return parse_list(await self._client._send(call), Memory)

    async def lookup(self, name: str, key: str) -> builtins.list[Memory]:
        """The memories and facts under ``key``, newest first; ``NotFound`` when none."""
        return parse_list(await self._client._send(lookup_call(name, key)), Memory)

    async def forget(
        self,
        name: str,
        *,
        older_than: datetime | None = None,
        keep_last: int | None = None,
        idempotency_key: str | None = None,
    ) -> int:
        """Forget memories created before ``older_than``, or all but the newest ``keep_last``;
        how many went (train scope)."""
        call = forget_call(name, older_than, keep_last, idempotency_key)
        return _removed(await self._client._send(call))

    async def list(self, name: str, *, limit: int = 50, before: int | None = None) -> MemoryPage:
        """A page of the brain's memories, newest first (``before``: the next page)."""
        return parse(await self._client._send(list_call(name, limit, before)), MemoryPage)
