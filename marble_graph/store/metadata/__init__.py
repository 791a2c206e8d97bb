"""The SQL metadata store: typed SQLAlchemy models and the Alembic-migrated database.

Open it with ``MetadataStore.for_home(home)`` (SQLite) or ``MetadataStore(url)``,
call ``upgrade()`` once at start-up, then work inside ``with store.session() as s:``.
"""

from marble_graph.store.metadata.database import MetadataStore, mask_password
from marble_graph.store.metadata.idempotency import IdempotencyRecord
from marble_graph.store.metadata.models import (
    ApiToken,
    Base,
    Brain,
    BrainState,
    BrainVersion,
    BrainVersionTag,
    Dataset,
    DatasetTag,
    DatasetVersion,
    Job,
    JobState,
    Pipeline,
    PipelineRun,
    RunEpoch,
    RunState,
    TrainingRun,
    VersionState,
    new_job_id,
    utcnow,
)

__all__ = [
    "ApiToken",
    "Base",
    "Brain",
    "BrainState",
    "BrainVersion",
    "BrainVersionTag",
    "Dataset",
    "DatasetTag",
    "DatasetVersion",
    "IdempotencyRecord",
    "Job",
    "JobState",
    "MetadataStore",
    "Pipeline",
    "PipelineRun",
    "RunEpoch",
    "RunState",
    "TrainingRun",
    "VersionState",
    "mask_password",
    "new_job_id",
    "utcnow",
]
