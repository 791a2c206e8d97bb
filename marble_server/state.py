"""Everything one running app holds: the stores, the model cache, the batcher, jobs, auth."""

from __future__ import annotations

from dataclasses import dataclass

from marble_graph.config import MarbleConfig
from marble_graph.service import BrainService, ModelCache
from marble_graph.tokens import TokenStore
from marble_server.auth import Authenticator
from marble_server.events import EventHub
from marble_server.inference import MicroBatcher
from marble_server.jobs import JobManager
from marble_server.metrics import ServerMetrics
from marble_server.settings import ServerSettings


@dataclass
class ServerState:
    """Built by the app's lifespan; routes reach it as ``request.app.state.marble``."""

    settings: ServerSettings
    config: MarbleConfig
    service: BrainService
    models: ModelCache
    batcher: MicroBatcher
    jobs: JobManager
    events: EventHub
    tokens: TokenStore
    auth: Authenticator
    metrics: ServerMetrics
