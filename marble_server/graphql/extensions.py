"""Schema extensions: document limits, introspection, and masking of unexpected errors.

Limits come from the server settings and are checked before anything runs:
depth (``graphql_max_depth``), tokens (``graphql_max_tokens``) and aliases
(``graphql_max_aliases``); each refusal names the limit. Extensions are given
to the schema as factories, so every request gets fresh instances.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from marble_server.graphql.errors import INTERNAL, is_coded
from marble_server.settings import ServerSettings

INTERNAL_MESSAGE = "internal error"


def should_mask_error(error: GraphQLError) -> bool:
    """Mask what a resolver raised unexpectedly; keep coded errors and document errors."""
    if is_coded(error.extensions):
        return False
    # No original error: a syntax, validation or limit error about the document itself.
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    """``MaskErrors`` whose masked errors still carry ``extensions.code = INTERNAL``."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask_error, error_message=INTERNAL_MESSAGE)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": INTERNAL}
        return masked


# Strawberry's and graphql-core's refusals give the number; add the setting that sets it.
_LIMIT_SETTINGS = (
    ("exceeds maximum operation depth", "graphql_max_depth"),
    ("Document contains more than", "graphql_max_tokens"),
    ("aliases found. Allowed", "graphql_max_aliases"),
)


class NameTheLimits(SchemaExtension):
    """Append the server setting to a depth, token or alias limit refusal."""

    def on_operation(self) -> Iterator[None]:
        yield
        for error in getattr(self.execution_context.result, "errors", None) or []:
            for fragment, setting in _LIMIT_SETTINGS:
                if fragment in error.message and setting not in error.message:
                    error.message = f"{error.message} (server setting {setting})"
                    error.args = (error.message,)


def schema_extensions(settings: ServerSettings) -> list[Callable[[], SchemaExtension]]:
    """The extension factories for a schema served under ``settings``."""
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(QueryDepthLimiter, max_depth=settings.graphql_max_depth),
        partial(MaxTokensLimiter, max_token_count=settings.graphql_max_tokens),
        partial(MaxAliasesLimiter, max_alias_count=settings.graphql_max_aliases),
        NameTheLimits,
    ]
    if not settings.graphql_introspection:
        extensions.append(DisableIntrospection)
    if not settings.dev_mode:
        extensions.append(MaskUnexpectedErrors)
    return extensions
