"""The distribution: its public names, its mirrored clients, its import cost, its install."""

from __future__ import annotations

import inspect
import subprocess
import sys
import tomllib
import types
import venv
from pathlib import Path

import marble_client
from marble_client import (
    AsyncBrains,
    AsyncDatasets,
    AsyncGraphExport,
    AsyncJob,
    AsyncJobs,
    AsyncMarbleClient,
    AsyncMemories,
    Brains,
    Datasets,
    GraphExport,
    Job,
    Jobs,
    MarbleClient,
    Memories,
)

CLIENT_DIR = Path(__file__).resolve().parents[2] / "clients" / "python"
HEAVY = ("torch", "kuzu", "marble_server", "marble_graph")
# The async twins differ only in these protocol names.
PROTOCOL = {"__enter__": "__aenter__", "__exit__": "__aexit__", "__iter__": "__aiter__"}


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(marble_client).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert sorted(marble_client.__all__) == sorted(public | {"__version__"})
    assert len(set(marble_client.__all__)) == len(marble_client.__all__)


def test_version_matches_the_distribution() -> None:
    project = tomllib.loads((CLIENT_DIR / "pyproject.toml").read_text())["project"]
    assert marble_client.__version__ == project["version"]
    assert project["dependencies"] == ["httpx>=0.27", "pydantic>=2.6"]
    assert (CLIENT_DIR / "marble_client" / "py.typed").exists()


def _surface(cls: type) -> dict[str, bool]:
    """Public names (and the protocol methods) of a class -> whether each is a coroutine."""
    names = {}
    for name, value in vars(cls).items():
        if name.startswith("_") and name not in set(PROTOCOL) | set(PROTOCOL.values()):
            continue
        names[PROTOCOL.get(name, name)] = inspect.iscoroutinefunction(value)
    names.update({n: False for n in getattr(cls, "__annotations__", {}) if not n.startswith("_")})
    return names


def test_async_client_mirrors_the_sync_one_name_for_name() -> None:
    pairs = [
        (MarbleClient, AsyncMarbleClient),
        (Brains, AsyncBrains),
        (Jobs, AsyncJobs),
        (Job, AsyncJob),
        (GraphExport, AsyncGraphExport),
        (Datasets, AsyncDatasets),
        (Memories, AsyncMemories),
    ]
    for sync, asynchronous in pairs:
        assert _surface(sync).keys() == _surface(asynchronous).keys(), sync.__name__
        assert not any(_surface(sync).values()), sync.__name__
    # Every call that talks to the server is awaited in the async client.
    awaited = {name for name, is_coroutine in _surface(AsyncMarbleClient).items() if is_coroutine}
    assert awaited == {
        "health",
        "ready",
        "infer",
        "activations",
        "train",
        "dream",
        "graphql",
        "cypher",
        "backup",
        "close",
        "__aenter__",
        "__aexit__",
    }
    assert {n for n, c in _surface(AsyncBrains).items() if c} == {
        "create",
        "list",
        "get",
        "delete",
        "repair",
        "versions",
    }
    assert {n for n, c in _surface(AsyncDatasets).items() if c} == {
        "upload",
        "list",
        "versions",
        "show",
        "diff",
        "apply",
        "tag",
        "untag",
        "revert",
        "download",
        "trained_brains",
    }
    assert {n for n, c in _surface(AsyncJobs).items() if c} == {
        "list",
        "get",
        "follow",
        "cancel",
        "resume",
    }
    assert {n for n, c in _surface(AsyncMemories).items() if c} == {
        "remember",
        "recall",
        "lookup",
        "forget",
        "list",
    }


def test_every_public_function_is_typed() -> None:
    for name in marble_client.__all__:
        value = getattr(marble_client, name)
        if not inspect.isclass(value):
            continue
        for attr, member in vars(value).items():
            function = member.fget if isinstance(member, property) else member
            if not inspect.isfunction(function) or (attr.startswith("_") and attr != "__init__"):
                continue
            hints = inspect.get_annotations(function)
            params = [p for p in inspect.signature(function).parameters if p != "self"]
            assert "return" in hints and set(params) <= set(hints), f"{name}.{attr}"


def test_importing_the_client_loads_no_engine_or_server() -> None:
    probe = (
        "import marble_client, sys; "
        f"loaded = sorted({set(HEAVY)!r} & set(sys.modules)); "
        "assert not loaded, loaded"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_pip_installs_the_client_into_a_fresh_venv_without_torch(tmp_path: Path) -> None:
    target = tmp_path / "venv"
    venv.create(target, with_pip=True, system_site_packages=False)
    python = target / "bin" / "python"
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(CLIENT_DIR),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    probe = (
        "import importlib.util, marble_client; "
        "assert importlib.util.find_spec('torch') is None; "
        "print(marble_client.__version__, marble_client.MarbleClient.__name__)"
    )
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [marble_client.__version__, "MarbleClient"]
