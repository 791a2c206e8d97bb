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


class ServerSettings(BaseSettings, ServerConfig):
    """The ``server`` config section (every key, with its bounds) plus where the server
    finds its data; one definition, so a limit cannot differ between the two."""

    model_config = SettingsConfigDict(env_prefix="MARBLE_", extra="forbid")

    home: Path | None = Field(default=None, description="Data directory (MARBLE_HOME).")
    config: Path | None = Field(default=None, description="marble.yaml to load (MARBLE_CONFIG).")


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
