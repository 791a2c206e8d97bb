"""The graph view (marble_server/ui/static/graph.js) in real headless Chromium.

A real ``marble serve`` on loopback holds a freshly seeded 10,000-neuron brain
(no training: seeding is what makes the graph). The page under test is
tests/ui/graph_page.html, served by the browser at the live server's origin so
its ``import "/ui/graph.js"`` and every API call reach the real server. WebGL
runs on SwiftShader (software), so this needs no GPU.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, Page

from marble_graph.config import MarbleConfig, config_from_mapping
from tests.conftest import GRAPH_ENGINE
from tests.e2e.conftest import serve_marble
from tests.server.conftest import server_config
from tests.ui.conftest import wait_for_job

UI_TESTS = Path(__file__).resolve().parent
TEST_PAGE = UI_TESTS / "graph_page.html"
SCREENSHOTS = UI_TESTS / "screenshots"
# 709 x 14 hidden neurons + 64 inputs + 10 outputs (the default task's sizes).
GRID_WIDTH, GRID_HEIGHT = 709, 14
NEURONS = 10_000
# From navigation to all 10,000 neurons on the canvas (one export request, parse, draw).
DRAW_BOUND_S = 20.0


@dataclass
class GraphPage:
    page: Page
    errors: list[str]  # uncaught exceptions in the page's scripts


@dataclass
class GraphServer:
    url: str
    tokens: dict[str, str]

    def auth(self, scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[scope]}"}


def _big_brain_config() -> MarbleConfig:
    return config_from_mapping(
        {
            "seed": {
                "width": GRID_WIDTH,
                "height": GRID_HEIGHT,
                "output_fanin": 16,
                "random_seed": 7,
            },
            "storage": {"graph_engine": GRAPH_ENGINE},
            "logging": {"level": "WARNING"},
        }
    )


@contextmanager
def _serve(root: Path, config: MarbleConfig) -> Iterator[GraphServer]:
    """``marble serve`` (tests/e2e's) with ``config`` and read and train tokens."""
    with serve_marble(root, ("read", "train"), marble_config=config) as (server, tokens):
        yield GraphServer(server.url, tokens)


@pytest.fixture(scope="module")
def graph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphServer]:
    """A server whose brains are seeded 709 x 14 (10,000 neurons in all)."""
    with _serve(tmp_path_factory.mktemp("graph-ui"), _big_brain_config()) as server:
        yield server


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphServer]:
    """A server with the tiny server-test config: its brains train in seconds."""
    with _serve(tmp_path_factory.mktemp("graph-ui-small"), server_config()) as server:
        yield server


@pytest.fixture(scope="module")
def big_brain(graph_server: GraphServer) -> dict[str, Any]:
    """A seeded (untrained) brain of exactly 10,000 neurons, as POST /brains reports it."""
    created = httpx.post(
        graph_server.url + "/brains",
        json={"name": "big"},
        headers=graph_server.auth("train"),
        timeout=120,
    )
    assert created.status_code == 201, created.text
    details: dict[str, Any] = created.json()
    assert details["neuron_count"] == NEURONS
    return details


@contextmanager
def _graph_page(server: GraphServer, browser: Browser) -> Iterator[GraphPage]:
    """A page at the server's origin showing tests/ui/graph_page.html, read token set."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.route(
        server.url + "/__graph_test__/page.html*",
        lambda route: route.fulfill(
            status=200, content_type="text/html", body=TEST_PAGE.read_text(encoding="utf-8")
        ),
    )
    token = server.tokens["read"]
    page.add_init_script(f"sessionStorage.setItem('marble.token', {json.dumps(token)})")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield GraphPage(page, errors)
    finally:
        context.close()


@pytest.fixture
def graph_view(graph_server: GraphServer, browser: Browser) -> Iterator[GraphPage]:
    with _graph_page(graph_server, browser) as view:
        yield view


@pytest.fixture
def small_view(small_server: GraphServer, browser: Browser) -> Iterator[GraphPage]:
    with _graph_page(small_server, browser) as view:
        yield view


def _gql(server: GraphServer, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        server.url + "/graphql",
        json={"query": query, "variables": variables},
        headers=server.auth("read"),
        timeout=60,
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def _open_graph(page: Page, server: GraphServer, brain: str = "big", nodes: int = NEURONS) -> float:
    """Load the page and wait for the first full draw; returns the seconds it took."""
    started = time.monotonic()
    page.goto(server.url + f"/__graph_test__/page.html?brain={brain}")
    page.wait_for_function(
        f"document.getElementById('graph').dataset.drawnNodes === '{nodes}'",
        timeout=DRAW_BOUND_S * 1000,
    )
    return time.monotonic() - started


def test_ten_thousand_neurons_are_drawn_within_the_bound(
    graph_view: GraphPage, graph_server: GraphServer, big_brain: dict[str, Any]
) -> None:
    seconds = _open_graph(graph_view.page, graph_server)
    assert seconds < DRAW_BOUND_S
    graph = graph_view.page.locator("#graph")
    assert graph.get_attribute("data-drawn-nodes") == str(NEURONS)
    assert graph.get_attribute("data-drawn-edges") == str(big_brain["synapse_count"])
    # The canvas really holds a picture: many distinct colours, not one cleared background.
    colours = graph_view.page.evaluate(
        """() => {
          const canvas = document.querySelector('#graph canvas');
          const gl = canvas.getContext('webgl');
          const pixels = new Uint8Array(canvas.width * canvas.height * 4);
          gl.readPixels(0, 0, canvas.width, canvas.height, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
          const seen = new Set();
          for (let i = 0; i < pixels.length; i += 4 * 97) {
            seen.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
          }
          return seen.size;
        }"""
    )
    assert colours > 20
    assert graph_view.errors == []
    SCREENSHOTS.mkdir(exist_ok=True)
    graph_view.page.screenshot(path=str(SCREENSHOTS / "graph-10000.png"))


def test_explorer_graph_page_draws_ten_thousand_neurons_under_its_csp(
    browser: Browser, graph_server: GraphServer, big_brain: dict[str, Any]
) -> None:
    # The real explorer (/ui/, engineer U's app.js mounting graph.js), its
    # Content-Security-Policy enforced: no eval, no inline styles, API on 'self' only.
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(graph_server.url + "/ui/")
        page.fill("#token-input", graph_server.tokens["read"])
        page.click("#login-button")
        page.wait_for_selector("body[data-ready='brains']")
        started = time.monotonic()
        page.click("#brains-table a.brain-link")
        page.wait_for_selector(
            f"#graph-root[data-drawn-nodes='{NEURONS}']", timeout=DRAW_BOUND_S * 1000
        )
        assert time.monotonic() - started < DRAW_BOUND_S
        drawn_edges = page.locator("#graph-root").get_attribute("data-drawn-edges")
        assert drawn_edges == str(big_brain["synapse_count"])
        # Under the graph, the histogram of every synapse's weight.
        page.wait_for_selector("#weight-histogram[data-count]")
        count = page.get_attribute("#weight-histogram", "data-count")
        assert count == str(big_brain["synapse_count"])
        # Hiding synapses under half the strongest |weight| leaves exactly those drawn.
        weights = _synapse_weights(graph_server, "big")
        strong = int((np.abs(weights) >= 0.5 * np.abs(weights).max()).sum())
        assert 0 < strong < len(weights)
        page.locator("#graph-root .graph-min-strength").fill("0.5")
        page.wait_for_selector(f"#graph-root[data-drawn-edges='{strong}']")
        assert page.locator("#graph-root").get_attribute("data-drawn-nodes") == str(NEURONS)
        assert errors == []
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "explorer-graph-10000.png"))
    finally:
        context.close()


def test_clicking_a_neuron_shows_its_state_and_synapses(
    graph_view: GraphPage, graph_server: GraphServer, big_brain: dict[str, Any]
) -> None:
    _open_graph(graph_view.page, graph_server)
    # An output neuron: they sit apart on the right edge, so the click is unambiguous.
    outputs = _gql(
        graph_server,
        'query($brain: String!) { brain(name: $brain) { neurons(filter: {kind: "output"}, '
        "first: 1) { edges { node { id state incoming { source } outgoing { target } } } } } }",
        {"brain": "big"},
    )
    neuron = outputs["brain"]["neurons"]["edges"][0]["node"]
    where = graph_view.page.evaluate(f"window.graphView.locate({neuron['id']})")
    box = graph_view.page.locator("#graph canvas").bounding_box()
    assert box is not None and where is not None
    graph_view.page.mouse.click(box["x"] + where["x"], box["y"] + where["y"])
    panel = graph_view.page.locator("#graph .graph-panel")
    panel.locator("h3").filter(has_text=f"Neuron {neuron['id']}").wait_for(timeout=10_000)
    assert graph_view.page.locator("#graph").get_attribute("data-selected-neuron") == str(
        neuron["id"]
    )
    assert f"state [{len(neuron['state'])}]" in panel.inner_text()
    incoming = panel.locator(".neuron-incoming h4").inner_text()
    outgoing = panel.locator(".neuron-outgoing h4").inner_text()
    assert incoming == f"incoming ({len(neuron['incoming'])})"
    assert outgoing == f"outgoing ({len(neuron['outgoing'])})"
    assert len(neuron["incoming"]) > 0
    SCREENSHOTS.mkdir(exist_ok=True)
    graph_view.page.screenshot(path=str(SCREENSHOTS / "graph-neuron-panel.png"))


def test_pathway_inspector_highlights_the_strongest_path(
    graph_view: GraphPage, graph_server: GraphServer, big_brain: dict[str, Any]
) -> None:
    _open_graph(graph_view.page, graph_server)
    ends = _gql(
        graph_server,
        'query($brain: String!) { brain(name: $brain) { neurons(filter: {kind: "output"}, '
        "first: 1) { edges { node { id incoming { source } } } } } }",
        {"brain": "big"},
    )
    output = ends["brain"]["neurons"]["edges"][0]["node"]
    start = output["incoming"][0]["source"]
    # Two hops back from the output: a path the inspector must find and draw.
    before = _gql(
        graph_server,
        "query($brain: String!, $id: Int!) { neuron(brain: $brain, id: $id) "
        "{ incoming { source } } }",
        {"brain": "big", "id": start},
    )
    origin = before["neuron"]["incoming"][0]["source"]
    expected = _gql(
        graph_server,
        "query($brain: String!, $from: Int!, $to: Int!) "
        "{ pathway(brain: $brain, from: $from, to: $to) { neurons } }",
        {"brain": "big", "from": origin, "to": output["id"]},
    )["pathway"]
    assert expected is not None
    graph_view.page.fill("#graph .graph-path-from", str(origin))
    graph_view.page.fill("#graph .graph-path-to", str(output["id"]))
    graph_view.page.click("#graph .graph-pathway button")
    graph_view.page.wait_for_function(
        "document.getElementById('graph').dataset.pathNeurons", timeout=20_000
    )
    shown = graph_view.page.locator("#graph").get_attribute("data-path-neurons")
    assert shown == ",".join(str(n) for n in expected["neurons"])
    result = graph_view.page.locator("#graph .graph-path-result").inner_text()
    assert result.startswith(f"{len(expected['neurons']) - 1} hops")
    # The highlight is drawn over the full graph, which stays drawn.
    assert graph_view.page.locator("#graph").get_attribute("data-drawn-nodes") == str(NEURONS)
    SCREENSHOTS.mkdir(exist_ok=True)
    graph_view.page.screenshot(path=str(SCREENSHOTS / "graph-pathway.png"))


def _canvas_pixels(page: Page) -> str:
    """A digest of the canvas's pixels, to tell whether two draws differ."""
    digest: str = page.evaluate(
        """() => {
          const canvas = document.querySelector('#graph canvas');
          const gl = canvas.getContext('webgl');
          const pixels = new Uint8Array(canvas.width * canvas.height * 4);
          gl.readPixels(0, 0, canvas.width, canvas.height, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
          let hash = 0;
          for (let i = 0; i < pixels.length; i += 1) hash = (hash * 31 + pixels[i]) | 0;
          return String(hash);
        }"""
    )
    return digest


@pytest.fixture(scope="module")
def lobed_brain(small_server: GraphServer) -> int:
    """A small brain trained for two epochs (training forms its lobes); its neuron count."""
    with httpx.Client(base_url=small_server.url, timeout=120) as http:
        created = http.post(
            "/brains", json={"name": "lobed", "dataset": "sine"}, headers=small_server.auth("train")
        )
        assert created.status_code == 201, created.text
        job = http.post(
            "/brains/lobed/train",
            json={"dataset": "sine", "epochs": 2},
            headers=small_server.auth("train"),
        ).json()
        state = wait_for_job(small_server.url, job["id"], small_server.auth("read"))
        assert state == "succeeded", state
        neurons: int = http.get("/brains/lobed", headers=small_server.auth("read")).json()[
            "neuron_count"
        ]
    return neurons


def test_lobe_colouring_and_filter_after_training(
    small_view: GraphPage, small_server: GraphServer, lobed_brain: int
) -> None:
    neurons = lobed_brain
    lobes = _gql(
        small_server,
        "query($brain: String!) { brain(name: $brain) { lobes { name memberCount } } }",
        {"brain": "lobed"},
    )["brain"]["lobes"]
    assert len(lobes) >= 2
    page = small_view.page
    _open_graph(page, small_server, "lobed", neurons)
    by_kind = _canvas_pixels(page)
    page.select_option("#graph .graph-colour", "lobe")
    assert _canvas_pixels(page) != by_kind
    assert page.locator("#graph").get_attribute("data-drawn-nodes") == str(neurons)
    options = page.locator("#graph .graph-lobe-filter option").all_inner_texts()
    assert options == ["all", *(lobe["name"] for lobe in lobes)]
    first = lobes[0]
    page.select_option("#graph .graph-lobe-filter", label=first["name"])
    drawn = page.locator("#graph").get_attribute("data-drawn-nodes")
    assert drawn == str(first["memberCount"])
    edges_in_lobe = int(page.locator("#graph").get_attribute("data-drawn-edges") or "-1")
    page.select_option("#graph .graph-lobe-filter", "-1")
    assert page.locator("#graph").get_attribute("data-drawn-nodes") == str(neurons)
    assert 0 <= edges_in_lobe < int(page.locator("#graph").get_attribute("data-drawn-edges") or "0")
    assert small_view.errors == []
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "graph-lobes.png"))


def test_zoom_and_pan_move_the_view_and_picking_follows(
    small_view: GraphPage, small_server: GraphServer, lobed_brain: int
) -> None:
    page = small_view.page
    _open_graph(page, small_server, "lobed", lobed_brain)
    canvas = page.locator("#graph canvas")
    box = canvas.bounding_box()
    assert box is not None
    centre = (box["width"] / 2, box["height"] / 2)
    target = 10  # a hidden neuron of the 6 x 6 grid
    before = page.evaluate(f"window.graphView.locate({target})")
    page.mouse.move(box["x"] + centre[0], box["y"] + centre[1])
    page.mouse.wheel(0, -400)  # zoom in about the canvas centre
    zoomed = page.evaluate(f"window.graphView.locate({target})")
    # Zooming about the centre pushes every neuron away from it.
    assert abs(zoomed["x"] - centre[0]) > abs(before["x"] - centre[0]) * 1.5
    page.mouse.move(box["x"] + 100, box["y"] + 100)
    page.mouse.down()
    page.mouse.move(box["x"] + 160, box["y"] + 140, steps=5)
    page.mouse.up()
    panned = page.evaluate(f"window.graphView.locate({target})")
    assert panned["x"] == pytest.approx(zoomed["x"] + 60, abs=1)
    assert panned["y"] == pytest.approx(zoomed["y"] + 40, abs=1)
    # A drag is not a click: nothing was selected by it.
    assert page.locator("#graph").get_attribute("data-selected-neuron") is None
    page.mouse.click(box["x"] + panned["x"], box["y"] + panned["y"])
    page.locator("#graph .graph-panel h3").filter(has_text=f"Neuron {target}").wait_for()
    assert page.locator("#graph").get_attribute("data-drawn-nodes") == str(lobed_brain)
    assert small_view.errors == []


def _synapse_weights(server: GraphServer, brain: str) -> np.ndarray:
    """Every synapse weight of ``brain``'s current version, from the graph export."""
    response = httpx.get(
        f"{server.url}/brains/{brain}/graph?tables=synapses",
        headers=server.auth("read"),
        timeout=60,
    )
    rows = [json.loads(line) for line in response.text.splitlines()[1:] if line]
    return np.array([row["weight"] for row in rows if row["table"] == "synapses"], np.float32)
