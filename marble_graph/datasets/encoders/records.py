"""Reading the fields of an encoder record, with messages that name the field.

Records come back from JSON stored with a brain version or sent by a
client, so every field is checked before an encoder is rebuilt from it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from marble_graph.errors import ValidationFailed


def record_kind(record: object) -> str:
    """The ``kind`` of an encoder record; the record must be an object."""
    if not isinstance(record, dict):
        raise ValidationFailed(f"encoder record must be an object, got {type(record).__name__}")
    kind = record.get("kind")
    if not isinstance(kind, str):
        raise ValidationFailed(f"encoder record has no 'kind' string: {record!r:.200}")
    return kind


def record_int(record: dict[str, Any], key: str, minimum: int, maximum: int | None = None) -> int:
    """An integer field in ``[minimum, maximum]``."""
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(
            f"{record_kind(record)} encoder record: '{key}' must be an integer, got {value!r}"
        )
    check_int_range(f"{record_kind(record)} encoder record: '{key}'", value, minimum, maximum)
    return value


def record_optional_int(
    record: dict[str, Any], key: str, minimum: int, maximum: int | None = None
) -> int | None:
    """An integer field, or None when it is absent or null."""
    if record.get(key) is None:
        return None
    return record_int(record, key, minimum, maximum)


def record_bool(record: dict[str, Any], key: str) -> bool:
    """A true/false field."""
    value = record.get(key)
    if not isinstance(value, bool):
        raise ValidationFailed(
            f"{record_kind(record)} encoder record: '{key}' must be true or false, got {value!r}"
        )
    return value


def record_vector(
    record: dict[str, Any], key: str, width: int, positive: bool = False
) -> np.ndarray:
    """A list of ``width`` finite numbers (all > 0 when ``positive``), as float64."""
    label = f"{record_kind(record)} encoder record: '{key}'"
    try:
        values = np.asarray(record.get(key), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"{label} must be a list of numbers") from exc
    if values.shape != (width,):
        raise ValidationFailed(f"{label} must hold {width} numbers, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValidationFailed(f"{label} must hold finite numbers")
    if positive and not np.all(values > 0):
        raise ValidationFailed(f"{label} must hold positive numbers")
    return values


def check_int_range(label: str, value: int, minimum: int, maximum: int | None = None) -> None:
    """Raise ``ValidationFailed`` unless ``minimum <= value <= maximum``."""
    if value < minimum or (maximum is not None and value > maximum):
        allowed = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValidationFailed(f"{label} must be {allowed}, got {value}")


def option_int(
    kind: str, name: str, value: object, minimum: int, maximum: int | None = None
) -> int:
    """A caller's integer option for a ``kind`` encoder, range-checked."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValidationFailed(f"{kind} encoder option '{name}' must be an integer, got {value!r}")
    check_int_range(f"{kind} encoder option '{name}'", int(value), minimum, maximum)
    return int(value)


def option_bool(kind: str, name: str, value: object) -> bool:
    """A caller's true/false option for a ``kind`` encoder."""
    if not isinstance(value, bool | np.bool_):
        raise ValidationFailed(
            f"{kind} encoder option '{name}' must be true or false, got {value!r}"
        )
    return bool(value)
