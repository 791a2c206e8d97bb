"""The engine's error families and what each becomes over the API, defined once.

REST answers an engine error with the family's HTTP status and problem
``type`` slug (``problems.py``); GraphQL with its ``extensions.code``
(``graphql/errors.py``). Both read this table, so the two interfaces cannot
disagree about what kind of mistake an error is. Order matters: the first
family an error belongs to wins (``BrainDamaged`` is a ``Conflict``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from marble_graph.errors import (
    BrainDamaged,
    Conflict,
    MarbleError,
    NotFound,
    QueryFailed,
    QueryRefused,
    QueryTimedOut,
    StoreLocked,
    ValidationFailed,
    VersionCollected,
)

# The GraphQL codes of the families (graphql/errors.py re-exports them for resolvers).
NOT_FOUND = "NOT_FOUND"
CONFLICT = "CONFLICT"
BRAIN_DAMAGED = "BRAIN_DAMAGED"
QUERY_REFUSED = "QUERY_REFUSED"
QUERY_TIMEOUT = "QUERY_TIMEOUT"
QUERY_ERROR = "QUERY_ERROR"
BAD_USER_INPUT = "BAD_USER_INPUT"
UNAVAILABLE = "UNAVAILABLE"


@dataclass(frozen=True)
class ErrorFamily:
    error: type[MarbleError]
    status: int
    slug: str  # the problem type: urn:marble:problem:<slug>
    code: str  # the GraphQL extensions.code


FAMILIES: tuple[ErrorFamily, ...] = (
    ErrorFamily(QueryRefused, 400, "query-refused", QUERY_REFUSED),
    # The query is the client's: a slow or failing one is its fault, never a 5xx.
    ErrorFamily(QueryTimedOut, 422, "query-timeout", QUERY_TIMEOUT),
    ErrorFamily(QueryFailed, 422, "query-error", QUERY_ERROR),
    ErrorFamily(ValidationFailed, 422, "validation-failed", BAD_USER_INPUT),
    # A version retention collected: gone for good, but still a 404 to clients that
    # switch on the status; the problem type tells it from a version that never was.
    ErrorFamily(VersionCollected, 404, "version-collected", NOT_FOUND),
    ErrorFamily(NotFound, 404, "not-found", NOT_FOUND),
    ErrorFamily(BrainDamaged, 409, "brain-damaged", BRAIN_DAMAGED),
    ErrorFamily(Conflict, 409, "conflict", CONFLICT),
    ErrorFamily(StoreLocked, 503, "unavailable", UNAVAILABLE),
)


def family_of(error: MarbleError) -> ErrorFamily | None:
    """The family of an engine error; None for store failures (internal, masked)."""
    for family in FAMILIES:
        if isinstance(error, family.error):
            return family
    return None
