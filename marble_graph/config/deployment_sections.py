"""Configuration sections of a deployment: where the data lives, the server, logging.

Like ``brain_sections``, every field carries its default, type, range and a
one-line description.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from marble_graph.config.section_base import ConfigSection


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
    graph_compression: bool = Field(
        default=False,
        description=(
            "Let the graph engine compress columns it writes. Off: both engines lose "
            "float list values under it when generations are deleted and rewritten."
        ),
    )


class VersionsConfig(ConfigSection):
    """How much of each brain's history the data home keeps (a home-wide section).

    Home-wide, like ``storage``: it governs the disk of the data home, is read
    from ``marble.yaml`` by the process that writes (``marble train``, ``marble
    serve``), and takes effect at each brain's next write-back; it is not a
    property of a brain, so no brain's stored config needs changing to apply it.
    """

    keep: int = Field(
        default=20,
        ge=1,
        le=1_000_000,
        description=(
            "Most recent committed versions of each brain that keep their snapshot and "
            "shared layer (servable, comparable, restorable); tagged versions and the "
            "current version are always kept."
        ),
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
    max_upload_bytes: int = Field(
        default=268_435_456,
        ge=1024,
        le=1 << 40,
        description="Largest dataset upload (POST /datasets/{name}), in bytes; "
        "max_body_bytes bounds every other body.",
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
    graphql_introspection: bool = Field(
        default=True, description="Allow GraphQL schema introspection."
    )
    graphql_max_depth: int = Field(
        default=12, ge=2, le=1000, description="Deepest GraphQL query accepted."
    )
    graphql_max_tokens: int = Field(
        default=2000, ge=50, le=1_000_000, description="Most tokens in one GraphQL document."
    )
    graphql_max_aliases: int = Field(
        default=20, ge=1, le=10_000, description="Most aliases in one GraphQL document."
    )
    graphql_page_max: int = Field(
        default=1000, ge=1, le=1_000_000, description="Largest `first` of a GraphQL page."
    )
    token_cache_s: float = Field(
        default=2.0,
        ge=0.0,
        le=3600.0,
        description="How long a verified token is trusted before re-checking, in seconds.",
    )
    # Off by default: the line per request cost 0.15-0.3 ms of the event loop's CPU
    # per /infer request (12-25% of the server's CPU per request); /metrics counts requests.
    access_log: bool = Field(
        default=False, description="uvicorn's access log: one line per request."
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
