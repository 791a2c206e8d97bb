"""POST /infer's fast path (``InferFastPath``): a plain request gets the same bytes the
route sends; anything else, and every client mistake, gets the route's own answer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marble_graph.tokens import Scope
from marble_server import load_settings
from marble_server.api.models import InferRequest
from marble_server.api.routes.infer import _plain_request
from tests.server.conftest import LiveApp, running_app

pytestmark = pytest.mark.anyio

JSON = {"content-type": "application/json"}

PLAIN = [
    b'{"brain": "wave", "inputs": [0.25]}',
    b'{"brain": "wave", "inputs": [[-0.5], [0.0], [0.9]]}',
    b'{"brain": "wave", "inputs": [[1]], "version": 1}',
    b'{"inputs": [0.5], "brain": "wave", "version": null}',
]

# Valid, but pydantic would coerce something (a whole-number float version): the route's.
PASSED_ON = [b'{"brain": "wave", "inputs": [1.0], "version": 1.0}']

MISTAKES = [
    b"{not json",
    b"[1.0]",
    b'{"brain": "wave", "inputs": "abc"}',
    b'{"brain": 5, "inputs": [1.0]}',
    b'{"brain": "wave\\n", "inputs": [1.0]}',
    b'{"brain": "wave", "inputs": [[1.0, 2.0]]}',
    b'{"brain": "wave", "inputs": [NaN]}',
    b'{"brain": "wave", "inputs": [[Infinity]]}',
    b'{"brain": "wave", "inputs": [1e400]}',
    b'{"brain": "wave", "inputs": [1e300]}',
    b'{"brain": "wave", "inputs": [123456789012345678901234567890123456789012345]}',
    b'{"brain": "wave", "inputs": []}',
    b'{"brain": "wave", "inputs": [[]]}',
    b'{"brain": "wave", "inputs": [true]}',
    b'{"brain": "wave", "inputs": ["1.5"]}',
    b'{"brain": "wave", "inputs": [[1.0], [1.0, 2.0]]}',
    b'{"brain": "wave", "inputs": [[1.0], 2.0]}',
    b'{"brain": "wave", "inputs": [1.0], "extra": 1}',
    b'{"brain": "wave", "inputs": [1.0], "version": 99}',
    b'{"brain": "wave", "inputs": [1.0], "version": true}',
    b'{"brain": "wave", "inputs": [1.0], "version": 0}',
    b'{"brain": "ghost", "inputs": [1.0]}',
]


def _token(
    live: LiveApp, scope: Scope, brains: tuple[str, ...] | None = None, name: str | None = None
) -> str:
    """A new token: the server has never verified it, so its first request takes the route."""
    name = name or f"fast-path-{len(live.state.tokens.list())}"
    return live.state.tokens.create(name, (scope,), brains)[0]


async def _post(live: LiveApp, token: str, body: bytes, **headers: str) -> tuple[Any, ...]:
    response = await live.client.post(
        "/infer", content=body, headers={**JSON, "Authorization": f"Bearer {token}", **headers}
    )
    return response.status_code, response.headers.get("content-type"), response.content


def _rows_seen(live: LiveApp, monkeypatch: pytest.MonkeyPatch) -> list[type]:
    """Records the type of the rows each ``batcher.infer`` call gets, then runs it:
    the fast path hands over an array it built, the route the model's lists."""
    seen: list[type] = []
    infer = live.state.batcher.infer

    async def recording(brain: str, rows: Any, version: int | None = None) -> Any:
        seen.append(type(rows))
        return await infer(brain, rows, version)

    monkeypatch.setattr(live.state.batcher, "infer", recording)
    return seen


async def test_plain_request_is_answered_by_the_fast_path_with_the_routes_bytes(
    live_with_brain: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = live_with_brain
    seen = _rows_seen(live, monkeypatch)
    for body in PLAIN + PASSED_ON:
        token = _token(live, Scope.INFER)
        by_route = await _post(live, token, body)  # not verified yet: the route answers
        by_fast_path = await _post(live, token, body)
        assert by_route[0] == 200, by_route
        assert by_fast_path == by_route
    assert seen == [list, np.ndarray] * len(PLAIN) + [list, list] * len(PASSED_ON)


async def test_client_mistakes_get_the_routes_answer_when_the_token_is_cached(
    live_with_brain: LiveApp,
) -> None:
    live = live_with_brain
    warm = _token(live, Scope.INFER)
    assert (await _post(live, warm, PLAIN[0]))[0] == 200
    for body in MISTAKES:
        cold = await _post(live, _token(live, Scope.INFER), body)
        cached = await _post(live, warm, body)
        assert cold[0] in (400, 404, 422), (body, cold)
        assert cold[1] == "application/problem+json", (body, cold)
        assert cached == cold, body


@pytest.mark.parametrize(
    ("scope", "brains", "content_type", "status"),
    [
        (Scope.READ, None, "application/json", 403),  # no infer scope
        (Scope.INFER, ("other",), "application/json", 404),  # wave is not its brain
        (Scope.INFER, None, "text/plain", 422),  # not a JSON body
    ],
)
async def test_refusals_are_the_routes_when_the_token_is_cached(
    live_with_brain: LiveApp,
    scope: Scope,
    brains: tuple[str, ...] | None,
    content_type: str,
    status: int,
) -> None:
    live = live_with_brain
    cold_token = _token(live, scope, brains, name="cold-token")
    cold = await _post(live, cold_token, PLAIN[0], **{"content-type": content_type})
    warm = _token(live, scope, brains, name="warm-token")
    # Any authenticated route verifies (and caches) it, whatever its answer.
    await live.client.get("/brains", headers={"Authorization": f"Bearer {warm}"})
    assert live.state.auth.cached(f"Bearer {warm}") is not None  # the fast path sees it
    cached = await _post(live, warm, PLAIN[0], **{"content-type": content_type})
    assert cold[:2] == (status, "application/problem+json"), cold
    assert cached == (*cold[:2], cold[2].replace(b"cold-token", b"warm-token"))


async def test_revoked_token_is_refused_once_its_cache_window_passes(tmp_path: Path) -> None:
    async with running_app(tmp_path / "home", token_cache_s=0.2) as live:
        created = await live.client.post(
            "/brains", json={"name": "wave", "dataset": "sine"}, headers=live.auth("train")
        )
        assert created.status_code == 201, created.text
        token = _token(live, Scope.INFER, name="revoked")
        assert (await _post(live, token, PLAIN[0]))[0] == 200
        assert (await _post(live, token, PLAIN[0]))[0] == 200  # the fast path, from the cache
        live.state.tokens.revoke("revoked")  # as `marble token revoke` does, from outside
        await asyncio.sleep(0.25)
        status, media, _ = await _post(live, token, PLAIN[0])
        assert (status, media) == (401, "application/problem+json")


async def test_fast_path_requests_are_counted_under_the_infer_route(
    live_with_brain: LiveApp,
) -> None:
    live = live_with_brain
    token = _token(live, Scope.INFER)
    for _ in range(3):
        assert (await _post(live, token, PLAIN[0]))[0] == 200
    text = (await live.client.get("/metrics")).text
    assert 'marble_http_requests_total{method="POST",route="/infer",status="200"} 3.0' in text


@pytest.mark.parametrize("body", PLAIN + PASSED_ON + MISTAKES)
def test_fast_path_takes_only_bodies_the_model_takes_unchanged(body: bytes) -> None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return  # not JSON: the fast path passes it on before parsing anything else
    plain = _plain_request(parsed)
    assert (plain is not None) == (body in PLAIN) or body in MISTAKES
    if plain is None:
        return  # the route decides, as it always did
    # Taken (a width or brain the batcher refuses is still passed on later): the model
    # must take it too, with the same values.
    model = InferRequest.model_validate(parsed)
    brain, rows, version = plain
    assert (brain, version) == (model.brain, model.version)
    assert np.array_equal(rows, np.asarray(model.inputs, np.float32))


def test_access_log_is_off_unless_turned_on(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().access_log is False
    monkeypatch.setenv("MARBLE_ACCESS_LOG", "true")
    assert load_settings().access_log is True
