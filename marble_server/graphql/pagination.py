"""Opaque cursors and page sizes for the Relay-style connections.

Pages are keyset pages: a cursor holds the kind of row and the last id seen,
and the next page starts after that id. Ids are stable across versions of a
brain, so a walk through the pages never repeats or skips a row, even when
the brain is retrained between two requests (rows added meanwhile show up
when their id is still ahead of the cursor).
"""

from __future__ import annotations

import base64
import binascii

from marble_server.graphql.errors import BAD_USER_INPUT, ApiError

DEFAULT_PAGE = 100


def encode_cursor(kind: str, last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: str) -> int | None:
    """The id a cursor of ``kind`` points at; BAD_USER_INPUT for any other string."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        prefix, _, value = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        if prefix == kind:
            return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ApiError(
        f"after: {cursor!r} is not a {kind} cursor; pass an endCursor from a {kind} page",
        BAD_USER_INPUT,
    )


def page_size(first: int | None, cap: int, default: int = DEFAULT_PAGE) -> int:
    """``first`` checked against 1..``cap`` (settings.graphql_page_max)."""
    if first is None:
        return min(default, cap)
    if not 1 <= first <= cap:
        raise ApiError(
            f"first: expected 1..{cap} (graphql_page_max), got {first}",
            BAD_USER_INPUT,
            limit=cap,
        )
    return first
