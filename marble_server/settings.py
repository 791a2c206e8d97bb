"""Server settings: one pydantic-settings class, ``MARBLE_*`` variables override.

Precedence, lowest first: the field defaults, the ``server`` section of
``marble.yaml``, ``MARBLE_*`` environment variables, then arguments passed to
``load_settings`` (the ``marble serve`` options). ``create_app`` takes the
result, so a test builds its own settings with a temporary home.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from marble_graph.config import MarbleConfig, ServerConfig, load_config


class ServerSettings(BaseSettings):
    """Everything ``create_app`` needs to know about where it runs and its limits."""

    model_config = SettingsConfigDict(env_prefix="MARBLE_", extra="forbid")

    home: Path | None = Field(default=None, description="Data directory (MARBLE_HOME).")
    config: Path | None = Field(default=None, description="marble.yaml to load (MARBLE_CONFIG).")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65_535)
    dev_mode: bool = Field(default=False, description="GraphiQL and verbose errors.")
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=10_485_760, ge=1024)
    max_batch_size: int = Field(default=64, ge=1)
    batch_wait_ms: float = Field(default=2.0, ge=0.0)
    job_workers: int = Field(default=1, ge=1, le=64)
    inference_device: str = Field(default="cpu", description="cpu, cuda or auto.")
    graphql_introspection: bool = Field(default=True, description="Allow schema introspection.")
    graphql_max_depth: int = Field(default=12, ge=2)
    graphql_max_tokens: int = Field(default=2000, ge=50)
    graphql_max_aliases: int = Field(default=20, ge=1)
    graphql_page_max: int = Field(default=1000, ge=1, description="Largest `first` of a page.")
    token_cache_s: float = Field(
        default=2.0, ge=0.0, description="How long a verified token is trusted before re-checking."
    )
    # Off by default: the line per request cost 0.15-0.3 ms of the event loop's CPU
    # per /infer request (12-25% of the server's CPU per request); /metrics counts requests.
    access_log: bool = Field(
        default=False, description="uvicorn's access log: one line per request (`marble serve`)."
    )


def load_settings(marble_config: MarbleConfig | None = None, **overrides: Any) -> ServerSettings:
    """Settings from the config's ``server`` section, the environment and ``overrides``."""
    from_env = ServerSettings()
    if marble_config is None:
        marble_config = load_config(overrides.get("config") or from_env.config)
    server: ServerConfig = marble_config.server
    values: dict[str, Any] = server.model_dump()
    values.update({name: getattr(from_env, name) for name in from_env.model_fields_set})
    values.update({k: v for k, v in overrides.items() if v is not None})
    return ServerSettings(**values)
