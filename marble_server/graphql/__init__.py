"""MARBLE's GraphQL API (Strawberry): brains, graph exploration, jobs, inference.

The app mounts ``graphql_router(settings)`` at ``/graphql``; ``build_schema``
gives the schema on its own (``make schema`` prints its SDL to
schema/schema.graphql, the contract a test diffs against).
"""

from marble_server.graphql.router import build_schema, graphql_router

__all__ = ["build_schema", "graphql_router"]
