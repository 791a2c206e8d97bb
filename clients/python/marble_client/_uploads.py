"""Dataset sources as request bodies, and Python values as the JSON the server reads.

A source is a file (streamed from disk, never read whole), a pandas DataFrame
(sent as Parquet when pyarrow is importable, else as CSV; neither package is
a dependency: a DataFrame is recognised by its methods), or a list of
``(input, target)`` pairs, sent as JSON Lines. JSON has no bytes, so bytes
travel as ``{"base64": "..."}``, in uploads and in ``infer(objects=...)``.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import math
import os
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marble_client._exceptions import ValidationFailed

BASE64_KEY = "base64"
# Read from disk and sent this much at a time.
CHUNK_BYTES = 1024 * 1024

MEDIA_TYPES = {
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.file",
}
SUFFIX_FORMATS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
}


@dataclass(frozen=True)
class UploadBody:
    """A request body sent as it is: a file on disk (streamed) or bytes made in memory."""

    format: str
    path: Path | None = None
    data: bytes | None = None

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]

    @property
    def size(self) -> int:
        """The body's length in bytes (its Content-Length)."""
        if self.data is not None:
            return len(self.data)
        assert self.path is not None
        return self.path.stat().st_size

    def chunks(self) -> bytes | Iterator[bytes]:
        """The body for a sync request: the bytes, or the file read chunk by chunk."""
        return self.data if self.data is not None else self._file_chunks()

    def async_chunks(self) -> bytes | AsyncIterator[bytes]:
        """The body for an async request.

        File chunks are read with plain (blocking) reads, as httpx reads its own
        file uploads: a chunk of a local file costs far less than its sending.
        """
        return self.data if self.data is not None else self._async_file_chunks()

    def _file_chunks(self) -> Iterator[bytes]:
        assert self.path is not None
        with self.path.open("rb") as handle:  # opened per attempt: a retry starts over
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk

    async def _async_file_chunks(self) -> AsyncIterator[bytes]:
        for chunk in self._file_chunks():
            yield chunk


def upload_body(source: Any) -> UploadBody:
    """The body that carries ``source``: a path, a DataFrame, or ``(input, target)`` pairs."""
    if isinstance(source, str | os.PathLike):
        return _file_body(Path(source))
    if hasattr(source, "to_parquet") or hasattr(source, "to_csv"):
        return _dataframe_body(source)
    if isinstance(source, Sequence) and not isinstance(source, bytes | bytearray):
        return UploadBody("jsonl", data=_pairs_as_json_lines(source))
    raise ValidationFailed(
        f"cannot upload a {type(source).__name__}: give a file path, a pandas DataFrame "
        "or a list of (input, target) pairs"
    )


def json_value(value: Any, where: str) -> Any:
    """``value`` as the server reads JSON: bytes as ``{"base64": ...}``, arrays as lists.

    ``where`` names the value in the error for one JSON cannot carry (NaN, infinity).
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return {BASE64_KEY: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationFailed(f"{where}: JSON has no {value}; use a finite number")
        return value
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): json_value(v, f"{where}.{k}") for k, v in value.items()}
    if hasattr(value, "tolist"):  # numpy arrays and scalars, without importing numpy
        return json_value(value.tolist(), where)
    if isinstance(value, Sequence):
        return [json_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ValidationFailed(f"{where}: cannot send a {type(value).__name__} as JSON")


def _file_body(path: Path) -> UploadBody:
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        shown = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
        raise ValidationFailed(f"{path} has {shown}: expected one of {', '.join(SUFFIX_FORMATS)}")
    if not path.is_file():
        raise ValidationFailed(f"{path} is not a file")
    return UploadBody(fmt, path=path)


def _dataframe_body(frame: Any) -> UploadBody:
    if hasattr(frame, "to_parquet") and importlib.util.find_spec("pyarrow") is not None:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return UploadBody("parquet", data=buffer.getvalue())
    if not hasattr(frame, "to_csv"):
        raise ValidationFailed(
            "the DataFrame can be written only as Parquet, which needs pyarrow: "
            "install pyarrow, or pass a file"
        )
    text = frame.to_csv(index=False)
    return UploadBody("csv", data=str(text).encode("utf-8"))


def _pairs_as_json_lines(pairs: Sequence[Any]) -> bytes:
    if not pairs:
        raise ValidationFailed("source: the list of (input, target) pairs is empty")
    lines = []
    for index, pair in enumerate(pairs):
        if (
            not isinstance(pair, Sequence)
            or isinstance(pair, str | bytes | bytearray)
            or len(pair) != 2
        ):
            raise ValidationFailed(
                f"source[{index}]: expected an (input, target) pair, got {type(pair).__name__}"
            )
        row = {
            "input": json_value(pair[0], f"source[{index}] input"),
            "target": json_value(pair[1], f"source[{index}] target"),
        }
        lines.append(json.dumps(row, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode("utf-8")
