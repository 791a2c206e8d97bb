"""REST: a token limited to brain ``alpha`` meets ``bravo`` exactly as an unknown brain.

One app per module holds brains ``alpha`` and ``bravo``; the limited token has
every scope (admin), so only the brain limit can refuse it. "The same answer as
for an unknown brain" is checked by comparing whole responses (status and body)
with the brain's name, or the job's id, swapped for the unknown one.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from marble_graph.tokens import Scope, TokenStore
from tests.server.conftest import LiveApp, running_app
from tests.server.graphql.conftest import create_wave
from tests.server.test_jobs import _wait_for

pytestmark = pytest.mark.anyio

ALLOWED, OTHER = "alpha", "bravo"
# In the limited token's list but never created: its 404 comes from the engine, not the
# limit, so comparing against it proves the limit answers exactly like a missing brain.
UNKNOWN = "ghost"
# A brain the limited token may create (and then delete); it does not exist at first.
SPARE = "spare"
UNKNOWN_JOB = "00000000-0000-4000-8000-00000000dead"
FINISHED = {"succeeded", "failed", "cancelled", "interrupted"}


class Limited:
    """The module's app, plus a token limited to ``alpha`` (``spare``, ``ghost``), every scope."""

    def __init__(self, live: LiveApp, token: str) -> None:
        self.live = live
        self.headers = {"Authorization": f"Bearer {token}"}

    async def request(self, method: str, path: str, body: object = None) -> httpx.Response:
        return await self.live.client.request(method, path, json=body, headers=self.headers)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def limited(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Limited]:
    home: Path = tmp_path_factory.mktemp("token-brains") / "marble-data"
    async with running_app(home) as live:
        await create_wave(live, ALLOWED)
        await create_wave(live, OTHER)
        store = TokenStore(live.state.service.metadata)
        token, _ = store.create("alpha-only", (Scope.ADMIN,), (ALLOWED, SPARE, UNKNOWN))
        yield Limited(live, token)


def _as_unknown(response: httpx.Response, name: str, unknown: str) -> tuple[int, Any]:
    """Status and body with ``name`` replaced by ``unknown`` (in the detail and the path)."""
    text = response.text.replace(f"'{name}'", f"'{unknown}'").replace(f"/{name}", f"/{unknown}")
    return response.status_code, json.loads(text)


async def _assert_same_as_unknown_brain(
    limited: Limited, method: str, path: str, body: object = None
) -> None:
    """``path`` (naming {brain}) answers for ``bravo`` exactly as for a brain that does not
    exist; the limited token's answer names neither ``bravo`` nor ``alpha`` beyond the ask."""
    other = await limited.request(method, path.format(brain=OTHER), _fill(body, OTHER))
    unknown = await limited.request(method, path.format(brain=UNKNOWN), _fill(body, UNKNOWN))
    assert unknown.status_code == 404, unknown.text
    assert _as_unknown(other, OTHER, UNKNOWN) == (unknown.status_code, unknown.json())
    assert unknown.json()["detail"] == f"unknown brain '{UNKNOWN}'"
    assert ALLOWED not in other.text


def _fill(body: object, brain: str) -> object:
    if isinstance(body, dict):
        return {k: (brain if v == "{brain}" else v) for k, v in body.items()}
    return body


async def test_brain_list_shows_only_the_tokens_brains(limited: Limited) -> None:
    listed = await limited.request("GET", "/brains")
    assert listed.status_code == 200
    assert [b["name"] for b in listed.json()] == [ALLOWED]
    everyone = await limited.live.client.get("/brains", headers=limited.live.auth("read"))
    assert [b["name"] for b in everyone.json()] == [ALLOWED, OTHER]


async def test_get_brain_other_is_unknown_and_own_is_shown(limited: Limited) -> None:
    await _assert_same_as_unknown_brain(limited, "GET", "/brains/{brain}")
    own = await limited.request("GET", f"/brains/{ALLOWED}")
    assert own.status_code == 200 and own.json()["name"] == ALLOWED


async def test_versions_of_other_brain_are_unknown_and_own_are_listed(limited: Limited) -> None:
    await _assert_same_as_unknown_brain(limited, "GET", "/brains/{brain}/versions")
    own = await limited.request("GET", f"/brains/{ALLOWED}/versions")
    assert own.status_code == 200 and [v["version"] for v in own.json()] == [1]


async def test_delete_other_brain_is_unknown_and_leaves_it(limited: Limited) -> None:
    await _assert_same_as_unknown_brain(limited, "DELETE", "/brains/{brain}")
    still = await limited.live.client.get(f"/brains/{OTHER}", headers=limited.live.auth("read"))
    assert still.status_code == 200


async def test_create_brain_only_of_the_tokens_list_then_delete_it(limited: Limited) -> None:
    refused = await limited.request("POST", "/brains", {"name": "charlie", "dataset": "sine"})
    assert refused.status_code == 403
    assert refused.json()["type"] == "urn:marble:problem:forbidden"
    assert "may not create brain 'charlie'" in refused.json()["detail"]
    assert OTHER not in refused.text
    created = await limited.request("POST", "/brains", {"name": SPARE, "dataset": "sine"})
    assert created.status_code == 201, created.text
    assert [b["name"] for b in (await limited.request("GET", "/brains")).json()] == [
        ALLOWED,
        SPARE,
    ]
    assert (await limited.request("DELETE", f"/brains/{SPARE}")).status_code == 204
    everyone = await limited.live.client.get("/brains", headers=limited.live.auth("read"))
    assert [b["name"] for b in everyone.json()] == [ALLOWED, OTHER]


async def test_graph_export_of_other_brain_is_unknown_and_own_streams(limited: Limited) -> None:
    await _assert_same_as_unknown_brain(limited, "GET", "/brains/{brain}/graph")
    own = await limited.request("GET", f"/brains/{ALLOWED}/graph?tables=neurons&limit=1")
    assert own.status_code == 200
    assert json.loads(own.text.splitlines()[0])["brain"] == ALLOWED


async def test_infer_on_other_brain_is_unknown_and_own_answers(limited: Limited) -> None:
    body = {"brain": "{brain}", "inputs": [[0.5]]}
    await _assert_same_as_unknown_brain(limited, "POST", "/infer", body)
    own = await limited.request("POST", "/infer", {"brain": ALLOWED, "inputs": [[0.5]]})
    assert own.status_code == 200 and own.json()["brain"] == ALLOWED


async def test_train_and_jobs_of_other_brain_are_unknown_and_own_are_usable(
    limited: Limited,
) -> None:
    live = limited.live
    train = {"dataset": "sine", "epochs": 1}
    await _assert_same_as_unknown_brain(limited, "POST", "/brains/{brain}/train", train)
    mine = await limited.request("POST", f"/brains/{ALLOWED}/train", train)
    assert mine.status_code == 202, mine.text
    theirs = await live.client.post(
        f"/brains/{OTHER}/train", json=train, headers=live.auth("train")
    )
    assert theirs.status_code == 202, theirs.text
    my_id, their_id = mine.json()["id"], theirs.json()["id"]
    await _wait_for(live, my_id, FINISHED)
    await _wait_for(live, their_id, FINISHED)

    listed = await limited.request("GET", "/jobs")
    assert [j["id"] for j in listed.json()] == [my_id]
    filtered = await limited.request("GET", f"/jobs?brain={OTHER}")
    assert filtered.status_code == 200 and filtered.json() == []

    for method, path in (
        ("GET", "/jobs/{job}"),
        ("GET", "/jobs/{job}/events"),
        ("POST", "/jobs/{job}/cancel"),
        ("POST", "/jobs/{job}/resume"),
    ):
        other = await limited.request(method, path.format(job=their_id))
        unknown = await limited.request(method, path.format(job=UNKNOWN_JOB))
        assert unknown.status_code == 404, (path, unknown.text)
        assert _as_unknown(other, their_id, UNKNOWN_JOB) == (404, unknown.json()), path
        assert OTHER not in other.text

    own = await limited.request("GET", f"/jobs/{my_id}")
    assert own.status_code == 200 and own.json()["brain"] == ALLOWED
    events = await limited.request("GET", f"/jobs/{my_id}/events")
    assert events.status_code == 200 and "event: end" in events.text
    # Its own finished job: refused for its state, not hidden.
    cancelled = await limited.request("POST", f"/jobs/{my_id}/cancel")
    assert cancelled.status_code == 409 and "already finished" in cancelled.json()["detail"]


async def test_limited_token_still_needs_the_routes_scope(limited: Limited) -> None:
    store = TokenStore(limited.live.state.service.metadata)
    token, _ = store.create("alpha-reader", (Scope.READ,), (ALLOWED,))
    refused = await limited.live.client.post(
        f"/brains/{ALLOWED}/train",
        json={"dataset": "sine", "epochs": 1},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 403 and refused.json()["required_scope"] == "train"


async def test_unknown_brain_detail_names_no_other_brain(limited: Limited) -> None:
    live = limited.live
    for method, path, body in (
        ("GET", f"/brains/{UNKNOWN}", None),
        ("GET", f"/brains/{UNKNOWN}/versions", None),
        ("GET", f"/brains/{UNKNOWN}/graph", None),
        ("POST", "/infer", {"brain": UNKNOWN, "inputs": [[0.5]]}),
        ("POST", f"/brains/{UNKNOWN}/train", {"dataset": "sine", "epochs": 1}),
        ("DELETE", f"/brains/{UNKNOWN}", None),
    ):
        # An unlimited admin token: even it learns no brain's name from a 404 detail.
        response = await live.client.request(method, path, json=body, headers=live.auth("admin"))
        assert response.status_code == 404, (path, response.text)
        assert response.json()["detail"] == f"unknown brain '{UNKNOWN}'", path
        assert ALLOWED not in response.text and OTHER not in response.text


async def test_health_and_ready_reveal_no_path_url_or_count(limited: Limited) -> None:
    for path in ("/health", "/ready"):
        response = await limited.live.client.get(path)
        assert response.status_code == 200
        body = response.json()
        assert all("/" not in str(value) for value in body.values()), body
        assert "sqlite" not in response.text.lower()
        assert "brains" not in body and "metadata" not in body and "graph_engine" not in body
    assert (await limited.live.client.get("/ready")).json() == {"status": "ready"}
