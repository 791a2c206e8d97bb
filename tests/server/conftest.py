"""Fixtures for server tests: a real app (Kùzu + SQLite in a temp home) and scoped tokens.

``live_app`` enters the app's lifespan and yields a ``LiveApp``: an httpx
client over ``ASGITransport`` (in process, same event loop as the app) plus
one token per scope. Tests are ``anyio`` tests on asyncio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from marble_graph.config import MarbleConfig, config_from_mapping
from marble_graph.tokens import Scope, TokenStore
from marble_server import ServerSettings, create_app
from marble_server.state import ServerState
from tests.conftest import GRAPH_ENGINE

SCOPES = ("read", "infer", "train", "admin")


def server_config(engine: str = GRAPH_ENGINE, **learning: object) -> MarbleConfig:
    """A tiny regression-ready config: 6x6 grid, few epochs; trains in about a second."""
    return config_from_mapping(
        {
            "seed": {"width": 6, "height": 6, "output_fanin": 16, "random_seed": 7},
            "learning": {"epochs": 3, **learning},
            "dataset": {"stratify": False},
            "storage": {"graph_engine": engine},
            "logging": {"level": "WARNING"},
        }
    )


@dataclass
class LiveApp:
    app: FastAPI
    client: httpx.AsyncClient
    tokens: dict[str, str]  # scope name -> plain token with only that scope

    @property
    def state(self) -> ServerState:
        state: ServerState = self.app.state.marble
        return state

    def auth(self, scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[scope]}"}


@asynccontextmanager
async def running_app(
    home: Path, config: MarbleConfig | None = None, **settings: object
) -> AsyncIterator[LiveApp]:
    app = create_app(ServerSettings(home=home, **settings), config or server_config())
    async with app.router.lifespan_context(app):
        store = TokenStore(app.state.marble.service.metadata)
        # A second app on the same home (a restart) gets tokens of its own.
        existing = len(store.list())
        suffix = f"-{existing}" if existing else ""
        tokens = {
            scope: store.create(f"{scope}-token{suffix}", (Scope(scope),))[0] for scope in SCOPES
        }
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://marble.test") as client:
            yield LiveApp(app, client, tokens)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[LiveApp]:
    async with running_app(tmp_path / "marble-data") as live_app:
        yield live_app


@pytest.fixture
async def live_with_brain(live: LiveApp) -> LiveApp:
    """``live`` with brain ``wave`` created for the sine dataset (untrained)."""
    response = await live.client.post(
        "/brains", json={"name": "wave", "dataset": "sine"}, headers=live.auth("train")
    )
    assert response.status_code == 201, response.text
    return live
