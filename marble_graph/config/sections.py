"""The root of ``marble.yaml``: one model whose fields are the sections."""

from __future__ import annotations

from pydantic import Field

from marble_graph.config.brain_sections import (
    CoreConfig,
    DatasetConfig,
    DreamsConfig,
    LearningConfig,
    LobesConfig,
    MemoriesConfig,
    NeuromodulationConfig,
    NeuronenblitzConfig,
    PlasticityConfig,
    SeedConfig,
)
from marble_graph.config.deployment_sections import (
    LoggingConfig,
    ServerConfig,
    StorageConfig,
    VersionsConfig,
)
from marble_graph.config.section_base import ConfigSection


class MarbleConfig(ConfigSection):
    """The whole MARBLE configuration; every section and key has a default."""

    seed: SeedConfig = Field(default_factory=SeedConfig, description="Mandelbrot seed graph.")
    core: CoreConfig = Field(default_factory=CoreConfig, description="Forward pass.")
    neuronenblitz: NeuronenblitzConfig = Field(
        default_factory=NeuronenblitzConfig, description="Wandering walks over synapses."
    )
    learning: LearningConfig = Field(
        default_factory=LearningConfig, description="Loss, optimizer and training loop."
    )
    plasticity: PlasticityConfig = Field(
        default_factory=PlasticityConfig, description="Structural plasticity."
    )
    neuromodulation: NeuromodulationConfig = Field(
        default_factory=NeuromodulationConfig, description="Reward, stress and arousal signals."
    )
    lobes: LobesConfig = Field(default_factory=LobesConfig, description="Neuron groups.")
    dreams: DreamsConfig = Field(
        default_factory=DreamsConfig, description="Experience buffers and dream replay."
    )
    memories: MemoriesConfig = Field(
        default_factory=MemoriesConfig, description="Remembered inputs and facts."
    )
    storage: StorageConfig = Field(
        default_factory=StorageConfig, description="Graph database and metadata store."
    )
    versions: VersionsConfig = Field(
        default_factory=VersionsConfig, description="Brain history: which versions are kept."
    )
    server: ServerConfig = Field(default_factory=ServerConfig, description="HTTP API server.")
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Logging.")
    dataset: DatasetConfig = Field(
        default_factory=DatasetConfig, description="Training dataset and split."
    )
