"""The checked-in contracts match what the code exports (run `make schema` after an API change)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from marble_server.contracts import OPENAPI_FILE, SDL_FILE, graphql_sdl, openapi_text

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schema"


@pytest.mark.parametrize(
    ("name", "export"), [(OPENAPI_FILE, openapi_text), (SDL_FILE, graphql_sdl)]
)
def test_checked_in_contract_matches_the_code(name: str, export: object) -> None:
    checked_in = (SCHEMA_DIR / name).read_text(encoding="utf-8")
    assert callable(export)
    assert checked_in == export(), f"schema/{name} is stale: run `make schema` and commit it"


def test_openapi_documents_every_error_as_problem_json_and_the_bearer_scheme() -> None:
    document = json.loads(openapi_text())
    assert "/infer" in document["paths"]
    assert "/brains/{name}/train" in document["paths"]
    assert "inputs" in document["components"]["schemas"]["InferRequest"]["properties"]
