"""The removed ``memory`` section: config files naming it are refused, stored records still load."""

from __future__ import annotations

from pathlib import Path

import pytest

from marble_graph.config import (
    MarbleConfig,
    config_from_mapping,
    config_json_schema,
    with_overrides,
)
from marble_graph.errors import ConfigError
from tests.config.test_config import load_error

# What ``model_dump`` wrote for the section before it was removed.
OLD_MEMORY_SECTION = {
    "vector_capacity": 10_000,
    "symbolic_capacity": 10_000,
    "instant_buffer_size": 10,
    "long_term_buffer_size": 100,
    "dream_replay": False,
    "replay_batch_size": 32,
}


def test_config_file_with_a_memory_section_is_an_unknown_key(tmp_path: Path) -> None:
    path, error = load_error(tmp_path, "seed:\n  width: 30\nmemory:\n  dream_replay: true\n")
    allowed = ", ".join(sorted(MarbleConfig.model_fields))
    assert error.problems == [f"{path}:3: unknown key 'memory' (allowed sections: {allowed})"]
    assert "memory" not in allowed


def test_memory_override_is_an_unknown_key() -> None:
    with pytest.raises(ConfigError) as caught:
        with_overrides(MarbleConfig(), {"memory.dream_replay": True})
    assert caught.value.problems[0].startswith("<overrides>: unknown key 'memory' (")


def test_schema_has_no_memory_section() -> None:
    schema = config_json_schema()
    assert "memory" not in schema["properties"]
    assert "MemoryConfig" not in schema.get("$defs", {})


def test_config_stored_before_the_removal_still_loads() -> None:
    # Brains, runs, exports and backups recorded a whole config, memory included.
    stored = MarbleConfig().model_dump(mode="json") | {"memory": OLD_MEMORY_SECTION}
    stored["seed"]["width"] = 30
    config = config_from_mapping(stored, source="brain 'old'")
    assert config.seed.width == 30
    assert "memory" not in config.model_dump()
