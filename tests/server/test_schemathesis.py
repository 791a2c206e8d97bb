"""Schemathesis against the in-process app: the OpenAPI schema is as strict as the server.

One real app (graph database and SQLite in a temp home) serves both runs, with
a token holding every scope and a created brain. The REST run is schemathesis'
engine (what ``schemathesis run --checks all`` does): every operation of
/openapi.json through the examples, coverage, fuzzing and stateful phases, all
checks, a bounded and deterministic number of examples. Nothing is excluded:

- POST /brains/{name}/train starts real training jobs when the stateful phase
  links it to a brain it created; the test config trains 3 epochs of a 6x6
  grid (about a second), so those jobs stay inside the time budget.
- GET /jobs/{job_id}/events is an event stream that ends with its job; the
  engine stops reading a stream after ``max-stream-events``.
- ``positive_data_acceptance`` is replaced by a version that also lets pass a
  422 naming a width mismatch between the rows or dataset and the brain, or
  objects for a brain not trained on a stored dataset: the brain is state
  (brains the run itself created), which no schema can state. So is a dataset
  upload's body (and a diff's, to apply): a file whose rows no schema describes
  (a 422 names the line or column at fault), in a format that ?format= or its
  Content-Type must name (415 when neither does). Any other 422 to schema-valid data still fails.
- ``ensure_resource_availability`` is replaced by a version that also lets pass
  a 404 naming a brain version (unknown, or collected by retention) of a brain
  the run created: ``POST /brains/{name}/rollback`` takes the version in its
  body, so its one path parameter is linked to the brain while the version is
  generated. Any other 404 for a created resource still fails.

The GraphQL run sends generated queries and mutations to /graphql and asserts
no 5xx and no error the server did not anticipate (code INTERNAL).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import strategies as st
from schemathesis.engine import Status, events, from_schema
from schemathesis.graphql import nodes
from schemathesis.python import asgi
from schemathesis.specs.graphql.schemas import GraphQLSchema
from schemathesis.specs.openapi.checks import (
    ensure_resource_availability,
    positive_data_acceptance,
)

from marble_graph.tokens import Scope, TokenStore
from marble_server import ServerSettings, create_app
from tests.server.conftest import server_config

# Phrases of the ValidationFailed messages for rows, objects or a dataset that do not fit
# the brain.
BRAIN_STATE_FAULTS = (
    "width mismatch",
    "every row must be as wide as the brain's inputs",
    "was not trained on a stored dataset",
    "objects: ",
    # An embedding to recall by must be as wide as the brain embeds (docs/memory.md).
    "embeds to",
    # keys/values to remember must be as many as the rows: a count tied to another
    # field's length, which no JSON Schema can state.
    "expected one per row",
)
# The operations whose body is a file: its rows are valid or not, whatever the schema
# (an upload's rows; a diff's rows, which must also fit the version it is applied to).
UPLOADS = {("POST", "/datasets/{name}"), ("POST", "/datasets/{name}/apply")}


@schemathesis.check
def positive_data_acceptance_unless_brain_width(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """The built-in check, except a 422 naming a mismatch with the (stateful) brain, or
    refusing an uploaded file's rows."""
    if isinstance(case.operation.schema, GraphQLSchema):  # the GraphQL run has its own check
        return None
    is_upload = (case.operation.method.upper(), case.operation.path) in UPLOADS
    # An upload's rows are valid or not, and its format named (415 when neither ?format=
    # nor the Content-Type does, which the schema cannot tie together), whatever the schema.
    if is_upload and response.status_code in (415, 422):
        return None
    if response.status_code == 422:
        detail = str(response.json().get("detail", ""))
        if any(fault in detail for fault in BRAIN_STATE_FAULTS):
            return None
    return positive_data_acceptance(ctx, response, case)


# The detail of a 404 for a brain version that is not there (brain history).
VERSION_FAULTS = ("has no version", "was collected by retention")

# Brain history's VersionRef: a version number or a tag.
schemathesis.graphql.scalar(
    "VersionRef",
    st.one_of(
        st.integers(min_value=0, max_value=2**31 - 1).map(nodes.Int),
        st.from_regex(r"\A[A-Za-z][A-Za-z0-9_.-]{0,8}\Z").map(nodes.String),
    ),
)


@schemathesis.check
def ensure_resource_availability_unless_unknown_version(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """The built-in check, except a 404 naming a version of a brain that exists."""
    if isinstance(case.operation.schema, GraphQLSchema):
        return None
    if response.status_code == 404:
        detail = str(response.json().get("detail", ""))
        if any(fault in detail for fault in VERSION_FAULTS):
            return None
    return ensure_resource_availability(ctx, response, case)


@dataclass
class ServedApp:
    app: FastAPI
    headers: dict[str, str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    """The app running in schemathesis' ASGI event-loop thread, with a brain and a token."""
    home: Path = tmp_path_factory.mktemp("schemathesis") / "marble-data"
    app = create_app(ServerSettings(home=home), server_config())
    try:
        with asgi.get_client(app) as client:  # starts the app's lifespan (kept until shutdown)
            store = TokenStore(app.state.marble.service.metadata)
            token = store.create("schemathesis", tuple(Scope))[0]
            headers = {"Authorization": f"Bearer {token}"}
            created = client.post(
                "/brains", json={"name": "wave", "dataset": "sine"}, headers=headers
            )
            assert created.status_code == 201, created.text
        yield ServedApp(app, headers)
    finally:
        asgi.shutdown_lifespans()


def _config(headers: dict[str, str], **extra: Any) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "headers": headers,
            "generation": {"max-examples": 25, "deterministic": True, "database": "none"},
            **extra,
        }
    )


def _failures(schema: schemathesis.BaseSchema) -> list[str]:
    """Run the engine over ``schema``; one line per failed check or engine error."""
    found: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.status != Status.FAILURE or check.failure_info is None:
                        continue
                    case = event.recorder.cases[case_id].value
                    failure = check.failure_info.failure
                    found.append(
                        f"{case.method} {case.formatted_path} query={case.query} "
                        f"body={str(case.body)[:200]}: [{check.name}] {failure.title}: "
                        f"{failure.message[:300]}"
                    )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            found.append(f"engine error: {event!r}")
    return list(dict.fromkeys(found))


def test_every_rest_operation_passes_all_schemathesis_checks(served: ServedApp) -> None:
    config = _config(
        served.headers,
        checks={
            "positive_data_acceptance": {"enabled": False},
            "ensure_resource_availability": {"enabled": False},
        },
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", served.app, config=config)
    assert len(list(schema.get_all_operations())) >= 15  # every REST route is in the run
    failures = _failures(schema)
    assert not failures, "\n".join(failures)


@schemathesis.check
def graphql_answers_no_5xx_and_no_internal_error(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """No 5xx, and no GraphQL error without one of our codes (the server masks those as
    INTERNAL): every other error carries a code a client can act on."""
    if not isinstance(case.operation.schema, GraphQLSchema):
        return None
    assert response.status_code < 500, f"GraphQL answered {response.status_code}: {response.text}"
    body = response.json() if response.content else {}
    internal = [
        error.get("message")
        for error in body.get("errors") or []
        if (error.get("extensions") or {}).get("code") == "INTERNAL"
    ]
    assert not internal, f"GraphQL answered INTERNAL: {internal}"
    return None


def test_graphql_operations_never_answer_5xx(served: ServedApp) -> None:
    # Schemathesis' GraphQL checks count any error outside its short list of codes as a
    # failure (our NOT_FOUND, CONFLICT, FORBIDDEN... included) and any argument the
    # resolvers refuse (first: 0) as rejected valid data; GraphQL has no way to state
    # those bounds in the schema. The run keeps the response-shape checks and adds ours.
    config = _config(
        served.headers,
        checks={
            "not_a_server_error": {"enabled": False},
            "positive_data_acceptance": {"enabled": False},
        },
    )
    schema = schemathesis.graphql.from_asgi(
        "/graphql", served.app, config=config, headers=served.headers
    )
    failures = _failures(schema)
    assert not failures, "\n".join(failures)
