"""``client.memories`` against a real server: sync and async, in process and over loopback
(see ``marble`` in conftest)."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

import pytest
from marble_client import AsyncMemories, Memories, Memory, MemoryPage, NotFound, ValidationFailed

from tests.client.conftest import Marble

pytestmark = pytest.mark.anyio


async def test_remember_recall_lookup_list_and_forget(marble: Marble, brain: str) -> None:
    await marble(lambda c: c.brains.create(brain, dataset="sine"))
    ids = await marble(lambda c: c.memories.remember(brain, [[0.1], [0.5], [0.9]], value="row"))
    assert ids == [0, 1, 2]
    fact = await marble(lambda c: c.memories.remember(brain, key="capital", value={"city": "x"}))
    assert fact == [3]

    recalled = await marble(lambda c: c.memories.recall(brain, [0.9], k=2))
    assert all(isinstance(m, Memory) for m in recalled)
    assert recalled[0].id == 2 and recalled[0].value == "row" and recalled[0].embedded
    exact = await marble(lambda c: c.memories.recall(brain, [0.9], k=2, exact=True))
    assert [m.id for m in exact] == [m.id for m in recalled]

    found = await marble(lambda c: c.memories.lookup(brain, "capital"))
    assert [(m.id, m.value, m.embedded) for m in found] == [(3, {"city": "x"}, False)]
    with pytest.raises(NotFound) as missing:
        await marble(lambda c: c.memories.lookup(brain, "nope"))
    assert f"brain {brain!r} has no memory with key 'nope'" in str(missing.value)

    page = await marble(lambda c: c.memories.list(brain, limit=3))
    assert isinstance(page, MemoryPage)
    assert (page.total, page.next_before, [m.id for m in page.memories]) == (4, 1, [3, 2, 1])
    nothing = await marble(
        lambda c: c.memories.forget(brain, older_than=datetime(2000, 1, 1, tzinfo=UTC))
    )
    assert nothing == 0
    assert await marble(lambda c: c.memories.forget(brain, keep_last=1)) == 3


async def test_bad_memory_input_raises_validation_failed(marble: Marble, brain: str) -> None:
    await marble(lambda c: c.brains.create(brain, dataset="sine"))
    with pytest.raises(ValidationFailed) as wide:
        await marble(lambda c: c.memories.recall(brain, embedding=[1.0, 2.0, 3.0]))
    assert f"embedding has 3 values; brain {brain!r} embeds to" in str(wide.value)
    with pytest.raises(ValidationFailed, match="exactly one query"):
        await marble(lambda c: c.memories.recall(brain))
    assert await marble(lambda c: c.memories.recall(brain, [0.5])) == []


def test_memories_mirror_each_other_name_for_name() -> None:
    def surface(cls: type) -> dict[str, inspect.Signature]:
        return {
            name: inspect.signature(member)
            for name, member in vars(cls).items()
            if inspect.isfunction(member) and not name.startswith("_")
        }

    sync, asynchronous = surface(Memories), surface(AsyncMemories)
    assert sync.keys() == asynchronous.keys() == {"remember", "recall", "lookup", "forget", "list"}
    assert all(inspect.iscoroutinefunction(getattr(AsyncMemories, n)) for n in asynchronous)
    assert {n: str(s) for n, s in sync.items()} == {n: str(s) for n, s in asynchronous.items()}
