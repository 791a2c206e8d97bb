"""The explorer's datasets and memories pages, and creating a brain from an uploaded CSV,
in real headless Chromium against a real ``marble serve``.

One server and one browser serve the module; each test opens a fresh browser
context and uses datasets and brains of its own.
"""

from __future__ import annotations

import json

import httpx
import pytest
from playwright.sync_api import FilePayload, Page

from tests.ui.conftest import (
    HOSTILE,
    Explorer,
    choose_brain,
    create_brain,
    log_in,
    open_page,
    screenshot,
)

# The digits brain reads 8x8 pixel rows.
DIGIT_WIDTH = 64


def _csv(rows: int, shift: int = 0) -> bytes:
    """A small classification CSV: two input columns and a 0/1 target."""
    lines = ["a,b,target"] + [f"{(i + shift) % 5},{(i * 7) % 3},{i % 2}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _csv_file(content: bytes, name: str = "rows.csv") -> FilePayload:
    return {"name": name, "mimeType": "text/csv", "buffer": content}


def _memories(explorer: Explorer, brain: str) -> dict[str, object]:
    response = httpx.get(
        f"{explorer.server.url}/brains/{brain}/memories",
        params={"limit": 1000},
        headers=explorer.headers(),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _digit_row(lit: tuple[int, ...]) -> list[float]:
    return [1.0 if index in lit else 0.0 for index in range(DIGIT_WIDTH)]


def _no_markup_ran(page: Page) -> None:
    assert page.query_selector("main script") is None
    assert page.query_selector("main img") is None
    assert page.evaluate("window.__pwned") is None


def test_datasets_page_uploads_a_csv_and_lists_its_versions(page: Page, explorer: Explorer) -> None:
    log_in(page, explorer)
    open_page(page, "datasets")
    page.fill("#upload-dataset-name", "uploaded")
    page.set_input_files("#upload-dataset-file", files=[_csv_file(_csv(30))])
    page.fill("#upload-dataset-note", "first rows")
    page.click("#upload-dataset-button")
    page.wait_for_selector("#status:has-text('Uploaded uploaded@1: 30 rows')")
    assert page.is_visible("#datasets-table .dataset-link[data-dataset='uploaded']")
    rows = page.query_selector_all("#dataset-versions-table tbody tr")
    assert len(rows) == 1
    cells = [c.text_content() for c in rows[0].query_selector_all("td")]
    assert cells[0] == "1" and cells[2] == "30" and cells[5] == "first rows"
    # Other rows under the same name: a second version, listed newest first.
    page.set_input_files("#upload-dataset-file", files=[_csv_file(_csv(40, shift=1))])
    page.fill("#upload-dataset-note", "")
    page.click("#upload-dataset-button")
    page.wait_for_selector("#status:has-text('Uploaded uploaded@2: 40 rows')")
    versions = page.locator("#dataset-versions-table tbody tr td:first-child").all_text_contents()
    assert versions == ["2", "1"]
    stored = httpx.get(
        explorer.server.url + "/datasets/uploaded/versions", headers=explorer.headers()
    ).json()
    assert [(v["version"], v["n_rows"]) for v in stored] == [(1, 30), (2, 40)]
    full_hash = page.get_attribute("#dataset-versions-table .hash", "title")
    assert full_hash == stored[1]["content_hash"]
    screenshot(page, "datasets")


def test_datasets_page_shows_the_servers_message_for_a_bad_file(
    page: Page, explorer: Explorer
) -> None:
    log_in(page, explorer)
    open_page(page, "datasets")
    page.fill("#upload-dataset-name", "ragged")
    page.set_input_files("#upload-dataset-file", files=[_csv_file(b"a,b\n1,2,3\n")])
    page.click("#upload-dataset-button")
    page.wait_for_selector("#status.error")
    assert page.inner_text("#status") == (
        "422: upload for dataset 'ragged' line 2: expected 2 fields (one per header column), got 3"
    )
    missing = httpx.get(
        explorer.server.url + "/datasets/ragged/versions", headers=explorer.headers()
    )
    assert missing.status_code == 404


def test_clicking_a_dataset_lists_its_versions(page: Page, explorer: Explorer) -> None:
    response = httpx.post(
        explorer.server.url + "/datasets/clicked",
        content=_csv(12),
        headers={**explorer.headers(), "Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    log_in(page, explorer)
    open_page(page, "datasets")
    page.click(".dataset-link[data-dataset='clicked']")
    page.wait_for_selector("#dataset-versions[data-dataset='clicked'] #dataset-versions-table")
    cells = page.query_selector_all("#dataset-versions-table tbody tr td")
    assert cells[0].text_content() == "1" and cells[2].text_content() == "12"


def test_a_dataset_note_with_markup_shows_as_text(page: Page, explorer: Explorer) -> None:
    log_in(page, explorer)
    open_page(page, "datasets")
    # Dataset names are letters, digits, _ - . only: the server refuses markup there ...
    page.fill("#upload-dataset-name", "<b>bold</b>")
    page.set_input_files("#upload-dataset-file", files=[_csv_file(_csv(10))])
    page.click("#upload-dataset-button")
    page.wait_for_selector("#status.error")
    _no_markup_ran(page)
    # ... but a note is free text, so it must come back as text.
    page.fill("#upload-dataset-name", "noted")
    page.fill("#upload-dataset-note", HOSTILE)
    page.click("#upload-dataset-button")
    page.wait_for_selector("#status:has-text('Uploaded noted@1')")
    note = page.query_selector_all("#dataset-versions-table tbody tr td")[5]
    assert note.text_content() == HOSTILE
    _no_markup_ran(page)


def test_brains_page_creates_a_brain_from_an_uploaded_csv(page: Page, explorer: Explorer) -> None:
    log_in(page, explorer)
    page.fill("#new-brain-name", "from-csv")
    page.set_input_files("#new-brain-file", files=[_csv_file(_csv(30))])
    # The file wins over the built-in/stored choice.
    assert page.is_disabled("#new-brain-dataset")
    page.click("#create-brain-button")
    page.wait_for_selector("#brains-table >> text=from-csv")
    page.wait_for_selector("#status:has-text('Created brain from-csv')")
    versions = httpx.get(
        explorer.server.url + "/datasets/from-csv/versions", headers=explorer.headers()
    ).json()
    assert [(v["version"], v["n_rows"], v["n_features"]) for v in versions] == [(1, 30, 2)]
    brain = httpx.get(explorer.server.url + "/brains/from-csv", headers=explorer.headers())
    assert brain.status_code == 200
    # The stored dataset is now a choice of the select, which still creates brains.
    page.fill("#new-brain-name", "from-stored")
    page.select_option("#new-brain-dataset", "from-csv")
    page.click("#create-brain-button")
    page.wait_for_selector("#brains-table >> text=from-stored")


def test_memories_page_remembers_looks_up_and_recalls(page: Page, explorer: Explorer) -> None:
    create_brain(explorer, "rememberer")
    log_in(page, explorer)
    open_page(page, "memories")
    choose_brain(page, "rememberer", "memories")
    assert page.inner_text("#memories-total") == "0 memories, newest first"
    # An input row with a key and a value, then a fact.
    seven = _digit_row((4, 5, 13, 21, 28, 36))
    page.fill("#remember-key", "seven")
    page.fill("#remember-value", '{"label": 7}')
    page.fill("#remember-input", ", ".join(str(v) for v in seven))
    page.click("#remember-button")
    page.wait_for_selector("#status:has-text('Remembered: id 0')")
    page.fill("#remember-key", "capital")
    page.fill("#remember-value", '"paris"')
    page.click("#remember-button")
    page.wait_for_selector("#status:has-text('Remembered: id 1')")
    listed = page.query_selector_all("#memories-table tbody tr")
    firsts = [[c.text_content() for c in r.query_selector_all("td")][:4] for r in listed]
    assert firsts == [["1", "capital", "paris", "fact"], ["0", "seven", '{"label":7}', "input"]]
    # Look up by key.
    page.fill("#lookup-key", "capital")
    page.click("#lookup-button")
    page.wait_for_selector("#lookup-table")
    cells = [c.text_content() for c in page.query_selector_all("#lookup-table tbody td")]
    assert cells[:4] == ["1", "capital", "paris", "fact"]
    # Recall by the remembered row: itself, nearest, with similarity 1.
    page.fill("#recall-vector", ",".join(str(v) for v in seven))
    page.fill("#recall-k", "3")
    page.click("#recall-button")
    page.wait_for_selector("#recall-table")
    top = [
        c.text_content()
        for c in page.query_selector_all("#recall-table tbody tr")[0].query_selector_all("td")
    ]
    assert float(top[0] or "nan") == pytest.approx(1.0, abs=1e-3)
    assert top[2] == "seven"
    screenshot(page, "memories")


def test_memories_page_refuses_invalid_json_and_sends_nothing(
    page: Page, explorer: Explorer
) -> None:
    create_brain(explorer, "strict-json")
    log_in(page, explorer)
    open_page(page, "memories")
    choose_brain(page, "strict-json", "memories")
    page.fill("#remember-key", "broken")
    page.fill("#remember-value", "{label: 7")
    page.click("#remember-button")
    page.wait_for_selector("#status.error")
    assert page.inner_text("#status").startswith("Value is not valid JSON: ")
    page.fill("#remember-value", "1")
    page.fill("#remember-input", "0.5, oops")
    page.click("#remember-button")
    page.wait_for_selector("#status.error:has-text('value 2 is \"oops\", not a number')")
    assert _memories(explorer, "strict-json")["total"] == 0


def test_memories_page_pages_with_more_and_forgets(page: Page, explorer: Explorer) -> None:
    create_brain(explorer, "many-memories")
    keys = [f"fact-{i}" for i in range(25)]
    response = httpx.post(
        explorer.server.url + "/brains/many-memories/memories",
        json={"keys": keys, "values": list(range(25))},
        headers=explorer.headers(),
    )
    assert response.status_code == 201, response.text
    log_in(page, explorer)
    open_page(page, "memories")
    choose_brain(page, "many-memories", "memories")
    assert len(page.query_selector_all("#memories-table tbody tr")) == 20
    page.click("#memories-more")
    page.wait_for_selector("#memories-more", state="hidden")
    first_cells = page.locator("#memories-table tbody tr td:first-child").all_text_contents()
    ids = [int(cell) for cell in first_cells]
    assert ids == list(range(24, -1, -1))
    # Forget all but the newest 3: the first click arms the button, the second forgets.
    page.fill("#forget-keep-last", "3")
    page.click("#forget-button")
    assert page.inner_text("#forget-button") == "Confirm forget"
    page.click("#forget-button")
    page.wait_for_selector("#status:has-text('Forgot 22 memories')")
    assert page.inner_text("#memories-total") == "3 memories, newest first"
    assert _memories(explorer, "many-memories")["total"] == 3


def test_read_only_token_sees_no_upload_remember_or_forget_controls(
    page: Page, explorer: Explorer
) -> None:
    create_brain(explorer, "read-only-memories")
    response = httpx.post(
        explorer.server.url + "/brains/read-only-memories/memories",
        json={"key": "visible", "value": "to readers"},
        headers=explorer.headers(),
    )
    assert response.status_code == 201, response.text
    log_in(page, explorer, scope="read")
    assert page.query_selector("#create-brain") is None
    assert page.query_selector("#new-brain-file") is None
    open_page(page, "datasets")
    assert page.query_selector("#upload-dataset") is None
    assert page.query_selector("#upload-dataset-file") is None
    open_page(page, "memories")
    choose_brain(page, "read-only-memories", "memories")
    assert page.is_visible("#memories-table >> text=visible")
    for control in ("#remember-form", "#remember-button", "#forget-form", "#forget-button"):
        assert page.query_selector(control) is None, control
    # Recall runs the model (the infer scope): not offered to a read token either.
    assert page.query_selector("#recall-form") is None
    # Looking up is a read, and stays.
    page.fill("#lookup-key", "visible")
    page.click("#lookup-button")
    page.wait_for_selector("#lookup-table >> text=to readers")


def test_a_memory_key_and_value_with_markup_show_as_literal_text(
    page: Page, explorer: Explorer
) -> None:
    create_brain(explorer, "markup-memories")
    response = httpx.post(
        explorer.server.url + "/brains/markup-memories/memories",
        json={"key": HOSTILE, "value": HOSTILE},
        headers=explorer.headers(),
    )
    assert response.status_code == 201, response.text
    log_in(page, explorer)
    open_page(page, "memories")
    choose_brain(page, "markup-memories", "memories")
    cells = page.query_selector_all("#memories-table tbody tr td")
    assert cells[1].text_content() == HOSTILE and cells[2].text_content() == HOSTILE
    _no_markup_ran(page)
    # A value that is a JSON object holding markup, typed on the page, shows as its JSON.
    page.fill("#remember-key", HOSTILE)
    page.fill("#remember-value", json.dumps({"html": HOSTILE}))
    page.click("#remember-button")
    page.wait_for_selector("#status:has-text('Remembered: id 1')")
    newest = page.query_selector_all("#memories-table tbody tr")[0].query_selector_all("td")
    assert newest[1].text_content() == HOSTILE
    assert json.loads(newest[2].text_content() or "null") == {"html": HOSTILE}
    # The key holds "/": lookup still finds both (the key travels as a GraphQL variable).
    page.fill("#lookup-key", HOSTILE)
    page.click("#lookup-button")
    page.wait_for_selector("#lookup-table")
    keys = [
        r.query_selector_all("td")[1].text_content()
        for r in page.query_selector_all("#lookup-table tbody tr")
    ]
    assert keys == [HOSTILE, HOSTILE]
    _no_markup_ran(page)
