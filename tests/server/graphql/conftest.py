"""Fixtures for GraphQL tests: the real app, a brain ``wave`` (sine preset, 6x6 grid), tokens.

``gql`` is shared by a test module (start-up and seeding happen once); tests
that change brains use their own brain names, or the function-scoped ``fresh``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import LiveApp, running_app

BRAIN = "wave"


@dataclass
class GraphQLClient:
    """Posts GraphQL documents to the live app's /graphql with a token of one scope."""

    live: LiveApp

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, scope: str | None = "read"
    ) -> httpx.Response:
        headers = self.live.auth(scope) if scope else {}
        return await self.live.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, scope: str = "read"
    ) -> dict[str, Any]:
        """The ``data`` of a request that must succeed without errors."""
        response = await self.post(query, variables, scope)
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        return body["data"]

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, scope: str = "read"
    ) -> dict[str, Any]:
        """The single error of a request that must fail."""
        response = await self.post(query, variables, scope)
        errors = response.json()["errors"]
        assert len(errors) == 1, errors
        return errors[0]


async def create_wave(live: LiveApp, name: str = BRAIN) -> None:
    state = live.state
    await asyncio.to_thread(state.service.create_brain_for_dataset, name, "sine", state.config)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def gql(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[GraphQLClient]:
    """One app per test module, with brain ``wave`` created."""
    async with running_app(tmp_path_factory.mktemp("graphql") / "marble-data") as live:
        await create_wave(live)
        yield GraphQLClient(live)


@pytest.fixture
async def fresh(tmp_path: Path) -> AsyncIterator[GraphQLClient]:
    """An app of this test's own, with brain ``wave`` created."""
    async with running_app(tmp_path / "marble-data") as live:
        await create_wave(live)
        yield GraphQLClient(live)
