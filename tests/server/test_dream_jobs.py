"""Dream jobs over REST: progress per cycle, a new version, or nothing when cancelled."""

from __future__ import annotations

import pytest

from tests.server.conftest import LiveApp
from tests.server.test_jobs import _events, _train, _wait_for

pytestmark = pytest.mark.anyio


async def _dream(live: LiveApp, cycles: int) -> dict[str, object]:
    response = await live.client.post(
        "/brains/wave/dream", json={"cycles": cycles}, headers=live.auth("train")
    )
    assert response.status_code == 202, response.text
    assert response.json()["kind"] == "dream"
    return response.json()  # type: ignore[no-any-return]


async def _trained(live: LiveApp) -> None:
    job = await _train(live, epochs=2)
    final = await _wait_for(live, job["id"], {"succeeded", "failed", "cancelled"})
    assert final["state"] == "succeeded", final


async def test_dream_job_streams_every_cycle_and_commits_a_version(
    live_with_brain: LiveApp,
) -> None:
    live = live_with_brain
    await _trained(live)
    job = await _dream(live, cycles=4)
    events = await _events(live, str(job["id"]))
    progress = [data for kind, data in events if kind == "progress"]
    assert [p["metrics"]["cycle"] for p in progress] == [1, 2, 3, 4]
    assert progress[-1]["job"]["progress"] == pytest.approx(1.0)
    final = events[-1][1]["job"]
    assert final["state"] == "succeeded", final
    assert final["result"]["version"] == 3 and final["result"]["cycles"] == 4
    version = await live.client.get("/brains/wave/versions/3", headers=live.auth("read"))
    assert version.json()["note"] == "dream: 4 cycles"


async def test_cancelled_dream_leaves_the_previous_version_current(
    live_with_brain: LiveApp,
) -> None:
    live = live_with_brain
    await _trained(live)
    before = live.state.service.get_brain("wave")
    job = await _dream(live, cycles=100_000)
    await _wait_for(live, str(job["id"]), {"running"})
    await live.client.post(f"/jobs/{job['id']}/cancel", headers=live.auth("train"))
    final = await _wait_for(live, str(job["id"]), {"cancelled", "succeeded", "failed"})
    assert final["state"] == "cancelled"
    after = live.state.service.get_brain("wave")
    assert (after.version, after.graph_hash) == (before.version, before.graph_hash)
    resumed = await live.client.post(f"/jobs/{job['id']}/resume", headers=live.auth("train"))
    assert resumed.status_code == 409 and "only training jobs" in resumed.json()["detail"]


async def test_dream_of_a_brain_that_recorded_nothing_is_a_conflict(
    live_with_brain: LiveApp,
) -> None:
    live = live_with_brain
    response = await live.client.post(
        "/brains/wave/dream", json={"cycles": 3}, headers=live.auth("train")
    )
    assert response.status_code == 409
    assert "no experiences to replay" in response.json()["detail"]
