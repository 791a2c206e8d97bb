"""``ConfigSection``: the base of every configuration model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigSection(BaseModel):
    """Base of every configuration model: unknown keys are errors, values are immutable."""

    # Forbidding extras turns a typo ("widht") into an error instead of a silently
    # ignored key; freezing lets a loaded config be shared and hashed safely.
    model_config = ConfigDict(extra="forbid", frozen=True)
