"""``marble backup DEST`` and ``marble restore SRC``: copy a data home, restore it elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from marble_graph.backup_format import BackupManifest
from marble_graph.cli.context import FormatOption, check_format, err_console, print_json, state
from marble_graph.errors import StoreLocked
from marble_graph.service import BrainService


def backup(
    ctx: typer.Context,
    dest: Annotated[Path, typer.Argument(help="A new (or empty) directory for the backup.")],
    fmt: FormatOption = "table",
) -> None:
    """Copy this data home (metadata, brains, blobs) to DEST as one consistent state."""
    check_format(fmt, ("table", "json"))
    cli = state(ctx)
    root = cli.home(cli.config()).root
    try:
        with cli.service() as service, err_console.status(f"backing up {root}") as status:
            manifest = service.create_backup(dest, progress=lambda m: status.update(m))
    except StoreLocked as exc:
        # Only the process holding the graph database can copy it consistently.
        raise StoreLocked(
            f"data home {root} is open in another process (a running server?); back it up "
            'through the server: POST /admin/backup {"destination": "NAME"} with an admin '
            f"token writes {root / 'backups' / 'NAME'}"
        ) from exc
    _print_summary("backed up", manifest, fmt)


def restore(
    ctx: typer.Context,
    src: Annotated[Path, typer.Argument(help="A backup directory made by `marble backup`.")],
    fmt: FormatOption = "table",
) -> None:
    """Restore a backup into this data home, which must be new or empty."""
    check_format(fmt, ("table", "json"))
    cli = state(ctx)
    config = cli.config()
    home = cli.home(config)
    with (
        err_console.status(f"restoring {src} into {home.root}") as status,
        BrainService(config, home) as service,
    ):
        manifest = service.restore_backup(src, progress=lambda m: status.update(m))
    _print_summary("restored", manifest, fmt)


def _print_summary(verb: str, manifest: BackupManifest, fmt: str) -> None:
    if fmt == "json":
        print_json({**manifest.as_dict(), "path": str(manifest.path), "bytes": manifest.bytes})
        return
    names = ", ".join(b.name for b in manifest.brains) or "none"
    err_console.print(
        f"{verb} {len(manifest.brains)} brains ({names}), {manifest.blobs} blobs, "
        f"{manifest.bytes} bytes: {manifest.path}"
    )
