"""/datasets: upload versions, list them, diff, tag, revert, download rows, lineage.

An upload's body is the file itself (CSV, JSON Lines, Parquet or Arrow IPC),
not JSON. The route streams it into a spooled temporary file (memory up to
``SPOOL_MEMORY_BYTES``, disk beyond), counting bytes, and answers 413 the
moment the count passes ``max_upload_bytes``; the engine then reads the
spooled file on a worker thread. Uploading rows equal to the latest
version's records nothing new and answers 200 with that version.

Applying a saved diff (``POST /datasets/{name}/apply``) takes one Parquet body
holding both sides of the diff: the diff's columns plus a string column
``_side`` whose value is ``added`` or ``removed`` on each row; the hashes the
diff was made from and leads to come as query parameters. It is spooled and
limited the same way as an upload. (One body, not a multipart form: multipart
parsing would need a further dependency.)

Reads need the ``read`` scope; uploads, tags and reverts ``train``. Datasets
belong to no brain, so a token limited to brains may use them, but the
brains it lists as trained on a version are only those it may use.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path
from tempfile import SpooledTemporaryFile
from typing import IO, Annotated, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from marble_graph.datasets.row_files import write_rows
from marble_graph.datasets.rowsets import RowDiff
from marble_graph.errors import ValidationFailed
from marble_graph.service import DATASET_NAME, DatasetVersionInfo
from marble_server.api.deps import ReadToken, StateDep, TrainToken
from marble_server.api.models import (
    VERSION_REF,
    DatasetDiff,
    DatasetPath,
    DatasetRevert,
    DatasetSummary,
    DatasetTagCreate,
    DatasetVersion,
    DatasetVersionWritten,
    TagPath,
    TrainedBrain,
    VersionRefPath,
)
from marble_server.limits import UploadTooLarge
from marble_server.problems import PROBLEM_MEDIA_TYPE, Problem
from marble_server.row_json import DIFF_ROWS_MAX, rows_as_json

router = APIRouter(prefix="/datasets", tags=["datasets"])

RowFormat = Literal["csv", "jsonl", "parquet", "arrow"]

# The media type of each format; a body sent as application/octet-stream names its
# format with ?format= instead.
FORMAT_MEDIA_TYPES: dict[str, RowFormat] = {
    "text/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/vnd.apache.parquet": "parquet",
    "application/vnd.apache.arrow.file": "arrow",
    "application/vnd.apache.arrow.stream": "arrow",
}
OCTET_STREAM = "application/octet-stream"
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
DOWNLOAD_MEDIA_TYPES: dict[RowFormat, str] = {
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.file",
}
# Small uploads stay in memory; larger ones go to a temporary file as they arrive.
SPOOL_MEMORY_BYTES = 8 * 1024 * 1024
# A diff body's column that says which side of the diff each row is on.
SIDE_COLUMN = "_side"
DIFF_SIDES = ("added", "removed")
# A row-multiset hash (rows_hash): SHA-256 in hex.
ROWS_HASH = "^[0-9a-f]{64}$"
# A parent: a version of this dataset ("3", "prod") or of another ("wine@3").
_PARENT = f"^(?:{DATASET_NAME.pattern.strip('^$')}@)?{VERSION_REF.strip('^$')}$"

_FILE_BODY = {"schema": {"type": "string", "format": "binary"}}
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "The file: CSV, JSON Lines, Parquet or Arrow IPC. Its format comes "
        "from ?format=, else from Content-Type.",
        "content": {media: _FILE_BODY for media in [*FORMAT_MEDIA_TYPES, OCTET_STREAM]},
    }
}

_DIFF_BODY = {
    "requestBody": {
        "required": True,
        "description": "One Parquet file holding both sides of the diff: the diff's columns "
        f"plus a string column {SIDE_COLUMN!r}, 'added' or 'removed' on each row.",
        "content": {media: _FILE_BODY for media in (PARQUET_MEDIA_TYPE, OCTET_STREAM)},
    }
}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {}}}


@router.post(
    "/{name}",
    status_code=status.HTTP_201_CREATED,
    response_model=DatasetVersionWritten,
    openapi_extra=_UPLOAD_BODY,
    responses={
        200: {
            "model": DatasetVersionWritten,
            "description": "The rows equal the latest version's: that version, nothing new.",
        },
        413: _problem("The upload passed max_upload_bytes"),
        415: _problem("No format: send a known Content-Type or ?format="),
    },
)
async def upload_dataset(
    name: DatasetPath,
    request: Request,
    response: Response,
    state: StateDep,
    token: TrainToken,
    source_format: Annotated[
        RowFormat | None,
        Query(alias="format", description="The file's format (default: from Content-Type)."),
    ] = None,
    target: Annotated[
        str | None,
        Query(min_length=1, description="The target column (default: 'target', else the last)."),
    ] = None,
    inputs: Annotated[
        list[str] | None,
        Query(alias="input", description="An input column; repeat it (default: all but target)."),
    ] = None,
    parent: Annotated[
        str | None,
        Query(pattern=_PARENT, description="The version this one derives from: N, TAG, NAME@N."),
    ] = None,
    note: Annotated[
        str | None, Query(max_length=512, description="A note kept with the version.")
    ] = None,
    encoders: Annotated[
        str | None,
        Query(
            description='A JSON object: column -> {"kind": KIND, "options": {...}}, e.g. '
            '{"review": {"kind": "text", "options": {"width": 128}}} '
            "(kinds: numeric, vector, text, bytes, label)."
        ),
    ] = None,
) -> DatasetVersionWritten:
    """Record the uploaded file's rows as the next version of dataset ``name``.

    201 with the new version; 200 with the latest version when the rows equal it.
    """
    fmt = upload_format(request.headers.get("content-type"), source_format)
    encoder_specs = parse_encoders(encoders)
    limit = state.settings.max_upload_bytes
    with SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:
        await spool_body(request, spool, limit)
        spool.seek(0)
        info, created = await asyncio.to_thread(
            state.service.upload_dataset,
            name,
            spool,  # type: ignore[arg-type]  # a SpooledTemporaryFile is a binary file
            fmt,
            input_columns=inputs or None,
            target_column=target,
            encoders=encoder_specs,
            parent=parent,
            note=note,
        )
    if not created:
        response.status_code = status.HTTP_200_OK
    return DatasetVersionWritten.model_validate({**version_fields(info), "created": created})


@router.get("", response_model=list[DatasetSummary])
async def list_datasets(state: StateDep, token: ReadToken) -> list[DatasetSummary]:
    """Every stored dataset with its number of versions, by name."""
    rows = await asyncio.to_thread(state.service.list_datasets)
    return [DatasetSummary.model_validate(row) for row in rows]


@router.get("/{name}/versions", response_model=list[DatasetVersion])
async def dataset_versions(
    name: DatasetPath, state: StateDep, token: ReadToken
) -> list[DatasetVersion]:
    """The dataset's versions, oldest first."""
    infos = await asyncio.to_thread(state.service.dataset_versions, name)
    return [DatasetVersion.model_validate(version_fields(info)) for info in infos]


@router.get("/{name}/versions/{ref}", response_model=DatasetVersion)
async def dataset_version(
    name: DatasetPath, ref: VersionRefPath, state: StateDep, token: ReadToken
) -> DatasetVersion:
    """One version by number, tag, or ``latest``."""
    info = await asyncio.to_thread(state.service.dataset_version, name, ref)
    return DatasetVersion.model_validate(version_fields(info))


@router.get("/{name}/diff", response_model=DatasetDiff)
async def diff_dataset(
    name: DatasetPath,
    state: StateDep,
    token: ReadToken,
    from_: Annotated[
        str, Query(alias="from", pattern=VERSION_REF, description="From this version.")
    ],
    to: Annotated[str, Query(pattern=VERSION_REF, description="To this version.")],
    limit: Annotated[
        int, Query(ge=0, le=DIFF_ROWS_MAX, description="Most rows listed of each side.")
    ] = 100,
) -> DatasetDiff:
    """Rows added and removed (counting repeats) from one version to another."""

    def diff() -> DatasetDiff:
        changes, info_a, info_b = state.service.diff_datasets(name, from_, to)
        return DatasetDiff.model_validate(
            {
                "from": info_a.spec,
                "to": info_b.spec,
                "added": changes.n_added,
                "removed": changes.n_removed,
                "base_hash": changes.base_hash,
                "target_hash": changes.target_hash,
                "added_rows": rows_as_json(changes.added, limit),
                "removed_rows": rows_as_json(changes.removed, limit),
            }
        )

    return await asyncio.to_thread(diff)


@router.post(
    "/{name}/versions/{ref}/tags",
    status_code=status.HTTP_201_CREATED,
    response_model=DatasetVersion,
)
async def tag_dataset(
    name: DatasetPath,
    ref: VersionRefPath,
    body: DatasetTagCreate,
    state: StateDep,
    token: TrainToken,
) -> DatasetVersion:
    """Name a version with a tag; a tag already in use is 409 naming its version."""
    info = await asyncio.to_thread(state.service.tag_dataset, name, ref, body.tag)
    return DatasetVersion.model_validate(version_fields(info))


@router.delete("/{name}/tags/{tag}", status_code=status.HTTP_204_NO_CONTENT)
async def untag_dataset(
    name: DatasetPath, tag: TagPath, state: StateDep, token: TrainToken
) -> Response:
    """Remove a tag (the version stays)."""
    await asyncio.to_thread(state.service.untag_dataset, name, tag)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{name}/apply",
    status_code=status.HTTP_201_CREATED,
    response_model=DatasetVersionWritten,
    openapi_extra=_DIFF_BODY,
    responses={
        200: {
            "model": DatasetVersionWritten,
            "description": "The changed rows equal the latest version's: that version.",
        },
        413: _problem("The body passed max_upload_bytes"),
        415: _problem("The body is not sent as Parquet"),
    },
)
async def apply_dataset_diff(
    name: DatasetPath,
    request: Request,
    response: Response,
    state: StateDep,
    token: TrainToken,
    base_hash: Annotated[
        str, Query(pattern=ROWS_HASH, description="The hash of the rows the diff was made from.")
    ],
    target_hash: Annotated[
        str, Query(pattern=ROWS_HASH, description="The hash of the rows the diff leads to.")
    ],
    onto: Annotated[
        str | None,
        Query(pattern=VERSION_REF, description="Apply onto this version (default: the latest)."),
    ] = None,
    note: Annotated[
        str | None, Query(max_length=512, description="A note kept with the version.")
    ] = None,
) -> DatasetVersionWritten:
    """A new version of ``name``: a saved diff applied onto version ``onto``.

    A diff made against other rows than ``onto``'s is 422 naming both hashes.
    """
    media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media not in (PARQUET_MEDIA_TYPE, OCTET_STREAM):
        shown = f"Content-Type {media}" if media else "no Content-Type"
        raise Problem(
            415,
            "unsupported-media-type",
            f"{shown}: a diff is sent as one Parquet file ({PARQUET_MEDIA_TYPE})",
        )
    limit = state.settings.max_upload_bytes
    with SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:
        await spool_body(request, spool, limit)
        spool.seek(0)

        def apply() -> tuple[DatasetVersionInfo, bool]:
            diff = read_diff_body(spool, base_hash, target_hash)
            return state.service.apply_dataset_diff(name, diff, onto, note)

        info, created = await asyncio.to_thread(apply)
    if not created:
        response.status_code = status.HTTP_200_OK
    return DatasetVersionWritten.model_validate({**version_fields(info), "created": created})


@router.post(
    "/{name}/versions/{ref}/revert",
    status_code=status.HTTP_201_CREATED,
    response_model=DatasetVersionWritten,
    responses={
        200: {
            "model": DatasetVersionWritten,
            "description": "The reverted rows equal the latest version's: that version.",
        }
    },
)
async def revert_dataset(
    name: DatasetPath,
    ref: VersionRefPath,
    response: Response,
    state: StateDep,
    token: TrainToken,
    body: DatasetRevert | None = None,
) -> DatasetVersionWritten:
    """A new version that undoes version ``ref``'s change to its parent."""
    note = body.note if body is not None else None
    info, created = await asyncio.to_thread(state.service.revert_dataset, name, ref, note)
    if not created:
        response.status_code = status.HTTP_200_OK
    return DatasetVersionWritten.model_validate({**version_fields(info), "created": created})


@router.get(
    "/{name}/versions/{ref}/rows",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The rows as a file of the asked format.",
            "content": {media: _FILE_BODY for media in DOWNLOAD_MEDIA_TYPES.values()},
        }
    },
)
async def download_rows(
    name: DatasetPath,
    ref: VersionRefPath,
    state: StateDep,
    token: ReadToken,
    row_format: Annotated[
        RowFormat, Query(alias="format", description="The file format to answer in.")
    ] = "parquet",
    split: Annotated[
        Literal["train", "test"] | None,
        Query(description="Only the rows of this row-hash split."),
    ] = None,
    test_fraction: Annotated[
        float, Query(gt=0.0, lt=1.0, description="The test share of the row-hash split.")
    ] = 0.25,
    num_shards: Annotated[
        int, Query(ge=1, le=1_000_000, description="Split the rows into this many shards.")
    ] = 1,
    shard_index: Annotated[
        int, Query(ge=0, le=999_999, description="The shard to answer (0-based).")
    ] = 0,
) -> FileResponse:
    """A version's rows (or one split, one shard of them) as a file."""

    def write() -> tuple[Path, DatasetVersionInfo]:
        info = state.service.dataset_version(name, ref)
        rows = state.service.dataset_rows(
            name,
            str(info.version),
            split=split,
            test_fraction=test_fraction,
            num_shards=num_shards,
            shard_index=shard_index,
        )
        handle, temporary = tempfile.mkstemp(prefix="marble-rows-", suffix=f".{row_format}")
        os.close(handle)
        path = Path(temporary)
        try:
            write_rows(rows, path, row_format)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path, info

    path, info = await asyncio.to_thread(write)
    return FileResponse(
        path,
        media_type=DOWNLOAD_MEDIA_TYPES[row_format],
        # Not NAME@N: "@" would need the RFC 5987 form, which some clients ignore.
        filename=f"{info.dataset}-v{info.version}.{row_format}",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@router.get("/{name}/versions/{ref}/brains", response_model=list[TrainedBrain])
async def trained_brains(
    name: DatasetPath, ref: VersionRefPath, state: StateDep, token: ReadToken
) -> list[TrainedBrain]:
    """The brain versions trained directly on this version (those the token may use)."""
    rows = await asyncio.to_thread(state.service.brains_trained_on, name, ref)
    return [TrainedBrain.model_validate(row) for row in rows if token.may_use(row["brain"])]


# -- helpers ------------------------------------------------------------------------


def version_fields(info: DatasetVersionInfo) -> dict[str, Any]:
    """A version's record as the API's ``DatasetVersion`` fields."""
    return {**info.to_dict(), "spec": info.spec}


def upload_format(content_type: str | None, given: RowFormat | None) -> RowFormat:
    """The upload's format: ``?format=``, else its Content-Type's; 415 when neither says.

    The parameter wins: it is the caller's explicit choice, where a Content-Type is
    often a tool's default (curl sends form data's).
    """
    if given is not None:
        return given
    media = (content_type or "").split(";", 1)[0].strip().lower()
    implied = FORMAT_MEDIA_TYPES.get(media)
    if implied is None:
        accepted = ", ".join(FORMAT_MEDIA_TYPES)
        shown = f"Content-Type {media}" if media else "no Content-Type"
        raise Problem(
            415,
            "unsupported-media-type",
            f"{shown} names no dataset format: send one of {accepted}, "
            f"or {OCTET_STREAM} with ?format=csv|jsonl|parquet|arrow",
        )
    return implied


def parse_encoders(text: str | None) -> dict[str, dict[str, Any]] | None:
    """The ``encoders`` query value (JSON: column -> {kind, options}) as the engine's specs."""
    if text is None:
        return None
    try:
        given = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"encoders: not valid JSON: {exc.msg} at position {exc.pos}"
        ) from None
    if not isinstance(given, dict):
        raise ValidationFailed(
            'encoders: expected a JSON object of column -> {"kind": ..., "options": {...}}, '
            f"got {type(given).__name__}"
        )
    specs: dict[str, dict[str, Any]] = {}
    for column, spec in given.items():
        if not isinstance(spec, dict):
            raise ValidationFailed(
                f'encoders.{column}: expected {{"kind": ..., "options": {{...}}}}, '
                f"got {type(spec).__name__}"
            )
        options = spec.get("options", {})
        if not isinstance(options, dict):
            raise ValidationFailed(
                f"encoders.{column}.options: expected an object, got {type(options).__name__}"
            )
        # The engine takes {"kind": ..., **options}; options may also be given flat.
        specs[column] = {**{k: v for k, v in spec.items() if k != "options"}, **options}
    return specs


def read_diff_body(body: IO[bytes], base_hash: str, target_hash: str) -> RowDiff:
    """The diff in a Parquet body whose ``_side`` column splits its rows into added and removed."""
    try:
        table = pq.read_table(body)
    except (pa.ArrowException, OSError) as exc:
        raise ValidationFailed(f"the body is not a Parquet file: {exc}") from None
    found = table.column_names.count(SIDE_COLUMN)
    if found != 1:
        raise ValidationFailed(
            f"the diff body needs exactly one {SIDE_COLUMN!r} column ('added' or 'removed' "
            f"on each row), found {found}; columns: {', '.join(table.column_names)}"
        )
    side = table.column(SIDE_COLUMN)
    if not (pa.types.is_string(side.type) or pa.types.is_large_string(side.type)):
        raise ValidationFailed(f"column {SIDE_COLUMN!r}: expected strings, got {side.type}")
    is_added = pc.fill_null(pc.equal(side, "added"), False)
    is_removed = pc.fill_null(pc.equal(side, "removed"), False)
    neither = pc.invert(pc.or_(is_added, is_removed))
    if pc.any(neither).as_py():
        row = pc.index(neither, True).as_py()
        raise ValidationFailed(
            f"column {SIDE_COLUMN!r}, row {row}: expected one of {', '.join(DIFF_SIDES)}, "
            f"got {side[row].as_py()!r}"
        )
    rows = table.drop_columns([SIDE_COLUMN])
    return RowDiff(base_hash, target_hash, rows.filter(is_added), rows.filter(is_removed))


async def spool_body(request: Request, spool: SpooledTemporaryFile[bytes], limit: int) -> int:
    """Copy the request body into ``spool`` chunk by chunk; 413 once it passes ``limit``."""
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise UploadTooLarge(size, limit)
        if getattr(spool, "_rolled", True):  # on disk now: write off the event loop
            await asyncio.to_thread(spool.write, chunk)
        else:
            spool.write(chunk)
    if size == 0:
        raise ValidationFailed("the request body is empty: send the dataset file as the body")
    return size
