"""The files of a backup: its manifest, SQL rows as JSON Lines, and blob files.

``backup.py`` decides what goes into a backup and when; this module only says
how each piece is written and read back, so both directions share one format.
Rows travel as JSON: timestamps as ISO 8601 with their offset, binary columns
as base64, enum members as their values; everything else is already JSON.
"""

from __future__ import annotations

import base64
import enum
import errno
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from marble_graph.data_home import DataHome
from marble_graph.errors import NotFound, StoreError, ValidationFailed
from marble_graph.store.metadata.models import UTCDateTime

FORMAT_NAME = "marble-backup"
FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
PARTIAL_SUFFIX = ".partial"
BACKUPS_DIR = "backups"
# A backup name given to the server: one path component, never "." or "..".
BACKUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
DIGEST = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class BackupBrain:
    """One brain as the backup holds it: its current version and that generation's hash,
    and its memories: how many, and the id its next one gets (None: it never had one)."""

    name: str
    version: int
    graph_key: int
    graph_hash: str
    neuron_count: int
    synapse_count: int
    memories: int = 0
    memory_next_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "graph_key": self.graph_key,
            "graph_hash": self.graph_hash,
            "neuron_count": self.neuron_count,
            "synapse_count": self.synapse_count,
            "memories": self.memories,
            "memory_next_id": self.memory_next_id,
        }


@dataclass(frozen=True)
class BackupManifest:
    """What ``manifest.json`` records, plus where the backup is and its size on disk."""

    path: Path
    created_at: datetime
    marble_version: str
    engine: str
    alembic_revision: str
    brains: list[BackupBrain]
    tables: dict[str, int]  # rows per SQL table
    blobs: int
    bytes: int = field(default=0)

    def as_dict(self) -> dict[str, Any]:
        """The manifest document (without the path, which is wherever the backup lies)."""
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "marble_version": self.marble_version,
            "created_at": self.created_at.isoformat(),
            "engine": self.engine,
            "alembic_revision": self.alembic_revision,
            "brains": [b.as_dict() for b in self.brains],
            "tables": self.tables,
            "blobs": self.blobs,
        }

    def summary(self, home: Path) -> dict[str, Any]:
        """What a server tells its client: the path relative to ``home``, brains and size."""
        return {
            "path": self.path.absolute().relative_to(Path(home).absolute()).as_posix(),
            "created_at": self.created_at.isoformat(),
            "brains": [b.as_dict() for b in self.brains],
            "blobs": self.blobs,
            "bytes": self.bytes,
        }


def blob_files(root: Path, digest: str) -> list[Path]:
    """The files of blob ``digest`` under ``root`` (its suffix depends on its kind)."""
    # A blob is stored as <digest><suffix>; the suffix depends on its kind.
    folder = root / digest[:2]
    return sorted(p for p in folder.glob(f"{digest}*") if p.is_file()) if folder.is_dir() else []


def copy_blob_files(source_root: Path, target_root: Path, digest: str) -> int:
    """Link or copy blob ``digest`` into ``target_root``; return how many files it has."""
    files = blob_files(source_root, digest)
    if not files:
        raise StoreError(
            f"blob {digest} is referenced by the metadata but missing from {source_root}"
        )
    for file in files:
        link_or_copy(file, target_root / digest[:2] / file.name)
    return len(files)


def link_or_copy(source: Path, target: Path) -> None:
    """Hard-link (blobs are never changed in place), or copy across filesystems."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        shutil.copy2(source, target)


def read_manifest(src: Path) -> dict[str, Any]:
    """The backup's manifest, checked for format and the keys restore needs."""
    if not src.is_dir():
        if src.with_name(src.name + PARTIAL_SUFFIX).is_dir():
            raise ValidationFailed(f"{src} is an unfinished backup ({src.name}{PARTIAL_SUFFIX})")
        raise NotFound(f"backup {src} does not exist")
    path = src / MANIFEST_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValidationFailed(f"{src}: no {MANIFEST_FILE}; not a MARBLE backup") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"{path}: invalid JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise ValidationFailed(f"{path}: not a MARBLE backup manifest (format {FORMAT_NAME!r})")
    if document.get("format_version") != FORMAT_VERSION:
        raise ValidationFailed(
            f"{path}: backup format_version {document.get('format_version')!r} is not supported "
            f"(expected {FORMAT_VERSION})"
        )
    for key in (
        "marble_version",
        "created_at",
        "engine",
        "alembic_revision",
        "brains",
        "tables",
        "blobs",
    ):
        if key not in document:
            raise ValidationFailed(f"{path}: manifest lacks '{key}'")
    if not isinstance(document["brains"], list):
        raise ValidationFailed(f"{path}: 'brains' must be a list")
    return document


def brain_from_manifest(entry: Any, src: Path) -> BackupBrain:
    """One brain entry of a manifest, checked for its fields and types.

    Backups taken before memories travelled have no memory fields: no memories.
    """
    try:
        next_id = entry.get("memory_next_id")
        return BackupBrain(
            name=str(entry["name"]),
            version=int(entry["version"]),
            graph_key=int(entry["graph_key"]),
            graph_hash=str(entry["graph_hash"]),
            neuron_count=int(entry["neuron_count"]),
            synapse_count=int(entry["synapse_count"]),
            memories=int(entry.get("memories", 0)),
            memory_next_id=None if next_id is None else int(next_id),
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ValidationFailed(f"{src}: invalid brain entry in the manifest: {entry!r}") from exc


# -- rows as JSON -------------------------------------------------------------------


def encode_row(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    """A row of ``table`` as JSON values."""
    encoded = {}
    for column in table.columns:
        value = row[column.name]
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, bytes):
            value = base64.b64encode(value).decode("ascii")
        elif isinstance(value, enum.Enum):
            value = value.value
        encoded[column.name] = value
    return encoded


def decode_row(table: sa.Table, row: dict[str, Any], home: DataHome) -> dict[str, Any]:
    """A row written by ``encode_row`` back as column values, for ``home``."""
    decoded = {}
    for column in table.columns:
        if column.name not in row:
            raise ValidationFailed(
                f"backup table {table.name!r}: a row lacks column {column.name!r}"
            )
        value = row[column.name]
        if value is not None and isinstance(column.type, UTCDateTime):
            value = datetime.fromisoformat(value)
        elif value is not None and isinstance(column.type, sa.LargeBinary):
            value = base64.b64decode(value)
        decoded[column.name] = value
    if table.name == "dataset_versions":
        # The path names a blob of the home; point it into the restored one.
        stored = Path(decoded["blob_path"])
        decoded["blob_path"] = str(home.blobs_dir / stored.parent.name / stored.name)
    return decoded


def write_jsonl(path: Path, rows: Iterator[dict[str, Any]]) -> None:
    """Write ``rows`` to ``path``, one JSON object a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, separators=(",", ":")) + "\n")


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of ``path``, one a line; a bad line is an error naming it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise ValidationFailed(f"backup file {path} is missing") from exc
    for number, line in enumerate(lines, start=1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValidationFailed(f"{path}:{number}: invalid JSON ({exc})") from exc
        if not isinstance(row, dict):
            raise ValidationFailed(f"{path}:{number}: expected a JSON object")
        yield row


def tree_bytes(root: Path) -> int:
    """Bytes of every file under ``root``."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
