"""Errors raised by the MARBLE engine.

Callers catch a family, never a bare ``Exception``::

    MarbleError                 base of everything the engine raises on purpose
     ├── NotFound               a brain (or other named object) does not exist
     │    ├── UnknownBrain      ... a brain, naming the known ones (``brief`` does not)
     │    └── VersionCollected  ... any more: retention removed the version's snapshot
     ├── Conflict               the name is taken, or the object is in the wrong state
     │    └── BrainDamaged      the graph no longer matches the version's record
     ├── ValidationFailed       the caller's input is wrong (data, file, argument)
     │    ├── ConfigError       a configuration file or mapping is invalid
     │    ├── QueryRefused      a read-only query tried to write or escape
     │    └── QueryFailed       an exploration query failed in the engine
     │         └── QueryTimedOut  ... or ran past its time limit
     ├── StoreLocked            another process holds the database read-write
     └── StoreError             a store failed or its contents are inconsistent

Every message names what is wrong: the key, path, line, value, or the
expected and actual values, so the user can fix it without reading code.
"""

from __future__ import annotations


class MarbleError(Exception):
    """Base class of all errors the engine raises deliberately."""


class NotFound(MarbleError):
    """A named object (brain, version, dataset...) does not exist."""


class UnknownBrain(NotFound):
    """No committed brain has this name.

    The message lists the brains there are, which helps at the local CLI;
    ``brief`` names only the missing brain, for callers (API clients) who may
    not learn which other brains exist.
    """

    def __init__(self, name: str, known: list[str] | None = None) -> None:
        self.name = name
        self.brief = f"unknown brain {name!r}"
        listing = "" if known is None else f" (brains: {', '.join(known[:20]) or 'none yet'})"
        super().__init__(self.brief + listing)


class VersionCollected(NotFound):
    """The version existed, but retention (``versions.keep``) removed its snapshot.

    Its record is still listed; it can no longer be served, compared or rolled
    back to. The message names the version, the policy and the versions kept.
    """

    def __init__(self, name: str, version: int, keep: int, retained: list[int]) -> None:
        self.name, self.version, self.keep, self.retained = name, version, keep, retained
        super().__init__(
            f"version {version} of brain {name!r} was collected by retention "
            f"(versions.keep: {keep}; tagged versions and the current one are always kept); "
            f"its snapshot is gone. Retained versions: {_version_list(retained)}"
        )


def _version_list(versions: list[int]) -> str:
    shown = ", ".join(str(v) for v in versions[:30])
    return shown + (f" and {len(versions) - 30} more" if len(versions) > 30 else "") or "none"


class Conflict(MarbleError):
    """The request clashes with existing state (duplicate name, wrong state)."""


class BrainDamaged(Conflict):
    """The graph store no longer matches the brain's current version record.

    Nothing builds on a damaged brain; ``marble brain repair NAME`` restores
    the version from its snapshot.
    """


class ValidationFailed(MarbleError):
    """The caller's input is invalid."""


class ConfigError(ValidationFailed):
    """A configuration file or mapping failed validation.

    ``problems`` holds one human-readable line per fault, each naming the
    file, line (when known) and dotted key path.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = problems if problems is not None else [message]


class QueryRefused(ValidationFailed):
    """A read-only exploration query attempted a write or a forbidden clause."""


class QueryFailed(ValidationFailed):
    """An exploration query was accepted but failed in the engine (its own fault)."""


class QueryTimedOut(QueryFailed):
    """An exploration query ran past its time limit and was interrupted."""


class StoreLocked(MarbleError):
    """The graph database is held read-write by another process."""


class StoreError(MarbleError):
    """A store failed, or the two stores disagree in a way that needs attention."""
