"""Dataset rows and raw objects as JSON values, in both directions.

JSON has no bytes: a bytes value travels as ``{"base64": "..."}``, the form
JSON Lines uploads and exports use too. On the way out, non-finite floats
become null (JSON has no NaN) and timestamps ISO 8601 strings; on the way in,
``{"base64": ...}`` objects become bytes again.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa

from marble_graph.datasets.ingest import BASE64_KEY
from marble_graph.errors import ValidationFailed

# The most rows a dataset diff lists of each side (REST and GraphQL alike).
DIFF_ROWS_MAX = 1000


def rows_as_json(table: pa.Table, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` rows of ``table`` as JSON objects."""
    rows: list[dict[str, Any]] = json_value(table.slice(0, limit).to_pylist())
    return rows


def json_value(value: Any) -> Any:
    """``value`` with every leaf a JSON type; bytes as ``{"base64": ...}``."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes | bytearray | memoryview):
        return {BASE64_KEY: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_value(value.tolist())
    if isinstance(value, np.generic):
        return json_value(value.item())
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def objects_from_json(value: Any, where: str = "objects") -> Any:
    """A caller's JSON objects with each ``{"base64": "..."}`` turned into its bytes.

    ``where`` names the value in errors (``objects[2].image``).
    """
    if isinstance(value, dict):
        if value.keys() == {BASE64_KEY}:
            return _decoded(value[BASE64_KEY], where)
        return {k: objects_from_json(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [objects_from_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _decoded(text: Any, where: str) -> bytes:
    if not isinstance(text, str):
        raise ValidationFailed(
            f"{where}: {BASE64_KEY} must be a string of base64, got {type(text).__name__}"
        )
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValidationFailed(f"{where}: {BASE64_KEY} is not valid base64 ({exc})") from None
