"""Document limits (depth, tokens, aliases, introspection), the SDL and the public names."""

from __future__ import annotations

import pytest

from marble_server.graphql import build_schema
from marble_server.settings import ServerSettings
from tests.server.graphql.conftest import GraphQLClient

pytestmark = pytest.mark.anyio


def _nested(levels: int) -> str:
    """A neuron query nesting incoming -> sourceNeuron ``levels`` times."""
    inner = "id"
    for _ in range(levels):
        inner = f"incoming {{ sourceNeuron {{ {inner} }} }}"
    return f'{{ neuron(brain: "wave", id: 1) {{ {inner} }} }}'


async def _refusal(gql: GraphQLClient, document: str) -> str:
    response = await gql.post(document)
    body = response.json()
    assert body.get("data") is None, body
    (error,) = body["errors"]
    return str(error["message"])


async def test_too_deep_query_is_refused_naming_the_limit(gql: GraphQLClient) -> None:
    depth = gql.live.state.settings.graphql_max_depth
    message = await _refusal(gql, _nested(depth))
    assert f"maximum operation depth of {depth}" in message
    assert "graphql_max_depth" in message


async def test_query_within_the_depth_limit_runs(gql: GraphQLClient) -> None:
    data = await gql.data(_nested(2))
    assert data["neuron"]["incoming"]


async def test_too_many_aliases_are_refused_naming_the_limit(gql: GraphQLClient) -> None:
    limit = gql.live.state.settings.graphql_max_aliases
    aliases = " ".join(f"a{i}: brains {{ name }}" for i in range(limit + 1))
    message = await _refusal(gql, f"{{ {aliases} }}")
    assert f"Allowed: {limit}" in message and "graphql_max_aliases" in message


async def test_too_many_tokens_are_refused_naming_the_limit(gql: GraphQLClient) -> None:
    limit = gql.live.state.settings.graphql_max_tokens
    message = await _refusal(gql, "{ brains { " + "name " * limit + "} }")
    assert f"more than {limit} tokens" in message and "graphql_max_tokens" in message


INTROSPECTION = "{ __schema { queryType { name } } }"


async def test_introspection_follows_the_setting() -> None:
    allowed = await build_schema(ServerSettings(graphql_introspection=True)).execute(INTROSPECTION)
    assert allowed.errors is None and allowed.data == {"__schema": {"queryType": {"name": "Query"}}}
    refused = await build_schema(ServerSettings(graphql_introspection=False)).execute(INTROSPECTION)
    assert refused.errors and "introspection" in refused.errors[0].message.lower()


def test_sdl_does_not_depend_on_the_settings() -> None:
    plain = str(build_schema(ServerSettings()))
    strict = str(
        build_schema(
            ServerSettings(dev_mode=True, graphql_introspection=False, graphql_max_depth=3)
        )
    )
    assert plain == strict
    for name in ("type Query", "type Mutation", "type Subscription", "jobProgress(id: ID!)"):
        assert name in plain


def test_package_all_lists_exactly_the_public_names() -> None:
    import types

    import marble_server.graphql as package

    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(package.__all__) == public == {"build_schema", "graphql_router"}
