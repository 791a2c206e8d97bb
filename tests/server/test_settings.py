"""Server settings: precedence (config < MARBLE_* < arguments) and what they switch on."""

from __future__ import annotations

from pathlib import Path

import pytest

from marble_graph.config import config_from_mapping
from marble_server import load_settings
from tests.server.conftest import running_app

pytestmark = pytest.mark.anyio


def test_environment_overrides_config_and_arguments_override_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = config_from_mapping({"server": {"port": 9001, "max_batch_size": 8}})
    assert load_settings(config).port == 9001
    monkeypatch.setenv("MARBLE_PORT", "9002")
    monkeypatch.setenv("MARBLE_CORS_ORIGINS", '["https://app.example"]')
    settings = load_settings(config)
    assert (settings.port, settings.max_batch_size) == (9002, 8)
    assert settings.cors_origins == ["https://app.example"]
    assert load_settings(config, port=9003).port == 9003


async def test_cors_allows_only_configured_origins(tmp_path: Path) -> None:
    preflight = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    async with running_app(tmp_path / "a", cors_origins=["https://app.example"]) as live:
        allowed = await live.client.options("/infer", headers=preflight)
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        other = await live.client.options(
            "/infer", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers
    async with running_app(tmp_path / "b") as live:
        closed = await live.client.options("/infer", headers=preflight)
        assert "access-control-allow-origin" not in closed.headers


async def test_body_limit_setting_is_applied(tmp_path: Path) -> None:
    async with running_app(tmp_path / "h", max_body_bytes=2048) as live:
        response = await live.client.post(
            "/infer", json={"brain": "x", "inputs": [[0.5] * 600]}, headers=live.auth("infer")
        )
        assert response.status_code == 413
        assert "2048" in response.json()["detail"]
