"""Browser-test fixtures: a real ``marble serve`` and Debian's headless Chromium, via Playwright.

The browser is the system's ``chromium`` (``make test`` installs it when missing;
``playwright install`` is never used). Without it the tests skip with the reason
shown, except under CI (``CI`` set), where a missing browser fails them: the
explorer must not go untested there.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.conftest import LiveServer, serve_marble

CHROMIUM = Path(os.environ.get("MARBLE_TEST_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).with_name("screenshots")
# Flags for a headless browser in a container: no sandbox (no user namespaces), WebGL
# through SwiftShader (no GPU), and nothing that reaches out to the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Milliseconds a page element may take to appear (a training epoch included).
WAIT_MS = 30_000


@dataclass
class Explorer:
    """A served explorer: the server, its tokens by scope, and the explorer's URL."""

    server: LiveServer
    tokens: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url + "/ui/"

    def headers(self, scope: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[scope]}"}


def _require_browser() -> None:
    if not CHROMIUM.exists():
        reason = f"browser tests need {CHROMIUM} (make test installs Debian's chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def explorer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Explorer]:
    """A real ``marble serve`` for the module, with an ``admin`` and a ``read`` token."""
    _require_browser()
    with serve_marble(tmp_path_factory.mktemp("ui"), ("admin", "read")) as (server, tokens):
        yield Explorer(server, tokens)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the module (one process; each test gets a fresh context)."""
    _require_browser()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh browser context: empty sessionStorage, so no token yet."""
    # bypass_csp: Playwright's waits evaluate strings, which the explorer's CSP refuses;
    # it also makes the escaping tests stronger: markup must stay inert without the CSP.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
    finally:
        context.close()
    # An uncaught script error is a failure even when the page looked right.
    assert not errors, f"script errors in the page: {errors}"


def log_in(page: Page, explorer: Explorer, scope: str = "admin") -> None:
    """Open the explorer and log in with the token of ``scope``; waits for the brains page."""
    page.goto(explorer.url)
    page.fill("#token-input", explorer.tokens[scope])
    page.click("#login-button")
    page.wait_for_selector("body[data-ready='brains']")


def open_page(page: Page, name: str) -> None:
    """Go to the explorer page ``name`` (its nav link) and wait until it has loaded."""
    page.click(f"nav a[href='#/{name}']")
    page.wait_for_selector(f"body[data-ready='{name}']")


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as tests/ui/screenshots/<name>.png (git-ignored)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_for_job(url: str, job_id: str, headers: dict[str, str], timeout_s: float = 120.0) -> str:
    """Poll the job until it ends (within ``timeout_s``); return its final state."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = str(httpx.get(f"{url}/jobs/{job_id}", headers=headers).json()["state"])
        if state in ("succeeded", "failed", "cancelled", "interrupted"):
            return state
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout_s:.0f} s")


# Markup an API string might carry: it must show as these characters, never run.
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'


def create_brain(explorer: Explorer, name: str, dataset: str = "digits") -> None:
    """Create brain ``name`` through the REST API (the pages under test only read it)."""
    response = httpx.post(
        explorer.server.url + "/brains",
        json={"name": name, "dataset": dataset},
        headers=explorer.headers(),
        timeout=120,
    )
    assert response.status_code == 201, response.text


def train_and_wait(explorer: Explorer, name: str, epochs: int = 1) -> None:
    """Train ``name`` on digits through the REST API and wait for the job to succeed."""
    url = explorer.server.url
    job = httpx.post(
        f"{url}/brains/{name}/train",
        json={"dataset": "digits", "epochs": epochs},
        headers=explorer.headers(),
    ).json()
    state = wait_for_job(url, job["id"], explorer.headers())
    assert state == "succeeded", state


def choose_brain(page: Page, name: str, page_id: str) -> None:
    """Pick ``name`` in the page's brain picker and wait for the page to draw again."""
    page.select_option("#brain-select", name)
    page.wait_for_selector(f"body[data-ready='{page_id}']")
    assert page.input_value("#brain-select") == name
