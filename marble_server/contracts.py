"""The API contracts checked into schema/: the OpenAPI document and the GraphQL SDL.

``make schema`` (``python -m marble_server.contracts``) rewrites both; a test
fails when the checked-in files differ from what the code exports, so a
change to the API is always a visible change to the contract.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from marble_graph.config import MarbleConfig
from marble_server.app import create_app
from marble_server.graphql import build_schema
from marble_server.settings import ServerSettings

OPENAPI_FILE = "openapi.json"
SDL_FILE = "schema.graphql"


def openapi_text() -> str:
    app = create_app(ServerSettings(), MarbleConfig())
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


def graphql_sdl() -> str:
    return str(build_schema(ServerSettings())).rstrip("\n") + "\n"


def write_contracts(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in ((OPENAPI_FILE, openapi_text()), (SDL_FILE, graphql_sdl())):
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("schema")
    for path in write_contracts(target):
        print(f"wrote {path}")
