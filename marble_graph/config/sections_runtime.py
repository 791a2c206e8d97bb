"""Configuration sections for where a brain lives and how it is served.

Storage, the HTTP server, logging and the dataset. Like
``sections_model``, every field carries its default, type, range and a
one-line description.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from marble_graph.config.sections_model import ConfigSection


class StorageConfig(ConfigSection):
    """The graph database and the SQL metadata store."""

    home: str = Field(
        default="./marble-data",
        min_length=1,
        description="Directory holding all brains and metadata.",
    )
    graph_engine: Literal["kuzu", "ladybug"] = Field(
        default="ladybug",
        description=(
            "Embedded graph database that stores neurons and synapses (kuzu: Kùzu 0.11.3, "
            "which loses committed synapses when a failed bulk copy rolls back)."
        ),
    )
    verify_hash_max_synapses: int = Field(
        default=200_000,
        ge=0,
        le=10_000_000_000,
        description="On open, re-hash brains up to this many synapses (counts are always checked).",
    )
    metadata_url: str | None = Field(
        default=None,
        min_length=1,
        description="SQLAlchemy URL of the metadata store; null means home/metadata.sqlite.",
    )
    buffer_pool_mb: int = Field(
        default=512, ge=16, le=1_048_576, description="Graph database buffer pool, in MiB."
    )
    query_row_limit: int = Field(
        default=1000, ge=1, le=10_000_000, description="Most rows an exploration query returns."
    )
    query_timeout_s: float = Field(
        default=30.0, gt=0.0, le=86_400.0, description="Exploration query time limit, in seconds."
    )
    query_concurrency: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Exploration queries run at once, each on its own one-thread connection.",
    )


class ServerConfig(ConfigSection):
    """The HTTP API server."""

    host: str = Field(default="127.0.0.1", min_length=1, description="Address the server binds to.")
    port: int = Field(default=8000, ge=1, le=65_535, description="TCP port the server listens on.")
    dev_mode: bool = Field(
        default=False, description="Development mode: verbose errors; never use in production."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS; empty allows none."
    )
    max_body_bytes: int = Field(
        default=10_485_760,
        ge=1024,
        le=1 << 32,
        description="Largest accepted request body, in bytes.",
    )
    max_batch_size: int = Field(
        default=64, ge=1, le=100_000, description="Most inference requests batched into one pass."
    )
    batch_wait_ms: float = Field(
        default=2.0,
        ge=0.0,
        le=10_000.0,
        description="How long a request waits to fill a batch, in ms.",
    )
    job_workers: int = Field(
        default=1, ge=1, le=64, description="Concurrent background training jobs."
    )


class LoggingConfig(ConfigSection):
    """Log level and format."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Least severe level that is logged."
    )
    structured: bool = Field(default=False, description="Write JSON lines instead of plain text.")
    log_file: str | None = Field(
        default=None, min_length=1, description="File to append logs to; null logs to stderr."
    )


class DatasetConfig(ConfigSection):
    """The dataset a brain trains on and how it is split."""

    name: str = Field(
        default="digits",
        min_length=1,
        max_length=256,
        description="Name of the dataset to train on.",
    )
    test_fraction: float = Field(
        default=0.25, gt=0.0, lt=1.0, description="Share of examples held out for testing."
    )
    split_random_state: int = Field(
        default=0, ge=0, le=2**32 - 1, description="Random state of the train/test split."
    )
    stratify: bool = Field(default=True, description="Keep class proportions equal across splits.")
    feature_columns: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Feature columns of a tabular dataset; null uses all but the target.",
    )
    target_column: str | None = Field(
        default=None,
        min_length=1,
        description="Target column of a tabular dataset; null uses the dataset's own.",
    )
