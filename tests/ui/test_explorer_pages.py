"""The explorer's pages in real headless Chromium against a real ``marble serve``.

One server and one browser serve the module; each test opens a fresh browser
context (no token until it logs in) and uses brains of its own.
"""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page

from tests.ui.conftest import (
    HOSTILE,
    Explorer,
    choose_brain,
    create_brain,
    log_in,
    open_page,
    screenshot,
    train_and_wait,
)


def test_without_a_token_the_explorer_shows_only_the_login_form(
    page: Page, explorer: Explorer
) -> None:
    create_brain(explorer, "hidden-brain")
    for address in (explorer.url, explorer.url + "#/brains", explorer.url + "#/versions"):
        page.goto(address)
        page.wait_for_selector("#login-form")
        assert page.is_hidden("#nav")
        assert "hidden-brain" not in page.content()
        assert page.query_selector("table") is None
    # A wrong token is refused and keeps the login form.
    page.fill("#token-input", "marble_not-a-real-token")
    page.click("#login-button")
    page.wait_for_selector("#login-error:has-text('Login refused')")
    assert page.evaluate("sessionStorage.getItem('marble.token')") is None
    assert page.query_selector("#brains-table") is None
    screenshot(page, "login")


def test_logging_in_draws_the_brains_page_once(page: Page, explorer: Explorer) -> None:
    # Two draws of one page raced each other: the slower could mark the page ready after a
    # later page had drawn, so a test (or a person) saw the wrong page.
    create_brain(explorer, "drawn-once")
    listings: list[str] = []
    page.on("request", lambda r: listings.append(r.url) if r.url.endswith("/brains") else None)
    log_in(page, explorer)
    page.wait_for_load_state("networkidle")
    assert len(listings) == 1, listings


def test_only_the_last_of_quick_page_changes_is_shown(page: Page, explorer: Explorer) -> None:
    create_brain(explorer, "hurried")
    log_in(page, explorer)
    # The versions page is still waiting for the API when the Cypher page is asked for.
    page.evaluate("location.hash = '#/versions'; setTimeout(() => (location.hash = '#/cypher'), 0)")
    page.wait_for_selector("body[data-ready='cypher']")
    page.wait_for_load_state("networkidle")
    assert page.get_attribute("body", "data-ready") == "cypher"
    assert page.query_selector("#versions-table") is None
    assert page.is_visible("#cypher-query")
    assert len(page.query_selector_all("#brain-select")) == 1


def test_login_keeps_the_token_for_the_session_and_lists_brains(
    page: Page, explorer: Explorer
) -> None:
    create_brain(explorer, "listed-brain")
    log_in(page, explorer)
    assert page.evaluate("sessionStorage.getItem('marble.token')") == explorer.tokens["admin"]
    assert page.is_visible("#brains-table >> text=listed-brain")
    assert page.is_visible("#create-brain") and page.query_selector(".delete-brain") is not None
    # A reload keeps the session; logging out forgets the token.
    page.reload()
    page.wait_for_selector("body[data-ready='brains']")
    screenshot(page, "brains")
    page.click("#logout-button")
    page.wait_for_selector("#login-form")
    assert page.evaluate("sessionStorage.getItem('marble.token')") is None


def test_brains_page_creates_and_deletes_a_brain(page: Page, explorer: Explorer) -> None:
    log_in(page, explorer)
    page.fill("#new-brain-name", "made-in-ui")
    page.select_option("#new-brain-dataset", "sine")
    page.click("#create-brain-button")
    page.wait_for_selector("#brains-table >> text=made-in-ui")
    brains = httpx.get(explorer.server.url + "/brains", headers=explorer.headers()).json()
    assert "made-in-ui" in {b["name"] for b in brains}
    delete = page.locator(".delete-brain[data-brain='made-in-ui']")
    delete.click()
    assert delete.inner_text() == "Confirm delete"
    delete.click()
    page.wait_for_selector("#brains-table >> text=made-in-ui", state="detached")
    missing = httpx.get(explorer.server.url + "/brains/made-in-ui", headers=explorer.headers())
    assert missing.status_code == 404


def test_read_only_token_sees_no_write_controls_and_the_api_refuses_writes(
    page: Page, explorer: Explorer
) -> None:
    create_brain(explorer, "read-only-view")
    train_and_wait(explorer, "read-only-view")
    log_in(page, explorer, scope="read")
    assert page.inner_text("#token-scopes") == "scopes: read"
    assert page.query_selector("#create-brain") is None
    assert page.query_selector(".delete-brain") is None
    open_page(page, "train")
    choose_brain(page, "read-only-view", "train")
    assert page.query_selector("#train-form") is None
    assert page.query_selector("#start-train") is None
    # It may still watch a job: the one trained above, listed with its state.
    page.click("#jobs-table .watch-job")
    page.wait_for_selector("#job-state[data-state='succeeded']")
    assert page.query_selector("#cancel-job") is None
    open_page(page, "neuromodulation")
    assert page.query_selector("#nm-apply") is None
    assert page.is_disabled("#nm-reward") and page.is_disabled("#nm-emotion")
    open_page(page, "versions")
    assert page.query_selector(".rollback") is None
    open_page(page, "infer")
    assert page.query_selector("#infer-run") is None
    # The page's own token, used directly, is refused by the API all the same.
    statuses = page.evaluate(
        """async () => {
            const auth = { Authorization: `Bearer ${sessionStorage.getItem('marble.token')}`,
                           'Content-Type': 'application/json' };
            const create = await fetch('../brains', { method: 'POST', headers: auth,
                body: JSON.stringify({ name: 'sneaky', dataset: 'sine' }) });
            const train = await fetch('../brains/read-only-view/train', { method: 'POST',
                headers: auth, body: JSON.stringify({ dataset: 'digits', epochs: 1 }) });
            const remove = await fetch('../brains/read-only-view', { method: 'DELETE',
                headers: auth });
            return [create.status, train.status, remove.status];
        }"""
    )
    assert statuses == [403, 403, 403]
    names = {
        b["name"]
        for b in httpx.get(explorer.server.url + "/brains", headers=explorer.headers()).json()
    }
    assert "sneaky" not in names and "read-only-view" in names


def test_a_brain_name_with_markup_is_refused_and_api_strings_show_as_text(
    page: Page, explorer: Explorer
) -> None:
    log_in(page, explorer)
    # The API refuses such a name outright (names are letters, digits, _ - .) ...
    page.fill("#new-brain-name", "<script>alert(1)</script>")
    page.click("#create-brain-button")
    page.wait_for_selector("#status.error")
    assert page.evaluate("window.__pwned") is None
    assert page.query_selector("main script") is None
    # ... so a string that may carry markup, a Cypher result, must come out as text.
    create_brain(explorer, "markup-check", dataset="sine")
    open_page(page, "cypher")
    choose_brain(page, "markup-check", "cypher")
    page.fill("#cypher-query", f"RETURN '{HOSTILE}' AS hostile")
    page.click("#cypher-run")
    page.wait_for_selector("#cypher-results td")
    assert page.text_content("#cypher-results td") == HOSTILE
    assert page.query_selector("#cypher-results img") is None
    assert page.evaluate("window.__pwned") is None


def test_training_draws_the_loss_curve_while_the_job_runs_and_cancel_stops_it(
    page: Page, explorer: Explorer
) -> None:
    create_brain(explorer, "curve")
    log_in(page, explorer)
    open_page(page, "train")
    choose_brain(page, "curve", "train")
    page.select_option("#train-dataset", "digits")
    page.fill("#train-epochs", "2000")
    page.click("#start-train")
    page.wait_for_selector("#job-state[data-state='running']")
    # Points arrive one per epoch while the job is still running.
    page.wait_for_function("Number(document.querySelector('#loss-chart').dataset.points || 0) >= 2")
    first = int(page.get_attribute("#loss-chart", "data-points") or 0)
    page.wait_for_function(
        f"Number(document.querySelector('#loss-chart').dataset.points) > {first}"
    )
    assert page.get_attribute("#job-state", "data-state") == "running"
    assert int(page.get_attribute("#accuracy-chart", "data-points") or 0) >= 2
    assert page.is_visible("#epoch-metrics-table >> text=val_accuracy")
    # The run the page started is listed among the brain's recent jobs while it runs.
    job_id = page.get_attribute("#jobs-table tbody tr:first-child .watch-job", "data-job")
    page.wait_for_selector(f"#jobs-table tr:has(button[data-job='{job_id}']) >> text=running")
    screenshot(page, "training")
    page.click("#cancel-job")
    page.wait_for_selector("#job-state[data-state='cancelled']")
    assert page.is_hidden("#cancel-job")
    page.wait_for_selector(f"#jobs-table tr:has(button[data-job='{job_id}']) >> text=cancelled")


def test_a_dream_started_from_the_page_draws_its_replay_loss(
    page: Page, explorer: Explorer
) -> None:
    create_brain(explorer, "dreamer")
    train_and_wait(explorer, "dreamer")
    log_in(page, explorer)
    open_page(page, "train")
    choose_brain(page, "dreamer", "train")
    page.fill("#dream-cycles", "12")
    page.click("#start-dream")
    page.wait_for_selector("#job-state[data-state='succeeded'][data-kind='dream']")
    # One point per replay cycle, the last one's metrics in the table.
    page.wait_for_function("document.querySelector('#loss-chart').dataset.points === '12'")
    assert page.is_visible("#epoch-metrics-table >> text=cycles")
    # A dream has no validation pass, so no accuracy chart.
    assert page.is_hidden("#accuracy-chart")
    versions = httpx.get(
        explorer.server.url + "/brains/dreamer/versions", headers=explorer.headers()
    ).json()
    assert len(versions) == 3  # created, trained, dreamed
    screenshot(page, "dream")


def test_slider_values_reach_the_next_runs_metrics(page: Page, explorer: Explorer) -> None:
    create_brain(explorer, "moody")
    log_in(page, explorer)
    open_page(page, "neuromodulation")
    choose_brain(page, "moody", "neuromodulation")
    for signal, value in (("reward", "0.7"), ("stress", "0.25"), ("arousal", "0.4")):
        page.fill(f"#nm-{signal}", value)
        assert page.inner_text(f"#nm-{signal}-value") == f"{float(value):.2f}"
    page.fill("#nm-emotion", HOSTILE[:64])
    page.click("#nm-apply")
    page.wait_for_selector("#nm-mode:has-text('manual')")
    screenshot(page, "neuromodulation")
    open_page(page, "train")
    page.select_option("#train-dataset", "digits")
    page.fill("#train-epochs", "2")
    page.click("#start-train")
    page.wait_for_selector("#job-state[data-state='succeeded']")
    metrics = dict(
        (
            row.query_selector_all("td")[0].text_content(),
            row.query_selector_all("td")[1].text_content(),
        )
        for row in page.query_selector_all("#epoch-metrics-table tbody tr")
    )
    assert float(metrics["reward"] or "nan") == pytest.approx(0.7)
    assert float(metrics["stress"] or "nan") == pytest.approx(0.25)
    assert float(metrics["arousal"] or "nan") == pytest.approx(0.4)
    # The emotion, a free-text API string, is shown as text.
    assert metrics["emotion"] == HOSTILE[:64]
    assert page.query_selector("#epoch-metrics img") is None
    assert page.evaluate("window.__pwned") is None


def test_inference_from_a_drawn_digit_shows_probabilities(page: Page, explorer: Explorer) -> None:
    create_brain(explorer, "reader")
    # Trained once, so the brain knows its task's classes and answers probabilities.
    train_and_wait(explorer, "reader")
    log_in(page, explorer)
    open_page(page, "infer")
    choose_brain(page, "reader", "infer")
    # Ink a vertical stroke: a "1".
    for row in range(1, 7):
        page.click(f"#draw-grid .cell[data-index='{row * 8 + 4}']")
    vector = [float(v) for v in page.input_value("#infer-vector").split(",")]
    assert len(vector) == 64 and sum(vector) == 6
    page.click("#infer-run")
    page.wait_for_selector("#infer-probabilities")
    rows = page.query_selector_all("#infer-probabilities tbody tr")
    assert len(rows) == 10
    probabilities = [float(r.query_selector_all("td")[1].text_content() or "nan") for r in rows]
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-3)
    assert page.inner_text("#infer-label").startswith("Predicted class: ")
    # Under the probabilities, a heatmap of every neuron's state for the drawn input.
    brain = httpx.get(explorer.server.url + "/brains/reader", headers=explorer.headers()).json()
    width = brain["config"]["core"]["representation_size"]
    page.wait_for_selector("#activation-heatmap[data-cells]")
    cells = int(page.get_attribute("#activation-heatmap", "data-cells") or 0)
    assert cells == brain["neuron_count"] * width
    assert page.inner_text("#activation-caption").startswith(f"{brain['neuron_count']} neurons")
    screenshot(page, "inference")


def test_inference_answers_from_the_version_chosen(page: Page, explorer: Explorer) -> None:
    create_brain(explorer, "older")
    train_and_wait(explorer, "older")  # version 2 is current; version 1 is the seed
    log_in(page, explorer)
    open_page(page, "infer")
    choose_brain(page, "older", "infer")
    assert page.inner_text("#infer-version option:checked") == "current (2)"
    page.select_option("#infer-version", "1")
    page.click("#draw-grid .cell[data-index='20']")
    page.click("#infer-run")
    page.wait_for_selector("#activation-heatmap[data-cells]")
    assert "(version 1)" in page.inner_text("#infer-activations h3")
    row = [float(v) for v in page.input_value("#infer-vector").split(",")]
    seed = httpx.post(
        explorer.server.url + "/infer",
        json={"brain": "older", "inputs": [row], "version": 1},
        headers=explorer.headers(),
    ).json()
    assert seed["version"] == 1
    shown = page.query_selector_all("#infer-result tbody tr")
    values = [float(r.query_selector_all("td")[1].text_content() or "nan") for r in shown]
    expected = seed["probabilities"][0] if seed.get("probabilities") else seed["outputs"][0]
    assert values == pytest.approx(expected, abs=1e-3)


def test_cypher_console_shows_query_results_in_a_table(page: Page, explorer: Explorer) -> None:
    create_brain(explorer, "queried")
    log_in(page, explorer)
    open_page(page, "cypher")
    choose_brain(page, "queried", "cypher")
    page.click("#cypher-run")
    page.wait_for_selector("#cypher-results")
    headers = [h.text_content() for h in page.query_selector_all("#cypher-results th")]
    assert headers == ["id", "kind", "bias"]
    rows = page.query_selector_all("#cypher-results tbody tr")
    assert len(rows) == 20
    kinds = {r.query_selector_all("td")[1].text_content() for r in rows}
    assert kinds <= {"input", "hidden", "output"} and "input" in kinds
    screenshot(page, "cypher")
    # A write is refused by the read-only query API, and the page says so.
    page.fill("#cypher-query", "MATCH (n:Neuron) SET n.bias = 1.0")
    page.click("#cypher-run")
    page.wait_for_selector("#status.error")


def test_versions_page_lists_diffs_and_rolls_back(page: Page, explorer: Explorer) -> None:
    create_brain(explorer, "versioned")
    train_and_wait(explorer, "versioned")
    log_in(page, explorer)
    open_page(page, "versions")
    choose_brain(page, "versioned", "versions")
    rows = page.query_selector_all("#versions-table tbody tr")
    assert len(rows) == 2
    page.click("#diff-run")
    page.wait_for_selector("#diff-table")
    assert page.is_visible("#diff-table >> text=weights")
    screenshot(page, "versions")
    page.click(".rollback[data-version='1']")
    page.wait_for_selector("#status:has-text('Rolled back')")
    brain = httpx.get(explorer.server.url + "/brains/versioned", headers=explorer.headers()).json()
    versions = httpx.get(
        explorer.server.url + "/brains/versioned/versions", headers=explorer.headers()
    ).json()
    current = next(v for v in versions if v["current"])
    assert current["version"] == brain["version"]
    assert current["graph_hash"] == next(v for v in versions if v["version"] == 1)["graph_hash"]
