"""Where a MARBLE installation keeps its data (``MARBLE_HOME``).

Layout: ``graph/`` (the graph database), ``metadata.sqlite`` (the default SQL
metadata store), ``blobs/`` (content-addressed artifacts) and ``logs/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = "./marble-data"


@dataclass(frozen=True)
class DataHome:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def resolve(cls, explicit: str | Path | None = None, configured: str | None = None) -> DataHome:
        """Pick the home: an explicit argument, else ``$MARBLE_HOME``, else the config's."""
        chosen = explicit or os.environ.get("MARBLE_HOME") or configured or DEFAULT_HOME
        return cls(Path(chosen).expanduser().resolve())

    @property
    def graph_dir(self) -> Path:
        return self.root / "graph"

    def graph_path(self, engine: str) -> Path:
        # One database file per engine: Kùzu and LadybugDB files are not interchangeable.
        return self.graph_dir / ("brains.kuzu" if engine == "kuzu" else f"brains.{engine}")

    @property
    def metadata_url(self) -> str:
        return f"sqlite:///{self.root / 'metadata.sqlite'}"

    @property
    def blobs_dir(self) -> Path:
        return self.root / "blobs"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def exists(self) -> bool:
        return self.graph_dir.is_dir()

    def create_dirs(self) -> None:
        for directory in (self.graph_dir, self.blobs_dir, self.logs_dir):
            directory.mkdir(parents=True, exist_ok=True)
