"""MARBLE's server: FastAPI REST and Strawberry GraphQL over one ``BrainService``.

``create_app(settings)`` builds the app; ``load_settings`` reads the
``server`` section of ``marble.yaml`` and ``MARBLE_*`` variables; ``marble
serve`` runs it under uvicorn. See docs/api.md.
"""

from marble_server.app import create_app
from marble_server.settings import ServerSettings, load_settings

__all__ = ["ServerSettings", "create_app", "load_settings"]
