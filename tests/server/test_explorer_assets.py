"""``/ui/``: the web explorer's files, served from the package with no token and no CDN."""

from __future__ import annotations

import re

import pytest

from marble_server.ui import STATIC_DIR, explorer_assets
from tests.server.conftest import LiveApp

pytestmark = pytest.mark.anyio

# Anything that would make a page fetch code or styles from another host.
REMOTE_REFERENCE = re.compile(
    r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|@import\s+url\(\s*["']?https?:|from\s+["']https?:|import\(\s*["']https?:"""
)


async def test_ui_redirects_to_the_explorer_page(live: LiveApp) -> None:
    response = await live.client.get("/ui")
    assert response.status_code == 308
    assert response.headers["location"] == "/ui/"


async def test_explorer_page_loads_its_module_without_a_token(live: LiveApp) -> None:
    response = await live.client.get("/ui/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="app.js"></script>' in response.text
    # The page's own scripts only: markup that slipped in from the API could not run.
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy


@pytest.mark.parametrize(
    ("asset", "media_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("api.js", "text/javascript; charset=utf-8"),
        ("plots.js", "text/javascript; charset=utf-8"),
        ("styles.css", "text/css; charset=utf-8"),
    ],
)
async def test_each_asset_is_served_with_its_media_type(
    live: LiveApp, asset: str, media_type: str
) -> None:
    response = await live.client.get(f"/ui/{asset}")
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.content == (STATIC_DIR / asset).read_bytes()


@pytest.mark.parametrize("path", ["/ui/missing.js", "/ui/__init__.py", "/ui/..%2Fapp.py"])
async def test_anything_but_an_explorer_asset_is_refused(live: LiveApp, path: str) -> None:
    response = await live.client.get(path)
    assert response.status_code in (404, 422), (path, response.status_code)
    assert "ServerSettings" not in response.text


def test_every_asset_ships_with_the_package_and_nothing_loads_from_another_host() -> None:
    assets = explorer_assets()
    assert {"index.html", "app.js", "api.js", "plots.js", "styles.css"} <= set(assets)
    for name in assets:
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        assert not REMOTE_REFERENCE.search(text), name
