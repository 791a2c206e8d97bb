"""``client.datasets``: upload, list, show, diff, apply, tag, revert and download datasets.

``Datasets`` (sync) and ``AsyncDatasets`` mirror each other name for name. A
version is named by its number, a tag, or None for the latest; ``DatasetVersion.spec``
(``"name@3"``) is what ``client.train`` and ``client.brains.create`` take.

``apply`` sends a diff directory written by ``marble dataset diff --out`` as one
Parquet body (both sides, told apart by a ``_side`` column), which needs pyarrow;
pyarrow is not a dependency of the client, so it is imported only there.
"""

from __future__ import annotations

import builtins
import importlib
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from marble_client import _calls as calls
from marble_client._calls import parse, parse_list
from marble_client._exceptions import ValidationFailed
from marble_client._models import DatasetDiff, DatasetSummary, DatasetVersion, TrainedBrain
from marble_client._uploads import SUFFIX_FORMATS, UploadBody

if TYPE_CHECKING:
    from marble_client._async_client import AsyncMarbleClient
    from marble_client._client import MarbleClient

Ref = str | int | None
Encoders = Mapping[str, Mapping[str, Any]]
DOWNLOAD_FORMATS = ("parquet", "csv", "jsonl", "arrow")
# The column of an apply body that says which side of the diff a row is on.
SIDE_COLUMN = "_side"
DIFF_SIDES = ("added", "removed")


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

    def apply(
        self,
        name: str,
        diff_dir: str | Path,
        *,
        onto: str | int | None = None,
        note: str | None = None,
    ) -> DatasetVersion:
        """A new version: the diff saved in ``diff_dir`` applied onto ``onto`` (default: latest).

        ``diff_dir`` is a directory written by ``marble dataset diff --out`` (diff.json,
        added.parquet, removed.parquet); reading it needs pyarrow. A diff made against
        other rows than ``onto``'s raises ``ValidationFailed`` naming both hashes.
        """
        diff = read_saved_diff(diff_dir)
        call = calls.apply_dataset_diff(name, diff, onto, note)
        return parse(self._client._send(call), DatasetVersion)

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

    async def apply(
        self,
        name: str,
        diff_dir: str | Path,
        *,
        onto: str | int | None = None,
        note: str | None = None,
    ) -> DatasetVersion:
        """A new version: the diff in ``diff_dir`` applied onto ``onto`` (see ``Datasets``)."""
        diff = read_saved_diff(diff_dir)
        call = calls.apply_dataset_diff(name, diff, onto, note)
        return parse(await self._client._send(call), DatasetVersion)

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


def read_saved_diff(diff_dir: str | Path) -> calls.SavedDiff:
    """The diff in a directory written by ``marble dataset diff --out``, as one Parquet body.

    The body holds the added and the removed rows, each marked in a ``_side`` column.
    """
    directory = Path(diff_dir)
    not_a_diff = f"{directory}: not a diff written by `marble dataset diff --out`"
    try:
        summary = json.loads((directory / "diff.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationFailed(f"{not_a_diff} ({exc})") from None
    fields = summary if isinstance(summary, dict) else {}
    base_hash, target_hash = fields.get("base_hash"), fields.get("target_hash")
    if not isinstance(base_hash, str) or not isinstance(target_hash, str):
        raise ValidationFailed(f"{not_a_diff}: diff.json needs base_hash and target_hash")
    pa, parquet = _pyarrow()
    sides = []
    for side in DIFF_SIDES:
        path = directory / f"{side}.parquet"
        try:
            rows = parquet.read_table(path)
        except (OSError, pa.ArrowException) as exc:
            raise ValidationFailed(f"{not_a_diff}: {path}: {exc}") from None
        if SIDE_COLUMN in rows.column_names:
            raise ValidationFailed(
                f"{path}: has a column {SIDE_COLUMN!r}, the name the request uses to mark "
                "each row's side; rename it to apply this diff over the API"
            )
        sides.append(rows.append_column(SIDE_COLUMN, pa.repeat(side, rows.num_rows)))
    try:
        both = pa.concat_tables(sides)
    except pa.ArrowInvalid as exc:
        raise ValidationFailed(
            f"{directory}: added.parquet and removed.parquet have different columns ({exc})"
        ) from None
    out = io.BytesIO()
    parquet.write_table(both, out)
    body = UploadBody("parquet", data=out.getvalue())
    return calls.SavedDiff(body, base_hash, target_hash)


def _pyarrow() -> tuple[Any, Any]:
    """pyarrow and pyarrow.parquet, imported now: the client does not depend on them."""
    try:
        return importlib.import_module("pyarrow"), importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise ValidationFailed(
            "applying a saved diff needs pyarrow (its rows travel as one Parquet file): "
            "pip install pyarrow"
        ) from None
