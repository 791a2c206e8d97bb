"""Training jobs: run, stream, cancel without a partial version, survive a restart, resume."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from marble_graph.store.metadata import Job, JobState
from tests.server.conftest import LiveApp, running_app, server_config

pytestmark = pytest.mark.anyio


async def _wait_for(live: LiveApp, job_id: str, states: set[str], timeout: float = 120) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = (await live.client.get(f"/jobs/{job_id}", headers=live.auth("read"))).json()
        if job["state"] in states:
            return job  # type: ignore[no-any-return]
        assert asyncio.get_running_loop().time() < deadline, f"job stuck in {job['state']}"
        await asyncio.sleep(0.05)


async def _train(live: LiveApp, epochs: int) -> dict[str, Any]:
    response = await live.client.post(
        "/brains/wave/train", json={"dataset": "sine", "epochs": epochs}, headers=live.auth("train")
    )
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


async def _events(live: LiveApp, job_id: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    async with live.client.stream(
        "GET", f"/jobs/{job_id}/events", headers=live.auth("read")
    ) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        kind = None
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((kind, json.loads(line.removeprefix("data: "))))
    return events


async def test_train_job_streams_progress_and_commits_a_version(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    job = await _train(live, epochs=3)
    assert job["state"] == "queued" and job["brain"] == "wave"
    events = await _events(live, job["id"])
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "state" and kinds[-1] == "end"
    progress = [data for kind, data in events if kind == "progress"]
    assert [p["metrics"]["epoch"] for p in progress] == [1, 2, 3]
    assert [p["job"]["progress"] for p in progress] == pytest.approx([1 / 3, 2 / 3, 1.0])
    final = events[-1][1]["job"]
    assert final["state"] == "succeeded"
    assert final["result"]["version"] == 2
    assert "mse" in final["result"]["test"]
    brain = (await live.client.get("/brains/wave", headers=live.auth("read"))).json()
    assert brain["version"] == 2
    listed = (await live.client.get("/jobs?brain=wave", headers=live.auth("read"))).json()
    assert [j["id"] for j in listed] == [job["id"]]


async def test_second_job_on_a_busy_brain_and_delete_are_refused(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    job = await _train(live, epochs=50)
    again = await live.client.post(
        "/brains/wave/train", json={"dataset": "sine"}, headers=live.auth("train")
    )
    assert again.status_code == 409
    assert job["id"] in again.json()["detail"]
    delete = await live.client.delete("/brains/wave", headers=live.auth("admin"))
    assert delete.status_code == 409
    assert "cancel it" in delete.json()["detail"]
    await live.client.post(f"/jobs/{job['id']}/cancel", headers=live.auth("train"))
    await _wait_for(live, job["id"], {"cancelled"})


async def test_cancel_stops_the_run_without_writing_a_version(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    before = live.state.service.get_brain("wave")
    job = await _train(live, epochs=500)
    await _wait_for(live, job["id"], {"running"})
    cancel = await live.client.post(f"/jobs/{job['id']}/cancel", headers=live.auth("train"))
    assert cancel.status_code == 200
    final = await _wait_for(live, job["id"], {"cancelled", "succeeded", "failed"})
    assert final["state"] == "cancelled"
    after = live.state.service.get_brain("wave")
    assert (after.version, after.graph_hash) == (before.version, before.graph_hash)
    assert live.state.service.stored_graph_hash("wave") == before.graph_hash
    again = await live.client.post(f"/jobs/{job['id']}/cancel", headers=live.auth("train"))
    assert again.status_code == 409


# Every epoch of the restart test writes a checkpoint version (a whole write-back), so
# the run is as short as leaves epochs on both sides of the restart: the server stops
# after the first checkpoint, and the resumed job still has epochs to run.
RESTART_EPOCHS = 6


async def test_restart_marks_running_jobs_interrupted_and_resume_finishes(tmp_path: Path) -> None:
    home = tmp_path / "marble-data"
    config = server_config(checkpoint_every=1)
    async with running_app(home, config) as live:
        await live.client.post(
            "/brains", json={"name": "wave", "dataset": "sine"}, headers=live.auth("train")
        )
        job = await _train(live, epochs=RESTART_EPOCHS)
        # Stop the server once the first checkpoint (version 2) is committed.
        for _ in range(2400):
            if live.state.service.get_brain("wave").version >= 2:
                break
            await asyncio.sleep(0.05)
    async with running_app(home, config) as live:
        stopped = (await live.client.get(f"/jobs/{job['id']}", headers=live.auth("read"))).json()
        assert stopped["state"] == "interrupted"
        checkpoint = live.state.service.get_brain("wave").version
        assert 2 <= checkpoint < RESTART_EPOCHS + 1
        resumed = await live.client.post(f"/jobs/{job['id']}/resume", headers=live.auth("train"))
        assert resumed.status_code == 202, resumed.text
        assert resumed.json()["payload"]["resumed_from"] == job["id"]
        final = await _wait_for(live, resumed.json()["id"], {"succeeded", "failed", "cancelled"})
        assert final["state"] == "succeeded", final
        assert final["result"]["last_epoch"]["epoch"] == RESTART_EPOCHS
        epochs_run = final["result"]["epochs"]
        # Only the epochs after the checkpoint.
        assert epochs_run == RESTART_EPOCHS - (checkpoint - 1)
        again = await live.client.post(f"/jobs/{job['id']}/resume", headers=live.auth("train"))
        assert again.status_code == 409
        assert resumed.json()["id"] in again.json()["detail"]  # already resumed by that job


async def test_jobs_left_running_by_a_dead_server_are_interrupted(tmp_path: Path) -> None:
    home = tmp_path / "marble-data"
    async with running_app(home) as live:
        await live.client.post(
            "/brains", json={"name": "wave", "dataset": "sine"}, headers=live.auth("train")
        )
        with live.state.service.metadata.session() as session:
            # What a killed server leaves behind: rows that still say running and queued.
            session.add(Job(id="dead-running", kind="train", state=JobState.RUNNING, payload={}))
            session.add(Job(id="dead-queued", kind="train", state=JobState.QUEUED, payload={}))
        live.state.jobs.stop()
    async with running_app(home) as live:
        for job_id in ("dead-running", "dead-queued"):
            job = (await live.client.get(f"/jobs/{job_id}", headers=live.auth("read"))).json()
            assert job["state"] == "interrupted"
            assert "resume" in job["error"]


async def test_queued_job_cancelled_before_it_starts(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    live.state.service.create_brain_for_dataset("other", "sine", server_config())
    first = await _train(live, epochs=500)
    second = await live.client.post(
        "/brains/other/train", json={"dataset": "sine", "epochs": 1}, headers=live.auth("train")
    )
    # One worker: the second job waits in the queue until the first finishes.
    cancelled = await live.client.post(
        f"/jobs/{second.json()['id']}/cancel", headers=live.auth("train")
    )
    assert cancelled.json()["state"] == "cancelled"
    await live.client.post(f"/jobs/{first['id']}/cancel", headers=live.auth("train"))
    await _wait_for(live, first["id"], {"cancelled"})
    with live.state.service.metadata.session() as session:
        row = session.get(Job, second.json()["id"])
        assert row is not None and row.state == JobState.CANCELLED and row.started_at is None
