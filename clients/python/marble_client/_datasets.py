"""``client.datasets``: upload, list, show, diff, tag, revert and download stored datasets.

``Datasets`` (sync) and ``AsyncDatasets`` mirror each other name for name. A
version is named by its number, a tag, or None for the latest; ``DatasetVersion.spec``
(``"name@3"``) is what ``client.train`` and ``client.brains.create`` take.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from marble_client import _calls as calls
from marble_client._calls import parse, parse_list
from marble_client._exceptions import ValidationFailed
from marble_client._models import DatasetDiff, DatasetSummary, DatasetVersion, TrainedBrain
from marble_client._uploads import SUFFIX_FORMATS

if TYPE_CHECKING:
    from marble_client._async_client import AsyncMarbleClient
    from marble_client._client import MarbleClient

Ref = str | int | None
Encoders = Mapping[str, Mapping[str, Any]]
DOWNLOAD_FORMATS = ("parquet", "csv", "jsonl", "arrow")


class Datasets:
    """``client.datasets``: stored, versioned datasets on the server."""

    def __init__(self, client: MarbleClient) -> None:
        self._client = client

    def upload(
        self,
        name: str,
        source: Any,
        *,
        target: str | None = None,
        inputs: Sequence[str] | None = None,
        encoders: Encoders | None = None,
        parent: str | int | None = None,
        note: str | None = None,
    ) -> DatasetVersion:
        """Record ``source``'s rows as the next version of dataset ``name`` (train scope).

        ``source``: a file path (CSV, JSON Lines, Parquet or Arrow, by suffix; streamed
        from disk), a pandas DataFrame, or a list of ``(input, target)`` pairs. ``encoders``
        maps a column to ``{"kind": ..., "options": {...}}``; ``parent`` names the version
        this one derives from. Rows equal to the latest version's record nothing new: that
        version comes back with ``created`` False.
        """
        call = calls.upload_dataset(name, source, target, inputs, encoders, parent, note)
        return parse(self._client._send(call), DatasetVersion)

    def list(self) -> builtins.list[DatasetSummary]:
        """Every stored dataset, by name."""
        return parse_list(self._client._send(calls.list_datasets()), DatasetSummary)

    def versions(self, name: str) -> builtins.list[DatasetVersion]:
        """The dataset's versions, oldest first."""
        return parse_list(self._client._send(calls.dataset_versions(name)), DatasetVersion)

    def show(self, name: str, ref: Ref = None) -> DatasetVersion:
        """One version: by number, by tag, or the latest (None)."""
        return parse(self._client._send(calls.dataset_version(name, ref)), DatasetVersion)

    def diff(
        self, name: str, a: str | int, b: str | int, *, limit: int | None = None
    ) -> DatasetDiff:
        """Rows added and removed from version ``a`` to ``b``, listing up to ``limit`` of each."""
        return parse(self._client._send(calls.diff_datasets(name, a, b, limit)), DatasetDiff)

    def tag(
        self, name: str, ref: str | int, tag: str, *, idempotency_key: str | None = None
    ) -> DatasetVersion:
        """Name version ``ref`` with ``tag``; a tag in use raises ``Conflict``."""
        call = calls.tag_dataset(name, ref, tag, idempotency_key)
        return parse(self._client._send(call), DatasetVersion)

    def untag(self, name: str, tag: str) -> None:
        """Remove a tag (the version stays)."""
        self._client._send(calls.untag_dataset(name, tag)).close()

    def revert(
        self,
        name: str,
        ref: str | int,
        *,
        note: str | None = None,
        idempotency_key: str | None = None,
    ) -> DatasetVersion:
        """A new version that undoes version ``ref``'s change to its parent."""
        call = calls.revert_dataset(name, ref, note, idempotency_key)
        return parse(self._client._send(call), DatasetVersion)

    def download(
        self,
        name: str,
        ref: Ref,
        path: str | Path,
        format: str | None = None,
        *,
        split: str | None = None,
        test_fraction: float | None = None,
        num_shards: int | None = None,
        shard_index: int | None = None,
    ) -> Path:
        """Write a version's rows (or one row-hash split, one shard) to ``path``; returns it.

        ``format`` (parquet, csv, jsonl, arrow) defaults to the path's suffix's.
        """
        target, fmt = _download_target(path, format)
        call = calls.dataset_rows(name, ref, fmt, split, test_fraction, num_shards, shard_index)
        with self._client._stream(call) as response, target.open("wb") as out:
            for chunk in response.iter_bytes():
                out.write(chunk)
        return target

    def trained_brains(self, name: str, ref: Ref = None) -> builtins.list[TrainedBrain]:
        """The brain versions trained directly on a version (lineage)."""
        return parse_list(self._client._send(calls.trained_brains(name, ref)), TrainedBrain)


class AsyncDatasets:
    """``client.datasets`` of ``AsyncMarbleClient``: the same names, awaited."""

    def __init__(self, client: AsyncMarbleClient) -> None:
        self._client = client

    async def upload(
        self,
        name: str,
        source: Any,
        *,
        target: str | None = None,
        inputs: Sequence[str] | None = None,
        encoders: Encoders | None = None,
        parent: str | int | None = None,
        note: str | None = None,
    ) -> DatasetVersion:
        """Record ``source``'s rows as the next version of dataset ``name`` (see ``Datasets``)."""
        call = calls.upload_dataset(name, source, target, inputs, encoders, parent, note)
        return parse(await self._client._send(call), DatasetVersion)

    async def list(self) -> builtins.list[DatasetSummary]:
        """Every stored dataset, by name."""
        return parse_list(await self._client._send(calls.list_datasets()), DatasetSummary)

    async def versions(self, name: str) -> builtins.list[DatasetVersion]:
        """The dataset's versions, oldest first."""
        response = await self._client._send(calls.dataset_versions(name))
        return parse_list(response, DatasetVersion)

    async def show(self, name: str, ref: Ref = None) -> DatasetVersion:
        """One version: by number, by tag, or the latest (None)."""
        return parse(await self._client._send(calls.dataset_version(name, ref)), DatasetVersion)

    async def diff(
        self, name: str, a: str | int, b: str | int, *, limit: int | None = None
    ) -> DatasetDiff:
        """Rows added and removed from version ``a`` to ``b``, listing up to ``limit`` of each."""
        response = await self._client._send(calls.diff_datasets(name, a, b, limit))
        return parse(response, DatasetDiff)

    async def tag(
        self, name: str, ref: str | int, tag: str, *, idempotency_key: str | None = None
    ) -> DatasetVersion:
        """Name version ``ref`` with ``tag``; a tag in use raises ``Conflict``."""
        call = calls.tag_dataset(name, ref, tag, idempotency_key)
        return parse(await self._client._send(call), DatasetVersion)

    async def untag(self, name: str, tag: str) -> None:
        """Remove a tag (the version stays)."""
        response = await self._client._send(calls.untag_dataset(name, tag))
        await response.aclose()

    async def revert(
        self,
        name: str,
        ref: str | int,
        *,
        note: str | None = None,
        idempotency_key: str | None = None,
    ) -> DatasetVersion:
        """A new version that undoes version ``ref``'s change to its parent."""
        call = calls.revert_dataset(name, ref, note, idempotency_key)
        return parse(await self._client._send(call), DatasetVersion)

    async def download(
        self,
        name: str,
        ref: Ref,
        path: str | Path,
        format: str | None = None,
        *,
        split: str | None = None,
        test_fraction: float | None = None,
        num_shards: int | None = None,
        shard_index: int | None = None,
    ) -> Path:
        """Write a version's rows (or one split, one shard) to ``path`` (see ``Datasets``)."""
        target, fmt = _download_target(path, format)
        call = calls.dataset_rows(name, ref, fmt, split, test_fraction, num_shards, shard_index)
        async with self._client._stream(call) as response:
            with target.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    out.write(chunk)
        return target

    async def trained_brains(self, name: str, ref: Ref = None) -> builtins.list[TrainedBrain]:
        """The brain versions trained directly on a version (lineage)."""
        response = await self._client._send(calls.trained_brains(name, ref))
        return parse_list(response, TrainedBrain)


def _download_target(path: str | Path, given: str | None) -> tuple[Path, str]:
    """The file to write and its format: ``given``, else the path's suffix's."""
    target = Path(path)
    fmt = given or SUFFIX_FORMATS.get(target.suffix.lower())
    if fmt not in DOWNLOAD_FORMATS:
        raise ValidationFailed(
            f"format {fmt or target.suffix or '(none)'!r} for {target}: expected one of "
            f"{', '.join(DOWNLOAD_FORMATS)} (or a path ending in .parquet, .csv, .jsonl, .arrow)"
        )
    return target, fmt
