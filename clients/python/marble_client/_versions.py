"""``client.versions``: a brain's history: list, show, diff, tag, untag and roll back.

``Versions`` (sync) and ``AsyncVersions`` mirror each other name for name. A version
is named by its number or by one of the brain's tags (``3`` or ``"best"``). A version
that retention (the server's ``versions.keep``) collected raises ``NotFound`` whose
``slug`` is ``version-collected``; its record is still listed.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from marble_client import _calls as calls
from marble_client._calls import VersionRef, parse, parse_list
from marble_client._models import Brain, BrainVersion, VersionDiff

if TYPE_CHECKING:
    from marble_client._async_client import AsyncMarbleClient
    from marble_client._client import MarbleClient


class Versions:
    """``client.versions``: a brain's committed versions and their tags."""

    def __init__(self, client: MarbleClient) -> None:
        self._client = client

    def list(self, name: str) -> builtins.list[BrainVersion]:
        """Every committed version of the brain, oldest first, with tags and flags."""
        return parse_list(self._client._send(calls.brain_versions(name)), BrainVersion)

    def show(self, name: str, ref: VersionRef) -> BrainVersion:
        """One version, by number or tag (a collected one too: its record stays)."""
        return parse(self._client._send(calls.show_version(name, ref)), BrainVersion)

    def diff(self, name: str, a: VersionRef, b: VersionRef) -> VersionDiff:
        """What changed from version ``a`` to ``b``: neurons, synapses, weights."""
        return parse(self._client._send(calls.diff_versions(name, a, b)), VersionDiff)

    def tag(
        self, name: str, ref: VersionRef, tag: str, *, idempotency_key: str | None = None
    ) -> BrainVersion:
        """Name a version by ``tag`` (train scope); a tag in use raises ``Conflict``."""
        call = calls.tag_version(name, ref, tag, idempotency_key)
        return parse(self._client._send(call), BrainVersion)

    def untag(self, name: str, tag: str) -> BrainVersion:
        """Remove ``tag`` (train scope); returns the version it named."""
        return parse(self._client._send(calls.untag_version(name, tag)), BrainVersion)

    def rollback(self, name: str, ref: VersionRef, *, idempotency_key: str | None = None) -> Brain:
        """Make version ``ref`` current again as a new, identical version (train scope)."""
        call = calls.rollback_brain(name, ref, idempotency_key)
        return parse(self._client._send(call), Brain)


class AsyncVersions:
    """``client.versions`` of ``AsyncMarbleClient``: the async twin of ``Versions``."""

    def __init__(self, client: AsyncMarbleClient) -> None:
        self._client = client

    async def list(self, name: str) -> builtins.list[BrainVersion]:
        """Every committed version of the brain, oldest first, with tags and flags."""
        return parse_list(await self._client._send(calls.brain_versions(name)), BrainVersion)

    async def show(self, name: str, ref: VersionRef) -> BrainVersion:
        """One version, by number or tag (a collected one too: its record stays)."""
        return parse(await self._client._send(calls.show_version(name, ref)), BrainVersion)

    async def diff(self, name: str, a: VersionRef, b: VersionRef) -> VersionDiff:
        """What changed from version ``a`` to ``b``: neurons, synapses, weights."""
        return parse(await self._client._send(calls.diff_versions(name, a, b)), VersionDiff)

    async def tag(
        self, name: str, ref: VersionRef, tag: str, *, idempotency_key: str | None = None
    ) -> BrainVersion:
        """Name a version by ``tag`` (train scope); a tag in use raises ``Conflict``."""
        call = calls.tag_version(name, ref, tag, idempotency_key)
        return parse(await self._client._send(call), BrainVersion)

    async def untag(self, name: str, tag: str) -> BrainVersion:
        """Remove ``tag`` (train scope); returns the version it named."""
        return parse(await self._client._send(calls.untag_version(name, tag)), BrainVersion)

    async def rollback(
        self, name: str, ref: VersionRef, *, idempotency_key: str | None = None
    ) -> Brain:
        """Make version ``ref`` current again as a new, identical version (train scope)."""
        call = calls.rollback_brain(name, ref, idempotency_key)
        return parse(await self._client._send(call), Brain)
