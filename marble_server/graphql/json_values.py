"""Values from the stores made JSON-safe for the ``JSON`` scalar."""

from __future__ import annotations

import base64
import datetime as dt
import math
from decimal import Decimal
from typing import Any
from uuid import UUID

import numpy as np


def json_safe(value: Any) -> Any:
    """``value`` with every leaf a JSON type (timestamps as ISO strings, NaN as null)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_safe(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, UUID):
        return str(value)
    return str(value)
