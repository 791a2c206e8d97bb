"""POST with Idempotency-Key: a retry replays the first answer and does the work once."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from marble_graph.store.metadata import IdempotencyRecord
from tests.server.conftest import LiveApp

pytestmark = pytest.mark.anyio


async def test_retried_post_with_the_same_key_replays_and_creates_once(live: LiveApp) -> None:
    headers = {**live.auth("train"), "Idempotency-Key": "create-wave-1"}
    body = {"name": "wave", "dataset": "sine"}
    first = await live.client.post("/brains", json=body, headers=headers)
    again = await live.client.post("/brains", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotency-replayed"] == "true"
    assert "idempotency-replayed" not in first.headers
    assert again.json() == first.json()
    assert [b.name for b in live.state.service.list_brains()] == ["wave"]


async def test_training_job_is_queued_once_for_a_retried_key(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    headers = {**live.auth("train"), "Idempotency-Key": "train-7"}
    body = {"dataset": "sine", "epochs": 1}
    first = await live.client.post("/brains/wave/train", json=body, headers=headers)
    again = await live.client.post("/brains/wave/train", json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert len(live.state.jobs.list(brain="wave")) == 1


async def test_same_key_with_another_body_is_refused(live: LiveApp) -> None:
    headers = {**live.auth("train"), "Idempotency-Key": "k"}
    await live.client.post("/brains", json={"name": "a", "dataset": "sine"}, headers=headers)
    clash = await live.client.post(
        "/brains", json={"name": "b", "dataset": "sine"}, headers=headers
    )
    assert clash.status_code == 422
    assert "different request" in clash.json()["detail"]
    assert [b.name for b in live.state.service.list_brains()] == ["a"]


async def test_keys_are_scoped_to_the_token(live: LiveApp) -> None:
    body = {"name": "wave", "dataset": "sine"}
    mine = await live.client.post(
        "/brains", json=body, headers={**live.auth("train"), "Idempotency-Key": "shared"}
    )
    theirs = await live.client.post(
        "/brains", json=body, headers={**live.auth("admin"), "Idempotency-Key": "shared"}
    )
    assert mine.status_code == 201
    assert theirs.status_code == 409  # ran for real: the name is taken, nothing replayed
    assert "idempotency-replayed" not in theirs.headers


async def test_auth_failures_are_not_stored(live: LiveApp) -> None:
    body = {"name": "wave", "dataset": "sine"}
    denied = await live.client.post(
        "/brains", json=body, headers={**live.auth("read"), "Idempotency-Key": "x"}
    )
    assert denied.status_code == 403
    with live.state.service.metadata.session() as session:
        assert session.scalars(select(IdempotencyRecord)).all() == []


async def test_overlong_key_is_422(live: LiveApp) -> None:
    response = await live.client.post(
        "/brains",
        json={"name": "wave"},
        headers={**live.auth("train"), "Idempotency-Key": "k" * 300},
    )
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]


async def test_retry_while_the_first_still_runs_is_409_with_retry_after(live: LiveApp) -> None:
    headers = {**live.auth("train"), "Idempotency-Key": "slow", "content-type": "application/json"}
    body = b'{"name": "wave", "dataset": "sine"}'
    with live.state.service.metadata.session() as session:
        # What the first request leaves while it runs: the key claimed, no answer yet.
        session.add(
            IdempotencyRecord(
                token_hash=hashlib.sha256(headers["Authorization"].encode()).hexdigest(),
                key="slow",
                method="POST",
                path="/brains",
                request_hash=hashlib.sha256(b"POST /brains\n" + body).hexdigest(),
            )
        )
    response = await live.client.post("/brains", content=body, headers=headers)
    assert response.status_code == 409
    assert response.headers["retry-after"] == "1"
    assert "still running" in response.json()["detail"]
    assert live.state.service.list_brains() == []
