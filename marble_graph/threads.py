"""How many CPU threads torch uses in this process (``core.threads``).

torch's default is one intra-op thread per core of the machine, whatever
this process may actually use: a container limited to one CPU by its cgroup,
or a process pinned to two cores by ``taskset``, would still start one thread
per host core, and the threads of one parallel region then wait on each
other for scheduler slices. ``core.threads: auto`` (or ``0``) instead means
the cores this process may use: its CPU affinity, capped by the cgroup's CPU
quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``/``cpu.cfs_period_us``).

Two MARBLE processes on one machine must not each take every core. Each
compute process (training, inference, serving) holds a *slot*: an
exclusively ``flock``-ed file in a per-user runtime directory. With ``auto``
the process counts the slots held right now and takes ``cores // count``
threads (at least one); it counts again between epochs (:meth:`CoreShare.rebalance`),
so a run started first gives up cores when a second starts and takes them
back when it ends. The kernel drops a lock when its process dies, so a
crashed process never leaves a stale slot behind. An explicit number is
used as given, without sharing.

Call :func:`share_cores` early in a process, before any parallel torch work:
the inter-op pool can be sized only once.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

logger = logging.getLogger(__name__)

ThreadsSetting = int | Literal["auto"]

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")
# More concurrent MARBLE compute processes than this on one machine count as this many.
MAX_SLOTS = 64


def parse_cpu_max(text: str) -> float | None:
    """CPUs allowed by a cgroup v2 ``cpu.max`` ("QUOTA PERIOD"); None when unlimited."""
    parts = text.split()
    if not parts or parts[0] == "max":
        return None
    quota = int(parts[0])
    period = int(parts[1]) if len(parts) > 1 else 100_000
    return quota / period if quota > 0 and period > 0 else None


def parse_cfs_quota(quota_text: str, period_text: str) -> float | None:
    """CPUs allowed by cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``; None: no quota."""
    quota, period = int(quota_text.strip()), int(period_text.strip())
    return quota / period if quota > 0 and period > 0 else None


def cgroup_cpu_limit(
    cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_SELF_CGROUP
) -> float | None:
    """The tightest CPU quota over this process's cgroup and its ancestors; None if none.

    A quota on any ancestor applies too, so every level from the process's own
    cgroup up to the mount root is read. Inside a container the path in
    ``/proc/self/cgroup`` may not exist under the mount (its root is the
    container's own cgroup); the root's files are read in any case.
    """
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        lines = []
    limits: list[float] = []
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and not controllers:
            limits += _levels(cgroup_root, path, _read_cpu_max)
        elif "cpu" in controllers.split(","):
            for mount in (controllers, "cpu", "cpu,cpuacct"):
                if (cgroup_root / mount).is_dir():
                    limits += _levels(cgroup_root / mount, path, _read_cfs)
                    break
    if not lines:  # No /proc: the unified root, then the v1 cpu controller.
        limits += _levels(cgroup_root, "/", _read_cpu_max)
        limits += _levels(cgroup_root / "cpu", "/", _read_cfs)
    return min(limits) if limits else None


def _levels(base: Path, path: str, read: Callable[[Path], float | None]) -> list[float]:
    """The limits ``read`` finds at ``base/path`` and each ancestor up to ``base``."""
    found: list[float] = []
    directory = base / path.strip("/")
    while True:
        limit = read(directory)
        if limit is not None:
            found.append(limit)
        if directory == base or base not in directory.parents:
            return found
        directory = directory.parent


def _read_cpu_max(directory: Path) -> float | None:
    try:
        return parse_cpu_max((directory / "cpu.max").read_text())
    except (OSError, ValueError):
        return None


def _read_cfs(directory: Path) -> float | None:
    try:
        quota = (directory / "cpu.cfs_quota_us").read_text()
        period = (directory / "cpu.cfs_period_us").read_text()
        return parse_cfs_quota(quota, period)
    except (OSError, ValueError):
        return None


def usable_cpus(
    affinity: set[int] | None = None,
    cgroup_root: Path = CGROUP_ROOT,
    proc_cgroup: Path = PROC_SELF_CGROUP,
) -> int:
    """Cores this process may use: its affinity mask, capped by its cgroup's quota (at least 1)."""
    if affinity is None:
        affinity = _affinity()
    cpus = len(affinity) if affinity else (os.cpu_count() or 1)
    quota = cgroup_cpu_limit(cgroup_root, proc_cgroup)
    if quota is not None:
        # 1.5 CPUs of quota keep two threads busy most of the time: round up.
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


def _affinity() -> set[int]:
    getter = getattr(os, "sched_getaffinity", None)
    if getter is None:  # macOS, Windows: no affinity mask to honour
        return set()
    return set(getter(0))


def threads_for(setting: ThreadsSetting, cpus: int, sharing: int = 1, spare: int = 0) -> int:
    """Intra-op threads for ``setting``: a number as given, ``auto``/0 ``cpus // sharing``
    less ``spare`` (cores the process keeps for work outside torch), at least one."""
    if setting == "auto" or setting == 0:
        return max(1, cpus // max(1, sharing) - spare)
    return int(setting)


def runtime_dir() -> Path:
    """This user's directory for slot files: ``$XDG_RUNTIME_DIR/marble``, else a temp dir."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and Path(base).is_dir():
        return Path(base) / "marble"
    return Path(tempfile.gettempdir()) / f"marble-{os.getuid()}"


@dataclass
class CoreShare:
    """This process's slot among the MARBLE compute processes of this user on this machine."""

    setting: ThreadsSetting
    cpus: int
    directory: Path
    spare: int = 0  # cores of the share left to the process's own threads (auto only)
    threads: int = 0
    _slot: IO[bytes] | None = field(default=None, repr=False)

    def acquire(self) -> None:
        """Hold the first free slot (none when the directory is unusable: then no sharing)."""
        if self._slot is not None or not _private_dir(self.directory):
            return
        for index in range(MAX_SLOTS):
            handle = (self.directory / f"slot-{index}.lock").open("ab")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                handle.close()
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    continue
                raise
            self._slot = handle
            return

    def release(self) -> None:
        """Give the slot back (closing the file drops the lock)."""
        if self._slot is not None:
            self._slot.close()
            self._slot = None

    def holders(self) -> int:
        """Slots held right now by any process, this one included (at least 1)."""
        if not self.directory.is_dir():
            return 1
        held = 0
        for path in self.directory.glob("slot-*.lock"):
            if self._slot is not None and path.name == Path(self._slot.name).name:
                held += 1
                continue
            # A shared probe fails only against a holder's exclusive lock; two
            # probing processes never see each other as holders.
            try:
                with path.open("rb") as probe:
                    fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                held += 1
        return max(1, held)

    def wanted_threads(self) -> int:
        """Intra-op threads this process should use now."""
        sharing = self.holders() if self._slot is not None else 1
        return threads_for(self.setting, self.cpus, sharing, self.spare)

    def rebalance(self) -> int:
        """Recount the holders and resize torch's intra-op pool of the calling thread.

        torch keeps the intra-op size per thread once a thread has used it, so
        call this on the thread that computes (a training loop between epochs).
        """
        wanted = self.wanted_threads()
        if wanted != self.threads:
            import torch

            torch.set_num_threads(wanted)
            logger.debug("torch intra-op threads %d -> %d", self.threads, wanted)
            self.threads = wanted
        return self.threads


def _private_dir(directory: Path) -> bool:
    """Create ``directory`` (mode 0700) and check this user owns it; False when unusable."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return directory.stat().st_uid == os.getuid()
    except OSError:
        return False


_current: CoreShare | None = None


def share_cores(
    setting: ThreadsSetting, directory: Path | None = None, spare: int = 0
) -> CoreShare:
    """Size torch's thread pools for this process from ``core.threads`` (once per process).

    Takes a slot when ``setting`` is ``auto``/0, sets the intra-op threads from
    the slots held (less ``spare`` cores, kept for the process's own threads:
    a server's event loop) and the inter-op threads to the usable cores.
    Later calls return the same share. The inter-op size is fixed once torch
    has done parallel work; that RuntimeError is logged and the current size
    kept.
    """
    global _current
    if _current is not None:
        return _current
    import torch

    cpus = usable_cpus()
    share = CoreShare(setting, cpus, directory or runtime_dir(), spare)
    if setting == "auto" or setting == 0:
        share.acquire()
    share.rebalance()
    interop = threads_for(setting, cpus)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(interop)
    if torch.get_num_interop_threads() != interop:
        logger.info(
            "torch inter-op threads already fixed at %d (wanted %d)",
            torch.get_num_interop_threads(),
            interop,
        )
    _current = share
    return share


def current_share() -> CoreShare | None:
    """The share :func:`share_cores` set up in this process, if any."""
    return _current


def rebalance_threads() -> int | None:
    """Recount the MARBLE processes and resize this thread's intra-op pool (see CoreShare)."""
    return _current.rebalance() if _current is not None else None
