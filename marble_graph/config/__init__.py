"""Configuration of a MARBLE engine: one ``marble.yaml`` validated by pydantic.

Every key has a default, so an empty or partial file is valid; see
``schema/config.schema.json`` for the full list with types, ranges and
descriptions. Errors are :class:`marble_graph.errors.ConfigError`, one line
per fault naming the file, line and dotted key.
"""

from marble_graph.config.brain_sections import (
    CoreConfig,
    DatasetConfig,
    DreamsConfig,
    LearningConfig,
    LobesConfig,
    MemoriesConfig,
    NeuromodulationConfig,
    NeuronenblitzConfig,
    PlasticityConfig,
    SeedConfig,
)
from marble_graph.config.deployment_sections import (
    LoggingConfig,
    ServerConfig,
    StorageConfig,
    VersionsConfig,
)
from marble_graph.config.loader import (
    canonical_config_json,
    config_from_mapping,
    config_hash,
    config_json_schema,
    config_to_yaml,
    load_config,
    parse_config_text,
    with_overrides,
    write_config_schema,
)
from marble_graph.config.sections import MarbleConfig

__all__ = [
    "CoreConfig",
    "DatasetConfig",
    "DreamsConfig",
    "LearningConfig",
    "LobesConfig",
    "LoggingConfig",
    "MarbleConfig",
    "MemoriesConfig",
    "NeuromodulationConfig",
    "NeuronenblitzConfig",
    "PlasticityConfig",
    "SeedConfig",
    "ServerConfig",
    "StorageConfig",
    "VersionsConfig",
    "canonical_config_json",
    "config_from_mapping",
    "config_hash",
    "config_json_schema",
    "config_to_yaml",
    "load_config",
    "parse_config_text",
    "with_overrides",
    "write_config_schema",
]
