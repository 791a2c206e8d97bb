"""Named failure points for testing crash safety between the two stores.

Production code calls ``failpoint("create.after_graph")`` at the moments where
a crash would leave the stores disagreeing. Normally that does nothing. A test
arms a point either in-process (``armed("name")`` raises ``InjectedFailure``)
or for a child process through ``MARBLE_FAILPOINTS=name=crash`` (the process
exits at once with status 86, like a kill, running no cleanup). ``name=crash@3``
fires on the third time the point is reached, for failures deep into a run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

CRASH_EXIT_CODE = 86
_armed_in_process: set[str] = set()
_hits: dict[str, int] = {}


class InjectedFailure(RuntimeError):
    """Raised at an armed failure point."""


def _env_actions() -> dict[str, str]:
    actions = {}
    for item in os.environ.get("MARBLE_FAILPOINTS", "").split(","):
        name, _, action = item.strip().partition("=")
        if name:
            actions[name] = action or "raise"
    return actions


def failpoint(name: str) -> None:
    """Fail here if ``name`` is armed; otherwise return immediately."""
    action = "raise" if name in _armed_in_process else _env_actions().get(name)
    if action is None:
        return
    action, _, nth = action.partition("@")
    _hits[name] = _hits.get(name, 0) + 1
    if nth and _hits[name] < int(nth):
        return
    if action == "crash":
        os._exit(CRASH_EXIT_CODE)
    raise InjectedFailure(f"injected failure at {name}")


@contextmanager
def armed(name: str) -> Iterator[None]:
    """Arm ``name`` in this process for the duration of the block."""
    _armed_in_process.add(name)
    try:
        yield
    finally:
        _armed_in_process.discard(name)
