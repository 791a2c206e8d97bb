"""Configuration sections a brain stores with itself: what it is and how it learns.

Seed, core forward pass, Neuronenblitz wandering, learning, structural
plasticity, neuromodulation, lobes and the dataset split (docs/model.md). Each field
carries its default, its type, its allowed range and a one-line description;
the JSON schema and the error messages are built from exactly these.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from marble_graph.config.section_base import ConfigSection

# ``cuda`` alone means the current CUDA device; ``cuda:N`` pins one.
DEVICE_REGEX = r"^(auto|cpu|cuda(:[0-9]+)?)$"
DEVICE_PATTERN = re.compile(DEVICE_REGEX)


class SeedConfig(ConfigSection):
    """The Mandelbrot grid and wiring that a new brain is seeded from."""

    width: int = Field(
        default=30, ge=2, le=4096, description="Grid columns (hidden neurons per row)."
    )
    height: int = Field(
        default=30, ge=2, le=4096, description="Grid rows (hidden neurons per column)."
    )
    # The Mandelbrot (and multibrot) sets lie well inside |c| <= 10, so a wider
    # window would only add neurons that escape on the first iteration.
    x_min: float = Field(
        default=-2.0, ge=-10.0, le=10.0, description="Left edge of the complex plane."
    )
    x_max: float = Field(
        default=1.0, ge=-10.0, le=10.0, description="Right edge of the complex plane."
    )
    y_min: float = Field(
        default=-1.5, ge=-10.0, le=10.0, description="Bottom edge of the complex plane."
    )
    y_max: float = Field(
        default=1.5, ge=-10.0, le=10.0, description="Top edge of the complex plane."
    )
    max_iter: int = Field(
        default=50, ge=1, le=10_000, description="Iterations before a point counts as bounded."
    )
    power: float = Field(default=2.0, ge=1.0, le=10.0, description="Exponent d in z <- z^d + c.")
    escape_radius: float = Field(
        default=2.0, gt=0.0, le=1e6, description="|z| beyond which a point has escaped."
    )
    long_range_synapses: int = Field(
        default=200,
        ge=0,
        le=50_000_000,
        description="Extra synapses beyond the 4-neighbour lattice.",
    )
    long_range_tau: float = Field(
        default=0.1,
        gt=0.0,
        le=100.0,
        description="Distance scale on escape_count/max_iter for long-range wiring.",
    )
    input_neurons: int = Field(
        default=64, ge=0, le=1_000_000, description="Input neurons (one per feature)."
    )
    output_neurons: int = Field(
        default=10, ge=0, le=1_000_000, description="Output neurons (one per output dimension)."
    )
    input_fanout: int = Field(
        default=8, ge=1, le=100_000, description="Hidden neurons each input neuron projects to."
    )
    output_fanin: int = Field(
        default=32, ge=1, le=100_000, description="Hidden neurons each output neuron receives from."
    )
    # Attention already averages a neuron's messages, so after the fan-in
    # scaling these give effective weights of order 1-3: large enough that the
    # gate 1 - exp(-|agg|) opens and inputs reach the outputs from the start.
    weight_init_min: float = Field(
        default=4.0,
        ge=0.0,
        le=100.0,
        description="Smallest initial synapse weight magnitude, before dividing by sqrt(fan-in).",
    )
    weight_init_max: float = Field(
        default=12.0,
        ge=0.0,
        le=100.0,
        description="Largest initial synapse weight magnitude, before dividing by sqrt(fan-in).",
    )
    inhibitory_fraction: float = Field(
        default=0.2, ge=0.0, le=1.0, description="Fraction of seed synapses that are inhibitory."
    )
    modulatory_fraction: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Fraction of seed synapses that are modulatory."
    )
    random_seed: int = Field(
        default=0,
        ge=0,
        le=2**63 - 1,
        description="Seed of every random draw; same config, same graph.",
    )

    @model_validator(mode="after")
    def _check_bounds(self) -> Self:
        if self.x_min >= self.x_max:
            raise ValueError(f"x_min ({self.x_min}) must be < x_max ({self.x_max})")
        if self.y_min >= self.y_max:
            raise ValueError(f"y_min ({self.y_min}) must be < y_max ({self.y_max})")
        if self.weight_init_min > self.weight_init_max:
            raise ValueError(
                f"weight_init_min ({self.weight_init_min}) must be <= "
                f"weight_init_max ({self.weight_init_max})"
            )
        if self.inhibitory_fraction + self.modulatory_fraction > 1.0:
            raise ValueError(
                f"inhibitory_fraction ({self.inhibitory_fraction}) + modulatory_fraction "
                f"({self.modulatory_fraction}) must be <= 1"
            )
        return self


class CoreConfig(ConfigSection):
    """The message-passing forward pass."""

    representation_size: int = Field(
        default=16, ge=1, le=1024, description="Size R of each neuron state."
    )
    message_passing_iterations: int = Field(
        default=3, ge=1, le=64, description="Rounds K of message passing per forward pass."
    )
    attention_temperature: float = Field(
        default=1.0, gt=0.0, le=100.0, description="Softmax temperature of edge attention."
    )
    attention_size: int = Field(
        default=4,
        ge=1,
        le=1024,
        description="Width of the query and key projections that score each edge.",
    )
    message_alpha: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Weight alpha of a neuron's previous state in the update.",
    )
    activation: Literal["tanh", "relu", "gelu", "sigmoid"] = Field(
        default="tanh", description="Activation applied after the update MLP."
    )
    energy_threshold: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Neurons with energy below this are masked out."
    )
    # Near-linear tasks (diabetes, breast cancer) are what a linear model does
    # best; a zero-initialised linear map beside the graph lets the brain start
    # from there and spend the graph on what is left.
    linear_skip: bool = Field(
        default=False,
        description=(
            "Add a learned linear map from the input features straight to the outputs "
            "(zero at start, part of the shared layer)."
        ),
    )
    # A process setting rather than a property of the brain: the process's own
    # config decides (marble_graph/threads.py), a brain's stored value is unused.
    threads: Annotated[int, Field(ge=0, le=1024)] | Literal["auto"] = Field(
        default="auto",
        description=(
            "CPU threads torch uses; 'auto' or 0: the cores this process may use "
            "(affinity, cgroup quota), shared with other running MARBLE processes."
        ),
    )
    # The pattern goes into the JSON schema for editors; the validator below gives
    # the friendlier error message.
    device: str = Field(
        default="auto",
        description="'auto' (cuda when present), 'cpu', 'cuda' or 'cuda:N'.",
        json_schema_extra={"pattern": DEVICE_REGEX},
    )

    @field_validator("threads", mode="before")
    @classmethod
    def _check_threads(cls, value: object) -> object:
        # Before the union: one clear message instead of one per union branch.
        if value == "auto" or (
            isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1024
        ):
            return value
        raise ValueError(f"{value!r} is not a thread count: use 'auto', 0 (the same) or 1 to 1024")

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if DEVICE_PATTERN.fullmatch(value) is None:
            raise ValueError(f"{value!r} is not a device: use 'auto', 'cpu', 'cuda' or 'cuda:N'")
        return value


class NeuronenblitzConfig(ConfigSection):
    """Random walks over synapses that steer potentials, fatigue and plasticity."""

    enabled: bool = Field(default=True, description="Run wanderers during training.")
    wanderers: int = Field(
        default=4, ge=1, le=1024, description="Walks sampled per training example."
    )
    max_wander_depth: int = Field(
        default=8, ge=1, le=1024, description="Longest walk, in synapses."
    )
    continue_decay_rate: float = Field(
        default=0.85, ge=0.0, le=1.0, description="A walk continues with probability rate**depth."
    )
    wander_temperature: float = Field(
        default=1.0, gt=0.0, le=100.0, description="Softmax temperature of the next-synapse choice."
    )
    route_potential_increase: float = Field(
        default=0.5,
        ge=0.0,
        le=100.0,
        description="Potential added to a synapse each time a walk uses it.",
    )
    route_potential_decay: float = Field(
        default=0.99,
        ge=0.0,
        le=1.0,
        description="Factor applied to all potentials every decay interval.",
    )
    route_decay_interval: int = Field(
        default=10, ge=1, le=1_000_000, description="Training steps between potential decays."
    )
    fatigue_increase: float = Field(
        default=0.01,
        ge=0.0,
        le=1.0,
        description="Fatigue added to a synapse each time a walk uses it.",
    )
    fatigue_decay: float = Field(
        default=0.95,
        ge=0.0,
        le=1.0,
        description="Factor applied to all fatigue every route_decay_interval steps.",
    )
    route_training: bool = Field(
        default=False, description="Run message passing only on walked edges (sparse routing)."
    )


class LearningConfig(ConfigSection):
    """Loss, optimizer and the training loop."""

    task: Literal["classification", "regression", "binary"] = Field(
        default="classification", description="Kind of target the brain learns."
    )
    loss: Literal["auto", "mse", "cross_entropy", "bce"] = Field(
        default="auto", description="Loss function; 'auto' picks it from the task."
    )
    optimizer: Literal["adam", "sgd"] = Field(default="adam", description="Gradient optimizer.")
    learning_rate: float = Field(default=0.01, gt=0.0, le=10.0, description="Base learning rate.")
    momentum: float = Field(
        default=0.9, ge=0.0, le=1.0, description="SGD momentum (ignored by adam)."
    )
    weight_decay: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Weight decay: decoupled for adam (AdamW), added to the gradient for sgd.",
    )
    batch_size: int = Field(
        default=64, ge=1, le=1_000_000, description="Examples per training step."
    )
    epochs: int = Field(default=30, ge=1, le=100_000, description="Passes over the training data.")
    gradient_clip_value: float = Field(
        default=1.0, ge=0.0, le=1e6, description="Gradient clipping threshold; 0 disables clipping."
    )
    weight_limit: float = Field(
        default=5.0, gt=0.0, le=1e6, description="Synapse weights are clamped to [-limit, limit]."
    )
    validation_fraction: float = Field(
        default=0.1, ge=0.0, le=0.9, description="Share of training data held out for validation."
    )
    early_stopping_patience: int = Field(
        default=0,
        ge=0,
        le=100_000,
        description="Epochs without improvement before stopping; 0 disables.",
    )
    lr_schedule: Literal["constant", "cosine"] = Field(
        default="cosine",
        description="Learning-rate schedule over the run (before neuromodulation).",
    )
    input_dropout: float = Field(
        default=0.0, ge=0.0, le=0.9, description="Share of input features dropped per step."
    )
    label_smoothing: float = Field(
        default=0.0, ge=0.0, le=0.5, description="Label smoothing for cross-entropy."
    )
    ema_decay: float = Field(
        default=0.99,
        ge=0.0,
        le=0.9999,
        description=(
            "Decay of the parameter moving average that is evaluated and kept; 0 disables."
            " Its n-th update uses min(decay, (1 + n) / (10 + n)), so decays above 0.99"
            " only differ after about 900 steps."
        ),
    )
    restore_best: bool = Field(
        default=True,
        description="End a run with the parameters of its best validation epoch.",
    )
    checkpoint_every: int = Field(
        default=0,
        ge=0,
        le=100_000,
        description="Epochs between intermediate versions; 0 writes only at the end.",
    )


class PlasticityConfig(ConfigSection):
    """Structural plasticity: splitting, pruning, shortcuts, concepts and neurogenesis."""

    enabled: bool = Field(default=True, description="Let training change the graph's structure.")
    plasticity_interval: int = Field(
        default=50, ge=1, le=1_000_000, description="Training steps between structural updates."
    )
    # Any threshold above 0 works; the upper bound keeps a typo (an extra zero
    # or three) from silently disabling splitting.
    # Walks raise a busy synapse's potential by tens per hundred steps (many
    # walks per example), so a threshold of 10 would split most of the graph;
    # 150 rewires only the busiest routes.
    plasticity_threshold: float = Field(
        default=150.0, gt=0.0, le=1e6, description="Potential above which a synapse is split."
    )
    prune_threshold: float = Field(
        default=0.01,
        ge=0.0,
        le=100.0,
        description="Synapses with |weight| below this may be pruned.",
    )
    prune_potential_threshold: float = Field(
        default=0.5,
        ge=0.0,
        le=1e6,
        description="Only synapses with potential below this are pruned.",
    )
    shortcut_threshold: int = Field(
        default=40,
        ge=1,
        le=1_000_000,
        description="Walk pattern repeats before a shortcut is added.",
    )
    concept_threshold: int = Field(
        default=120,
        ge=1,
        le=1_000_000,
        description="Co-activations before a concept neuron is added.",
    )
    neurogenesis_fanout: int = Field(
        default=4, ge=1, le=10_000, description="In- and out-synapses of each new neuron."
    )
    neurogenesis_patience: int = Field(
        default=3, ge=1, le=100_000, description="Plateaued validation epochs before neurogenesis."
    )
    neurogenesis_factor: float = Field(
        default=1.0,
        ge=0.0,
        le=100.0,
        description="Scale of the number of neurons neurogenesis adds.",
    )
    max_neurons: int = Field(
        default=1_000_000, ge=1, le=1_000_000_000, description="Growth stops at this many neurons."
    )


class NeuromodulationConfig(ConfigSection):
    """Reward, stress and arousal signals that scale the learning rate."""

    mode: Literal["manual", "auto"] = Field(
        default="auto",
        description="'auto' derives signals from training; 'manual' uses the values here.",
    )
    reward: float = Field(default=0.0, ge=0.0, le=1.0, description="Initial reward signal.")
    stress: float = Field(default=0.0, ge=0.0, le=1.0, description="Initial stress signal.")
    arousal: float = Field(default=0.0, ge=0.0, le=1.0, description="Initial arousal signal.")
    emotion: str = Field(
        default="neutral", min_length=1, max_length=64, description="Initial emotion label."
    )
    arousal_gain: float = Field(
        default=0.5, ge=0.0, le=10.0, description="How strongly arousal raises the learning rate."
    )
    min_factor: float = Field(
        default=0.1, gt=0.0, le=100.0, description="Lower clip of the learning-rate factor."
    )
    max_factor: float = Field(
        default=3.0, gt=0.0, le=100.0, description="Upper clip of the learning-rate factor."
    )

    @model_validator(mode="after")
    def _check_factors(self) -> Self:
        if self.min_factor > self.max_factor:
            raise ValueError(
                f"min_factor ({self.min_factor}) must be <= max_factor ({self.max_factor})"
            )
        return self


class DreamsConfig(ConfigSection):
    """Experience replay: what training records, and when the brain dreams it back."""

    record: bool = Field(
        default=True,
        description=(
            "Record training examples with their salience into the brain's experience "
            "buffers (kept with each version; dreams replay them)."
        ),
    )
    instant_capacity: int = Field(
        default=10,
        ge=1,
        le=100_000,
        description="Experiences the instant buffer keeps from each step before merging.",
    )
    long_term_capacity: int = Field(
        default=100,
        ge=1,
        le=1_000_000,
        description="Experiences the long-term buffer keeps; the least salient are evicted.",
    )
    sampling: Literal["linear", "exponential", "uniform"] = Field(
        default="linear",
        description=(
            "How a dream picks experiences: in proportion to salience (linear), to "
            "exp(salience / temperature) (exponential), or all alike (uniform)."
        ),
    )
    temperature: float = Field(
        default=0.25,
        gt=0.0,
        le=100.0,
        description="Temperature of exponential sampling: lower favours salient ones more.",
    )
    cycles: int = Field(
        default=20,
        ge=1,
        le=100_000,
        description="Replay steps (one batch of sampled experiences each) per scheduled dream.",
    )
    every_epochs: int = Field(
        default=0,
        ge=0,
        le=100_000,
        description="Dream after every this many training epochs (0: never during a run).",
    )
    after_run: bool = Field(
        default=False, description="Dream once at the end of every training run."
    )


class MemoriesConfig(ConfigSection):
    """Hybrid memory: embeddings recalled by cosine, and facts looked up by key."""

    carrier_neurons: int = Field(
        default=3,
        ge=0,
        le=1024,
        description=(
            "Output neurons linked to each remembered input: those whose final states "
            "carried most of its embedding (largest norm)."
        ),
    )


class LobesConfig(ConfigSection):
    """Groups of neurons whose attention steers per-lobe learning rates."""

    enabled: bool = Field(default=True, description="Group neurons into lobes during training.")
    count: int = Field(default=8, ge=1, le=4096, description="Number of lobes (k in k-means).")
    kmeans_iterations: int = Field(
        default=20, ge=1, le=10_000, description="k-means iterations per regrouping."
    )
    attention_ema: float = Field(
        default=0.9,
        ge=0.0,
        le=1.0,
        description="EMA factor of lobe attention (gradient magnitude).",
    )
    lobe_lr_boost: float = Field(
        default=1.5, ge=1.0, le=10.0, description="Learning-rate multiplier for weak lobes."
    )
    weak_lobe_quantile: float = Field(
        default=0.25,
        ge=0.0,
        le=1.0,
        description="Lobes below this attention quantile count as weak.",
    )


class DatasetConfig(ConfigSection):
    """The dataset a brain trains on and how it is split."""

    name: str = Field(
        default="digits",
        min_length=1,
        max_length=256,
        description="Name of the dataset to train on.",
    )
    test_fraction: float = Field(
        default=0.25, gt=0.0, lt=1.0, description="Share of examples held out for testing."
    )
    split_random_state: int = Field(
        default=0, ge=0, le=2**32 - 1, description="Random state of the train/test split."
    )
    stratify: bool = Field(default=True, description="Keep class proportions equal across splits.")
    split: Literal["stratified", "row_hash"] = Field(
        default="stratified",
        description=(
            "How rows are split: stratified (scikit-learn's train_test_split) or row_hash "
            "(each row by its own content, the same in every version that holds it)."
        ),
    )
    feature_columns: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Feature columns of a tabular dataset; null uses all but the target.",
    )
    target_column: str | None = Field(
        default=None,
        min_length=1,
        description="Target column of a tabular dataset; null uses the dataset's own.",
    )
