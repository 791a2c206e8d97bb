"""Server settings: precedence (config < MARBLE_* < arguments) and what they switch on."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from marble_graph.config import ServerConfig, config_from_mapping
from marble_graph.errors import ConfigError
from marble_server import load_settings
from marble_server.settings import ServerSettings
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


def test_every_server_config_key_is_a_setting_with_the_same_bounds() -> None:
    config_fields, settings_fields = ServerConfig.model_fields, ServerSettings.model_fields
    assert set(config_fields) <= set(settings_fields)
    assert set(settings_fields) - set(config_fields) == {"home", "config"}
    for name, field in config_fields.items():
        assert settings_fields[name].metadata == field.metadata, name
        assert settings_fields[name].default == field.default, name


def test_a_batch_size_the_config_refuses_is_refused_from_the_environment_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Before, the config bounded max_batch_size and MARBLE_MAX_BATCH_SIZE did not.
    with pytest.raises(ConfigError, match="max_batch_size"):
        config_from_mapping({"server": {"max_batch_size": 200_000}})
    monkeypatch.setenv("MARBLE_MAX_BATCH_SIZE", "200000")
    with pytest.raises(ValidationError, match="max_batch_size"):
        load_settings(config_from_mapping({}))


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
