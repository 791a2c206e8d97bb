"""A client's mistake is a 4xx with the same problem on REST and GraphQL, Allow lists every
method of a path, and the OpenAPI schema refuses what the server refuses."""

from __future__ import annotations

from typing import Any

import pytest

from marble_graph.brain_graph import TABLE_SCHEMAS
from marble_graph.brain_names import BRAIN_NAME
from marble_graph.datasets import BUILTIN_DATASETS
from marble_graph.store.metadata.models import JobState
from marble_server.brain_writes import API_DATASET_SPEC
from tests.server.conftest import LiveApp
from tests.server.graphql.conftest import GraphQLClient

pytestmark = pytest.mark.anyio

RAGGED_DETAIL = (
    "inputs: row 1 has 2 values, row 0 has 1; every row must be as wide as the brain's inputs"
)


async def test_ragged_rows_are_422_on_rest_and_bad_user_input_on_graphql(
    live_with_brain: LiveApp,
) -> None:
    live = live_with_brain
    rest = await live.client.post(
        "/infer", json={"brain": "wave", "inputs": [[1.0], [1.0, 2.0]]}, headers=live.auth("infer")
    )
    assert rest.status_code == 422, rest.text
    assert rest.json()["type"] == "urn:marble:problem:validation-failed"
    assert rest.json()["detail"] == RAGGED_DETAIL

    error = await GraphQLClient(live).error(
        'mutation { infer(brain: "wave", inputs: [[1.0], [1.0, 2.0]]) { version } }',
        scope="infer",
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == RAGGED_DETAIL


async def test_options_and_405_list_every_method_of_the_path(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    expected = {
        "/brains": {"GET", "POST"},
        "/brains/wave": {"GET", "DELETE"},
        "/infer": {"POST"},
    }
    for path, methods in expected.items():
        for method in ("OPTIONS", "PUT", "PATCH"):
            response = await live.client.request(method, path, headers=live.auth("read"))
            assert response.status_code == 405, (method, path, response.text)
            assert response.json()["type"] == "urn:marble:problem:method-not-allowed"
            allowed = {m.strip() for m in response.headers["allow"].split(",")}
            assert allowed == methods, (method, path, allowed)


def _parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in operation.get("parameters", []) if p["name"] == name)


async def test_openapi_schema_refuses_what_the_server_refuses(live: LiveApp) -> None:
    openapi = (await live.client.get("/openapi.json")).json()
    schemas = openapi["components"]["schemas"]
    create_dataset = schemas["BrainCreate"]["properties"]["dataset"]["anyOf"][0]
    train_dataset = schemas["TrainRequest"]["properties"]["dataset"]
    for dataset in (create_dataset, train_dataset):
        # A built-in or a stored NAME[@VERSION|@TAG]: no path fits the pattern.
        assert dataset["pattern"] == API_DATASET_SPEC.pattern
        assert dataset["examples"] == list(BUILTIN_DATASETS)
        assert all(API_DATASET_SPEC.fullmatch(name) for name in BUILTIN_DATASETS)
        assert not API_DATASET_SPEC.fullmatch("/etc/passwd")
        assert not API_DATASET_SPEC.fullmatch("data/wine.csv")
    assert schemas["InferRequest"]["properties"]["brain"]["pattern"] == BRAIN_NAME.pattern

    paths = openapi["paths"]
    tables = _parameter(paths["/brains/{name}/graph"]["get"], "tables")["schema"]["pattern"]
    assert tables.startswith("^") and all(table in tables for table in TABLE_SCHEMAS)
    state = _parameter(paths["/jobs"]["get"], "state")["schema"]
    assert state["enum"] == [s.value for s in JobState]
    for path, item in paths.items():
        if "{name}" in path:
            for operation in item.values():
                assert _parameter(operation, "name")["schema"]["pattern"] == BRAIN_NAME.pattern


@pytest.mark.parametrize(
    ("path", "query", "names"),
    [
        ("/brains/wave/graph", "tables=neurons,", "''"),
        ("/brains/wave/graph", "tables=neurons, lobes", "' lobes'"),
        ("/brains/wave/graph", "offset=9007199254740992", "offset"),
        ("/jobs", "state=", "''"),
        ("/brains/9bad", "", "name"),
    ],
)
async def test_values_the_schema_refuses_are_422(
    live_with_brain: LiveApp, path: str, query: str, names: str
) -> None:
    live = live_with_brain
    response = await live.client.get(f"{path}?{query}", headers=live.auth("read"))
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "urn:marble:problem:validation-failed"
    assert names in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "seeded", "seed": True}, 422),
        ({"name": "seeded", "seed": "3"}, 422),
        ({"name": "seeded", "seed": 2**53}, 422),
        ({"name": "seeded", "seed": 3.0}, 201),
    ],
)
async def test_integers_take_json_integers_only(
    live: LiveApp, body: dict[str, Any], status: int
) -> None:
    response = await live.client.post("/brains", json=body, headers=live.auth("train"))
    assert response.status_code == status, response.text
