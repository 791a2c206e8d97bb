"""Retention of brain history: which versions keep their snapshots, and collecting the rest.

After each successful write-back the brain's committed versions beyond the
``versions.keep`` most recent (tagged versions and the current one are always
kept) are collected: the blob files no retained version of any brain still
references are deleted (a snapshot's table blobs, its manifest, the shared
layer's tensors, the experience buffers, an older home's single-envelope snapshot)
and the version's
``collected_at`` is set. Its record stays listed; serving, comparing or
rolling back to it raises ``VersionCollected``.

Deletion comes before the SQL mark, tables before their manifest: a crash in
between leaves the version unmarked and outside the kept set, so the next
write-back collects it again and finishes the job; nothing leaks and nothing
retained is ever touched. The caller holds the stores' write lock, so a
backup never copies a blob that is being deleted, and no write-back is
between writing its blobs and recording them (``versions.write_back``
re-checks its blobs under the lock).
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from torch import Tensor

from marble_graph.brain_graph import BrainGraph
from marble_graph.errors import MarbleError, StoreError
from marble_graph.snapshots import (
    MANIFEST_SUFFIX,
    put_graph_snapshot,
    snapshot_blob_files,
    snapshot_complete,
    snapshot_exists,
)
from marble_graph.store.home_stores import Stores
from marble_graph.store.metadata.version_history import (
    StoredVersion,
    blobs_in_use,
    mark_collected,
    versions_to_collect,
)

log = logging.getLogger(__name__)

PARAMS_SUFFIX = ".pt"  # BlobStore.put_tensors: shared layers and experience buffers


def collect_old_versions(stores: Stores, name: str) -> list[int]:
    """Collect ``name``'s versions outside ``versions.keep``; return their numbers.

    The caller holds ``stores.write_lock``.
    """
    keep = stores.versions.keep
    doomed = versions_to_collect(stores.metadata, name, keep)
    if not doomed:
        return []
    in_use = _files_in_use(stores, excluding={v.id for v in doomed})
    removed = 0
    for path in _files_to_delete(stores, doomed, in_use):
        removed += int(path.exists())
        path.unlink(missing_ok=True)
    mark_collected(stores.metadata, [v.id for v in doomed])
    # Caches that serve pinned versions re-check them after a commit.
    stores.committed()
    numbers = [v.version for v in doomed]
    log.info(
        "brain %r: collected versions %s (versions.keep: %d), %d blob files removed",
        name,
        numbers,
        keep,
        removed,
    )
    return numbers


def _files_in_use(stores: Stores, excluding: set[int]) -> set[tuple[str, str]]:
    """(digest, suffix) of every blob file a version not collected (nor about to be) needs."""
    tensor_blobs, snapshots = blobs_in_use(stores.metadata, excluding_ids=excluding)
    files = {(digest, PARAMS_SUFFIX) for digest in tensor_blobs}
    for digest in snapshots:
        if not snapshot_exists(stores.blobs, digest):
            # Without its manifest, which tables a kept version shares is unknown:
            # deleting nothing is the only safe answer (repair or restore it).
            raise StoreError(
                f"the snapshot {digest} of a kept version is missing from {stores.blobs.root}; "
                "retention deletes nothing until it is back"
            )
        files.update(snapshot_blob_files(stores.blobs, digest))
    return files


def _files_to_delete(
    stores: Stores, doomed: list[StoredVersion], in_use: set[tuple[str, str]]
) -> list[Path]:
    """The blob paths of ``doomed`` versions nothing else needs, manifests last."""
    tables_and_params: list[tuple[str, str]] = []
    manifests: list[tuple[str, str]] = []
    for version in doomed:
        for tensor_blob in (version.params_blob, version.experience_blob):
            if tensor_blob:
                tables_and_params.append((tensor_blob, PARAMS_SUFFIX))
        if version.snapshot_blob:
            for file in snapshot_blob_files(stores.blobs, version.snapshot_blob):
                (manifests if file[1] == MANIFEST_SUFFIX else tables_and_params).append(file)
    ordered = dict.fromkeys(tables_and_params + manifests)  # unique, in order
    return [stores.blobs.path(d, suffix) for d, suffix in ordered if (d, suffix) not in in_use]


def collect_after_write_back(stores: Stores, name: str) -> list[int]:
    """:func:`collect_old_versions` after a committed write-back; a failure is logged, not
    raised: the new version is committed whatever happens here, and the next write-back
    collects what this one could not."""
    try:
        return collect_old_versions(stores, name)
    except (MarbleError, OSError, SQLAlchemyError) as exc:
        log.warning("brain %r: retention after the write-back failed: %s", name, exc)
        return []


def keep_written_blobs(
    stores: Stores,
    graph: BrainGraph,
    shared_state: dict[str, Tensor] | None,
    params_blob: str | None,
    snapshot_blob: str,
) -> tuple[str | None, str]:
    """(params blob, snapshot blob) of a write-back, put back if retention removed them.

    A write-back stores its blobs before it takes the write lock; a version collected
    meanwhile may have shared one of them (equal content, equal digest). Called under
    the lock, before the version's row names them: from then on they count as in use.
    """
    if (
        shared_state is not None
        and params_blob is not None
        and not stores.blobs.path(params_blob, PARAMS_SUFFIX).exists()
    ):
        params_blob = stores.blobs.put_tensors(shared_state)
    if not snapshot_complete(stores.blobs, snapshot_blob):
        snapshot_blob = put_graph_snapshot(stores.blobs, graph)
    return params_blob, snapshot_blob


def keep_experience_blob(
    stores: Stores, experience: dict[str, Tensor] | None, experience_blob: str | None
) -> str | None:
    """The experience blob of a write-back, put back if retention removed it meanwhile
    (as ``keep_written_blobs`` does for the others; called under the write lock)."""
    if (
        experience
        and experience_blob is not None
        and not stores.blobs.path(experience_blob, PARAMS_SUFFIX).exists()
    ):
        return stores.blobs.put_tensors(experience)
    return experience_blob
