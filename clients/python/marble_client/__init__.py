"""MARBLE's Python client: the REST and GraphQL API of a MARBLE server, sync and async.

from marble_client import MarbleClient

with MarbleClient() as client:          # MARBLE_URL, MARBLE_TOKEN
    client.brains.create("wave", dataset="sine")
    client.train("wave", "sine", epochs=3).wait(progress=True)
    print(client.infer("wave", [0.25]).outputs)
"""

from marble_client._async_client import AsyncBrains, AsyncJobs, AsyncMarbleClient
from marble_client._client import Brains, Jobs, MarbleClient
from marble_client._config import DEFAULT_TIMEOUT, DEFAULT_URL
from marble_client._datasets import AsyncDatasets, Datasets
from marble_client._exceptions import (
    Conflict,
    Forbidden,
    JobFailed,
    JobTimeout,
    MarbleError,
    NotFound,
    QueryRefused,
    ServerError,
    TransportError,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from marble_client._graph import AsyncGraphExport, GraphExport
from marble_client._jobs import AsyncJob, Job
from marble_client._memories import AsyncMemories, Memories
from marble_client._models import (
    BackupBrain,
    BackupSummary,
    Brain,
    BrainDetails,
    BrainVersion,
    CypherResult,
    DatasetDiff,
    DatasetSummary,
    DatasetVersion,
    GraphHeader,
    GraphRow,
    Health,
    InferResult,
    JobEvent,
    JobRecord,
    Memory,
    MemoryPage,
    NeuronActivations,
    Ready,
    RepairReport,
    TrainedBrain,
    VersionDiff,
)
from marble_client._version import __version__
from marble_client._versions import AsyncVersions, Versions

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "AsyncBrains",
    "AsyncDatasets",
    "AsyncGraphExport",
    "AsyncJob",
    "AsyncJobs",
    "AsyncMarbleClient",
    "AsyncMemories",
    "AsyncVersions",
    "BackupBrain",
    "BackupSummary",
    "Brain",
    "BrainDetails",
    "BrainVersion",
    "Brains",
    "Conflict",
    "CypherResult",
    "DatasetDiff",
    "DatasetSummary",
    "DatasetVersion",
    "Datasets",
    "Forbidden",
    "GraphExport",
    "GraphHeader",
    "GraphRow",
    "Health",
    "InferResult",
    "Job",
    "JobEvent",
    "JobFailed",
    "JobRecord",
    "JobTimeout",
    "Jobs",
    "MarbleClient",
    "MarbleError",
    "Memories",
    "Memory",
    "MemoryPage",
    "NeuronActivations",
    "NotFound",
    "QueryRefused",
    "Ready",
    "RepairReport",
    "ServerError",
    "TrainedBrain",
    "TransportError",
    "Unauthorized",
    "Unavailable",
    "ValidationFailed",
    "VersionDiff",
    "Versions",
    "__version__",
]
