"""MARBLE's C kernels: built with the machine's C compiler on first use, loaded with ctypes.

Why C. On a CPU the training step of a small brain is bound by memory
traffic, not arithmetic: each PyTorch operation is one pass over a tensor of
every (example, synapse) pair or every (example, neuron) state, and a round
of message passing took a few dozen of them. A kernel that walks each
neuron's synapses once and keeps everything else in registers does the same
work in one pass (docs/performance.md, "Fused kernels").

Why not a PyTorch C++ extension or ``torch.compile``. Both need a C++
toolchain too; an extension compiles PyTorch's large C++ headers with every
change, and ``torch.compile`` took 22 s per process for this model and its
CPU code was slower than eager (docs/performance.md). A plain C file that
includes only libc's headers and our own builds in about half a second,
once per machine: the library is cached
under ``$MARBLE_KERNEL_CACHE`` (default ``$XDG_CACHE_HOME/marble/kernels``,
else ``~/.cache/marble/kernels``), named by a hash of everything that decides
the binary (the source and the headers beside it, the compiler and its
version, the flags, the CPU's instruction sets: ``-march=native`` code must
not run on another CPU).

Without a compiler, or when the build fails, ``load_c_library`` answers
None (logged once) and callers use their PyTorch path, which computes the
same function. ``MARBLE_NATIVE_KERNELS=0`` switches the kernels off (to
compare, or to rule them out). The compiler is ``$CC``, else ``cc``.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import functools
import hashlib
import itertools
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger(__name__)

FLAGS = ("-O3", "-march=native", "-fno-math-errno", "-std=c11", "-shared", "-fPIC")
# A build this slow means something is wrong (the kernels take about 0.5 s).
BUILD_TIMEOUT_S = 120
SWITCH = "MARBLE_NATIVE_KERNELS"


def kernel_cache_dir() -> Path:
    """Where built kernels are kept: $MARBLE_KERNEL_CACHE, else the XDG cache directory."""
    explicit = os.environ.get("MARBLE_KERNEL_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "marble" / "kernels"


def kernels_switched_off() -> bool:
    return os.environ.get(SWITCH, "1").strip().lower() in {"0", "off", "false", "no"}


def c_compiler() -> str | None:
    """The C compiler's path: ``$CC``, else ``cc``, found on the PATH; None without one."""
    return shutil.which(os.environ.get("CC") or "cc")


@functools.cache
def load_c_library(source_name: str) -> ctypes.CDLL | None:
    """The shared library built from ``source_name`` (a C file beside this module), or None.

    Built once per machine and cached; loaded once per process.
    """
    if kernels_switched_off():
        log.info("C kernels switched off (%s=0): PyTorch operations instead", SWITCH)
        return None
    source = Path(__file__).with_name(source_name)
    compiler = c_compiler()
    if compiler is None:
        log.warning("no C compiler (cc, or $CC): %s runs as PyTorch operations", source_name)
        return None
    try:
        library = _built(source, compiler)
        return ctypes.CDLL(str(library))
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("could not build %s, using PyTorch operations: %s", source_name, exc)
        return None


def _built(source: Path, compiler: str) -> Path:
    """The cached library for ``source``, compiling it first if this machine has none."""
    cache = kernel_cache_dir()
    library = cache / f"{source.stem}-{_build_key(source, compiler)}.so"
    if library.exists():
        _check_private(library)
        return library
    cache.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Build under a temporary name and rename: a second process building the
    # same library at the same moment never loads a half-written file.
    handle, partial = tempfile.mkstemp(dir=cache, prefix=f".{source.stem}-", suffix=".so")
    os.close(handle)
    try:
        done = subprocess.run(
            [compiler, *FLAGS, "-o", partial, str(source)],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            raise OSError(f"{compiler} exited {done.returncode}: {done.stderr.strip()[:2000]}")
        os.replace(partial, library)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    log.info("built %s in %s", source.name, library)
    return library


def _check_private(library: Path) -> None:
    """Refuse a cached library that someone else could have written: loading runs its code."""
    status = library.stat()
    if status.st_uid != os.getuid() or status.st_mode & 0o022:
        raise OSError(
            f"{library} is not this user's alone (owner uid {status.st_uid}, mode "
            f"{oct(status.st_mode & 0o777)}); remove it or point MARBLE_KERNEL_CACHE elsewhere"
        )


def _build_key(source: Path, compiler: str) -> str:
    headers = [header.read_bytes() for header in sorted(source.parent.glob("*.h"))]
    digest = hashlib.sha256()
    for part in [source.read_bytes(), *headers, _toolchain(compiler).encode()]:
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()[:16]


@functools.cache
def _toolchain(compiler: str) -> str:
    """What decides a build besides its source: asked once per process, not per kernel."""
    version = subprocess.run(
        [compiler, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    return "\0".join([compiler, version, " ".join(FLAGS), platform.machine(), _cpu_features()])


def _cpu_features() -> str:
    """The CPU's instruction-set flags (Linux), which ``-march=native`` builds for."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith(("flags", "Features")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


class KernelThreads:
    """Runs a C kernel over its work in parts, one thread per part (torch's thread count).

    ctypes lets go of the GIL during a call, so the parts run side by side; the
    calling thread takes the first part itself.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._workers = 0

    @contextlib.contextmanager
    def splitting_over(self, threads: int) -> Iterator[None]:
        """Within the block, split kernels over ``threads`` whatever torch's thread count.

        For the caller's thread (and its context) only: another thread's kernels
        keep following its own torch setting.
        """
        token = _SPLIT_OVER.set(threads)
        try:
            yield
        finally:
            _SPLIT_OVER.reset(token)

    def parts(self, items: int) -> list[tuple[int, int]]:
        """[first, last) ranges splitting ``items`` (examples, rows) over the threads:
        torch's intra-op thread count, unless ``splitting_over`` says otherwise."""
        import torch  # here, not above: `make` runs this file to build, without torch

        threads = _SPLIT_OVER.get() or torch.get_num_threads()
        count = max(1, min(threads, items))
        bounds = [items * index // count for index in range(count + 1)]
        return list(itertools.pairwise(bounds))

    def run(self, kernel: Callable[[int, int, int], int], parts: list[tuple[int, int]]) -> None:
        """kernel(part index, first, last) for every part; raises if any ran out of memory."""
        if len(parts) == 1:
            codes = [kernel(0, *parts[0])]
        else:
            pool = self._pool_of(len(parts) - 1)
            futures = [
                pool.submit(kernel, index, first, last)
                for index, (first, last) in enumerate(parts)
                if index > 0
            ]
            codes = [kernel(0, *parts[0])] + [future.result() for future in futures]
        if any(codes):
            raise MemoryError("a C kernel could not allocate its scratch memory")

    def _pool_of(self, workers: int) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None or self._workers != workers:
                if self._pool is not None:
                    self._pool.shutdown(wait=False)
                self._pool = ThreadPoolExecutor(workers, thread_name_prefix="marble-kernel")
                self._workers = workers
            return self._pool


# The thread count ``KernelThreads.splitting_over`` set for this context (0: none).
_SPLIT_OVER: contextvars.ContextVar[int] = contextvars.ContextVar("split_over", default=0)
kernel_threads = KernelThreads()

# Whether forward passes without autograd may run the kernels (see ``kernels_without_grad``).
_WITHOUT_GRAD: contextvars.ContextVar[bool] = contextvars.ContextVar("without_grad", default=False)


@contextlib.contextmanager
def kernels_without_grad() -> Iterator[None]:
    """Within the block (this thread's context), forward passes run the C kernels
    even when autograd is off.

    Outside it they run only while training: inference and serving keep the
    PyTorch operations, so the served forward equals the eager one to the last
    bit. A trainer's own validation asks for the kernels: its scores differ
    from the PyTorch path's by float rounding only, and it runs every epoch.
    """
    token = _WITHOUT_GRAD.set(True)
    try:
        yield
    finally:
        _WITHOUT_GRAD.reset(token)


def kernels_allowed() -> bool:
    """Whether a forward pass may use the C kernels now: training, or ``kernels_without_grad``."""
    import torch  # here, not above: `make` runs this file to build, without torch

    return torch.is_grad_enabled() or _WITHOUT_GRAD.get()


def main(argv: list[str] | None = None) -> int:
    """``python marble_graph/model/c_library.py SOURCE.c ...``: build (or find) each kernel now.

    ``make`` runs this first, so a timed run never pays for the build, and a
    machine without a compiler hears about it once, up front. Always exits 0:
    the kernels are optional.
    """
    import sys

    for name in argv if argv is not None else sys.argv[1:]:
        if load_c_library(name) is None:
            reason = "switched off" if kernels_switched_off() else "not built (see above)"
            print(
                f"{name}: {reason}; training runs PyTorch operations instead (slower)",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    raise SystemExit(main())
