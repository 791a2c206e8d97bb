"""The schema and its FastAPI router, built from the server settings."""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.schema.config import StrawberryConfig
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types import ExecutionContext
from strawberry.types.unset import UNSET, UnsetType

from marble_server.auth import Unauthorized
from marble_server.graphql.context import MarbleContext, authenticate, context_getter
from marble_server.graphql.errors import is_coded
from marble_server.graphql.extensions import schema_extensions
from marble_server.graphql.mutations import Mutation
from marble_server.graphql.queries import Query
from marble_server.graphql.subscriptions import Subscription
from marble_server.graphql.version_types import VERSION_REF_SCALAR, VersionRef
from marble_server.settings import ServerSettings

log = logging.getLogger(__name__)

# The router's own path, not a prefix given when the app includes it: FastAPI puts
# the route as its router declared it in scope["route"], and /metrics labels
# requests by that route's path, so a prefix would be missing from the label.
GRAPHQL_PATH = "/graphql"


class MarbleSchema(strawberry.Schema):
    """Logs only errors nobody anticipated; coded ones are the client's to handle."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if error.original_error is None or is_coded(error.extensions):
                log.debug("graphql error: %s", error.message)
            else:
                log.error(
                    "graphql resolver failed: %s", error.message, exc_info=error.original_error
                )


class MarbleGraphQLRouter(GraphQLRouter[MarbleContext, None]):
    """Authenticates websockets that sent no valid ``Authorization`` header at handshake."""

    async def on_ws_connect(self, context: MarbleContext) -> UnsetType | dict[str, object] | None:
        if context.auth_error is not None:
            raise ConnectionRejectionError({"message": context.auth_error})
        if context.token is None:
            params = (
                context.connection_params if isinstance(context.connection_params, dict) else {}
            )
            value = params.get("authorization") or params.get("Authorization")
            try:
                context.token = await authenticate(
                    context.state, value if isinstance(value, str) and value else None
                )
            except Unauthorized as refused:
                raise ConnectionRejectionError({"message": refused.detail}) from refused
        return UNSET


def build_schema(settings: ServerSettings) -> strawberry.Schema:
    """The GraphQL schema; its SDL does not depend on ``settings``, only its limits do."""
    return MarbleSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=schema_extensions(settings),
        config=StrawberryConfig(scalar_map={VersionRef: VERSION_REF_SCALAR}),
    )


def graphiql_enabled(settings: ServerSettings) -> bool:
    """Whether a browser's GET of ``/graphql`` gets GraphiQL (only in ``dev_mode``)."""
    return settings.dev_mode


def graphql_router(settings: ServerSettings) -> GraphQLRouter[MarbleContext, None]:
    """The router the app includes, serving ``/graphql`` (GraphiQL only in ``dev_mode``)."""
    return MarbleGraphQLRouter(
        build_schema(settings),
        path=GRAPHQL_PATH,
        graphql_ide="graphiql" if graphiql_enabled(settings) else None,
        context_getter=context_getter(settings),
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
    )
