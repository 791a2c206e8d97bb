"""The checks every table of rows passes, whatever it was read from.

Column names present and distinct, at least one row, and each list column
(a vector per row) of one width; every fault names where it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NoReturn

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from marble_graph.errors import ValidationFailed


def check_column_names(where: str, names: Sequence[str]) -> None:
    """Refuse an empty or repeated column name, naming its position."""
    first_position: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if not name:
            raise ValidationFailed(f"{where}: column {position} has no name")
        if name in first_position:
            raise ValidationFailed(
                f"{where}: column '{name}' appears twice "
                f"(columns {first_position[name]} and {position})"
            )
        first_position[name] = position


def checked_table(
    table: pa.Table, name: str, line_of_row: Callable[[int], int] | None = None
) -> pa.Table:
    """The table, once its column names, row count and vector widths are valid.

    ``line_of_row`` maps a 0-based data row to its file line, for text files.
    """
    check_column_names(name, table.column_names)
    if table.num_rows == 0:
        raise ValidationFailed(f"{name} has no rows")
    for column_name, column in zip(table.column_names, table.columns, strict=True):
        if is_variable_list(column.type):
            _check_widths(name, column_name, column, line_of_row)
    return table


def is_variable_list(data_type: pa.DataType) -> bool:
    """A list type whose rows may hold different numbers of values."""
    return bool(pa.types.is_list(data_type) or pa.types.is_large_list(data_type))


def _check_widths(
    name: str,
    column_name: str,
    column: pa.ChunkedArray,
    line_of_row: Callable[[int], int] | None,
) -> None:
    """Refuse a list column whose rows hold different numbers of values (nulls aside)."""
    widths = pc.list_value_length(column).fill_null(-1).to_numpy()  # [rows]
    present = np.flatnonzero(widths >= 0)
    if present.size == 0:
        return
    expected = widths[present[0]]
    bad = present[widths[present] != expected]
    if bad.size:
        row = int(bad[0])
        where = name if line_of_row is None else f"{name} line {line_of_row(row)}"
        raise_width(where, row, column_name, int(widths[row]), int(expected))


def raise_width(where: str, row: int, column: str, width: int, expected: int) -> NoReturn:
    raise ValidationFailed(
        f"{where}, row {row}: {column} has width {width}, earlier rows have width {expected}"
    )
