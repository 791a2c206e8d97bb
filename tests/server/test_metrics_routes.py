"""/metrics labels each request by its route's path template; unknown paths share one label."""

from __future__ import annotations

import pytest

from tests.server.conftest import LiveApp

pytestmark = pytest.mark.anyio


def _requests_line(text: str, route: str, status: int) -> str:
    return f'marble_http_requests_total{{method="GET",route="{route}",status="{status}"}} 1.0'


@pytest.mark.parametrize("path", ["/", "/docs", "/openapi.json"])
async def test_service_pages_are_labelled_by_their_route(live: LiveApp, path: str) -> None:
    assert (await live.client.get(path)).status_code == 200
    text = (await live.client.get("/metrics")).text
    assert _requests_line(text, path, 200) in text.splitlines()
    assert 'route="unmatched"' not in text


async def test_graphql_requests_are_labelled_by_their_route(live: LiveApp) -> None:
    response = await live.client.post(
        "/graphql", json={"query": "{ brains { name } }"}, headers=live.auth("read")
    )
    assert response.status_code == 200, response.text
    text = (await live.client.get("/metrics")).text
    line = 'marble_http_requests_total{method="POST",route="/graphql",status="200"} 1.0'
    assert line in text.splitlines()
    assert 'route="unmatched"' not in text


async def test_unknown_paths_share_the_unmatched_label(live: LiveApp) -> None:
    for path in ("/no-such-page", "/docs/nothing/here"):
        assert (await live.client.get(path)).status_code == 404
    text = (await live.client.get("/metrics")).text
    lines = text.splitlines()
    assert 'marble_http_requests_total{method="GET",route="unmatched",status="404"} 2.0' in lines
    assert "no-such-page" not in text and "nothing/here" not in text
