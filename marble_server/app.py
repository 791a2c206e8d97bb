"""The app factory: ``create_app(settings)`` builds the whole server.

The lifespan opens the stores (this process becomes the graph database's one
read-write owner), marks jobs a previous server left unfinished as
interrupted, and starts the job workers; on shutdown it interrupts running
jobs at their next step and closes the stores.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from marble_graph.config import MarbleConfig, load_config
from marble_graph.data_home import DataHome
from marble_graph.logs import configure_logging
from marble_graph.service import BrainService
from marble_graph.threads import share_cores
from marble_server.api.router import api_router, infer_router
from marble_server.api.routes.discovery import discovery_router
from marble_server.api.routes.infer import InferFastPath
from marble_server.auth import Authenticator
from marble_server.events import EventHub
from marble_server.graphql import graphql_router
from marble_server.idempotency import IdempotencyKeys
from marble_server.inference import MicroBatcher
from marble_server.jobs import JobManager
from marble_server.limits import BodySizeLimit
from marble_server.metrics import MetricsMiddleware, ServerMetrics
from marble_server.problems import install_problem_handlers
from marble_server.settings import ServerSettings
from marble_server.state import ServerState
from marble_server.ui import ui_router

log = logging.getLogger(__name__)

API_VERSION = "0.1.0"
# Cores a server leaves to its event loop under core.threads: auto (see open_state).
SERVER_SPARE_CORES = 1
DESCRIPTION = (
    "MARBLE: a persistent brain-graph engine. Every route needs a bearer token "
    "(`marble token create`) except /, /health, /ready and /metrics; errors are RFC 9457 "
    "problem+json with a stable `type`."
)


def create_app(settings: ServerSettings, config: MarbleConfig | None = None) -> FastAPI:
    """A ready-to-serve app; nothing opens until its lifespan starts."""
    config = config or load_config(settings.config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = open_state(settings, config)
        app.state.marble = state
        try:
            yield
        finally:
            app.state.marble = None
            await state.batcher.close()
            state.jobs.stop()
            state.service.close()

    app = FastAPI(
        title="MARBLE",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        # /docs and /openapi.json come from discovery_router (see its module doc).
        docs_url=None,
        openapi_url=None,
        redoc_url=None,
    )
    app.state.marble = None
    install_problem_handlers(app)
    app.include_router(infer_router)
    app.include_router(api_router)
    app.include_router(discovery_router(settings))
    app.include_router(ui_router())
    # No prefix here: /metrics labels a request by its route's own path (see GRAPHQL_PATH).
    app.include_router(graphql_router(settings), include_in_schema=False)
    # Added innermost first: CORS, metrics, the size limit, idempotency keys (which
    # read the body the size limit has already bounded), then /infer's fast path.
    app.add_middleware(InferFastPath)
    app.add_middleware(IdempotencyKeys)
    app.add_middleware(
        BodySizeLimit,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    app.add_middleware(MetricsMiddleware, metrics=lambda: _metrics_of(app))
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    return app


def open_state(settings: ServerSettings, config: MarbleConfig) -> ServerState:
    """Open both stores and start the job workers (the blocking half of the lifespan)."""
    configure_logging(config.logging)
    # Before any inference or job touches torch: the inter-op pool is sized once.
    # One core of the share stays with the event loop (HTTP, JSON, auth): with
    # torch on every core, each parallel region of a forward pass waited for the
    # thread the loop had displaced (2 cores, concurrency 64: 1,090 requests/s
    # with two torch threads, 1,263 with one; p50 of a lone client 3.5 -> 2.2 ms).
    share_cores(config.core.threads, spare=SERVER_SPARE_CORES)
    service = BrainService(config, DataHome.resolve(settings.home, config.storage.home))
    try:
        events = EventHub()
        jobs = JobManager(service, events, workers=settings.job_workers)
        metrics = ServerMetrics(jobs.counts_by_state)
        models = service.model_cache()
        batcher = MicroBatcher(
            models,
            max_batch_size=settings.max_batch_size,
            batch_wait_ms=settings.batch_wait_ms,
            on_batch=metrics.batch_size.observe,
        )
        tokens = service.tokens
        state = ServerState(
            settings=settings,
            config=config,
            service=service,
            models=models,
            batcher=batcher,
            jobs=jobs,
            events=events,
            tokens=tokens,
            auth=Authenticator(tokens, settings.token_cache_s),
            metrics=metrics,
        )
        jobs.start()
    except BaseException:
        service.close()
        raise
    log.info("serving data home %s", service.home.root)
    return state


def _metrics_of(app: FastAPI) -> ServerMetrics | None:
    state: ServerState | None = getattr(app.state, "marble", None)
    return state.metrics if state is not None else None
