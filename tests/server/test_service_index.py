"""``GET /``: the service's name and version and where its docs are, without a token."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server.conftest import LiveApp, running_app

pytestmark = pytest.mark.anyio

# What a browser sends when a person types the server's address.
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


async def _links_answer(live: LiveApp, links: dict[str, str | None]) -> None:
    """Every link the index gives leads to a page that answers without a token."""
    for name, href in links.items():
        if href is not None:
            page = await live.client.get(href, headers={"Accept": BROWSER_ACCEPT})
            assert page.status_code == 200, (name, href, page.text[:200])


async def test_root_lists_docs_and_openapi_but_not_graphiql_when_the_ide_is_off(
    live: LiveApp,
) -> None:
    response = await live.client.get("/")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "name": "MARBLE",
        "version": live.app.version,
        "links": {
            "docs": "/docs",
            "openapi": "/openapi.json",
            "explorer": "/ui/",
            "graphiql": None,
        },
    }
    await _links_answer(live, response.json()["links"])


async def test_root_links_graphiql_when_the_ide_is_on(tmp_path: Path) -> None:
    async with running_app(tmp_path / "marble-data", dev_mode=True) as live:
        response = await live.client.get("/")
        assert response.status_code == 200, response.text
        links = response.json()["links"]
        assert links == {
            "docs": "/docs",
            "openapi": "/openapi.json",
            "explorer": "/ui/",
            "graphiql": "/graphql",
        }
        await _links_answer(live, links)
        graphiql = await live.client.get("/graphql", headers={"Accept": BROWSER_ACCEPT})
        assert graphiql.headers["content-type"].startswith("text/html")


async def test_root_answers_html_to_a_browser(tmp_path: Path) -> None:
    async with running_app(tmp_path / "marble-data", dev_mode=True) as live:
        page = await live.client.get("/", headers={"Accept": BROWSER_ACCEPT})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        for href in ("/ui/", "/docs", "/openapi.json", "/graphql"):
            assert f'href="{href}"' in page.text
        assert live.app.version in page.text


async def test_root_html_has_no_graphiql_link_when_the_ide_is_off(live: LiveApp) -> None:
    page = await live.client.get("/", headers={"Accept": BROWSER_ACCEPT})
    assert page.headers["content-type"].startswith("text/html")
    assert 'href="/docs"' in page.text and 'href="/graphql"' not in page.text


@pytest.mark.parametrize(
    "accept",
    ["*/*", "application/json", "text/html;q=0.5, application/json", "application/json, text/html"],
)
async def test_root_answers_json_unless_html_is_preferred(live: LiveApp, accept: str) -> None:
    response = await live.client.get("/", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
