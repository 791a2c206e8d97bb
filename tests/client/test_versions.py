"""``client.versions`` and ``infer(version=)`` against a real server: sync and async,
in process and over loopback (see ``marble`` in conftest)."""

from __future__ import annotations

import inspect

import pytest
from marble_client import (
    AsyncMarbleClient,
    AsyncVersions,
    Brain,
    BrainVersion,
    Conflict,
    MarbleClient,
    NotFound,
    ValidationFailed,
    VersionDiff,
    Versions,
)

from tests.client.conftest import Marble

pytestmark = pytest.mark.anyio

ROWS = [[-0.5], [0.25], [0.9]]


async def _trained_twice(marble: Marble, brain: str) -> None:
    await marble(lambda c: c.brains.create(brain, dataset="sine"))
    for _ in range(2):
        job = await marble(lambda c: c.train(brain, "sine", epochs=1))
        await marble(lambda c, job=job: job.wait(timeout=300))


async def test_versions_tag_diff_serve_and_roll_back(marble: Marble, brain: str) -> None:
    await _trained_twice(marble, brain)
    listed = await marble(lambda c: c.versions.list(brain))
    assert all(isinstance(v, BrainVersion) for v in listed)
    assert [(v.version, v.current) for v in listed] == [(1, False), (2, False), (3, True)]

    tagged = await marble(lambda c: c.versions.tag(brain, 2, "good"))
    assert (tagged.version, tagged.tags) == (2, ["good"])
    with pytest.raises(Conflict) as taken:
        await marble(lambda c: c.versions.tag(brain, 3, "good"))
    assert "already has tag 'good', on version 2" in str(taken.value)
    with pytest.raises(ValidationFailed):
        await marble(lambda c: c.versions.tag(brain, 3, "9lives"))
    assert (await marble(lambda c: c.versions.show(brain, "good"))).version == 2

    diff = await marble(lambda c: c.versions.diff(brain, 1, "good"))
    assert isinstance(diff, VersionDiff)
    assert (diff.a.version, diff.b.version) == (1, 2)
    assert diff.weights.compared == diff.synapses.common and diff.weights.changed > 0

    by_tag = await marble(lambda c: c.infer(brain, ROWS, version="good"))
    by_number = await marble(lambda c: c.infer(brain, ROWS, version=2))
    assert by_tag.version == 2 and by_tag.outputs == by_number.outputs

    rolled = await marble(lambda c: c.versions.rollback(brain, "good"))
    assert isinstance(rolled, Brain)
    assert rolled.version == 4 and rolled.graph_hash == listed[1].graph_hash
    current = await marble(lambda c: c.infer(brain, ROWS))
    assert current.version == 4 and current.outputs == by_tag.outputs

    untagged = await marble(lambda c: c.versions.untag(brain, "good"))
    assert (untagged.version, untagged.tags) == (2, [])
    with pytest.raises(NotFound) as missing:
        await marble(lambda c: c.versions.show(brain, 99))
    assert missing.value.slug == "not-found" and "no version 99" in str(missing.value)


def test_versions_mirror_each_other_name_for_name() -> None:
    def surface(cls: type) -> dict[str, inspect.Signature]:
        return {
            name: inspect.signature(member)
            for name, member in vars(cls).items()
            if inspect.isfunction(member) and not name.startswith("_")
        }

    sync, asynchronous = surface(Versions), surface(AsyncVersions)
    assert (
        sync.keys()
        == asynchronous.keys()
        == {
            "list",
            "show",
            "diff",
            "tag",
            "untag",
            "rollback",
        }
    )
    assert all(inspect.iscoroutinefunction(getattr(AsyncVersions, n)) for n in asynchronous)
    for name in sync:
        assert list(sync[name].parameters) == list(asynchronous[name].parameters), name
    assert MarbleClient.__annotations__["versions"] == "Versions"
    assert AsyncMarbleClient.__annotations__["versions"] == "AsyncVersions"
