"""Subscription root: a job's events over websockets (graphql-transport-ws)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from marble_graph.tokens import Scope
from marble_server.graphql.errors import engine_errors
from marble_server.graphql.results import JobEvent
from marble_server.graphql.types import Info


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The job's current state, then each event as it happens; completes "
        "after the event `end`."
    )
    async def job_progress(self, info: Info, id: strawberry.ID) -> AsyncGenerator[JobEvent, None]:
        ctx = info.context
        ctx.require(Scope.READ)
        # NOT_FOUND before subscribing: an unknown job, or one of a brain the token may not use
        ctx.require_job(await ctx.engine(ctx.state.jobs.get, str(id)))
        events = ctx.state.jobs.watch(str(id))
        try:
            with engine_errors():
                async for event in events:
                    yield JobEvent.from_event(event)
        finally:
            await events.aclose()  # unsubscribe now, not when the generator is collected
