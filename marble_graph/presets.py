"""Configuration presets: good defaults for each kind of task.

A brain created for a dataset (``marble brain create NAME --dataset digits``)
starts from the preset of the dataset's task, sized to the dataset (one input
neuron per feature, one output neuron per class or target). Keys the user set
explicitly in their config file win over the preset.

The classification preset is the one the acceptance bar is measured with
(``bench/learn_digits.py``): a 14x14 grid and three rounds of message
passing, wide output fan-in (every output neuron hears half the hidden
layer), sharper attention, updates that replace a neuron's state, and light
input dropout and label smoothing against overfitting. The binary and
regression presets keep a 20x20 grid with two rounds and add a linear skip.

The number of rows sizes two things (``sized_learning``): the validation
share grows on small data so the best-epoch choice rests on at least
``MIN_VALIDATION_ROWS`` rows instead of a dozen, and epochs shrink on large
data so a run sees about ``EXAMPLE_PASSES`` examples at most (a million-row
CSV needs a few passes, not forty).
"""

from __future__ import annotations

from typing import Any

from marble_graph.config import DatasetConfig, LearningConfig, MarbleConfig, config_from_mapping

_COMMON: dict[str, dict[str, Any]] = {
    "seed": {"width": 20, "height": 20, "input_fanout": 48, "output_fanin": 200},
    # Sharper attention: with 4-wide keys, temperature 1 leaves the scores so
    # flat that attention barely selects (about 1 point of digits accuracy).
    # Two rounds: inputs reach the outputs through one hidden neuron (the
    # binary and regression presets; classification runs three on a smaller
    # grid, below). On the 20x20 grid digits' validation accuracy was the same
    # with three (0.970 both, 40 epochs) at about twice the cost per example.
    "core": {"attention_temperature": 0.5, "message_passing_iterations": 2},
}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # Chosen by repeated hold-out on digits' training split (docs/learning.md,
    # Presets): each update replaces a neuron's state (message_alpha 0) instead
    # of averaging it with the old one, at half the learning rate and with
    # lighter input dropout. 96.5% mean hold-out accuracy over 10 splits against
    # 94.6% before, 96.0% for logistic regression; the three changes only paid
    # together (each alone was within the splits' noise).
    #
    # Then a smaller grid with a third round: 14x14 hidden neurons with input
    # fan-out 24 and output fan-in 100, three rounds instead of two. The third
    # round lets each hidden neuron hear its neighbours' view of the input
    # before the outputs read it; on the 20x20 grid it cost twice as much, on
    # 196 neurons about 0.8 of the old step. 96.75% over 20 hold-out splits
    # against 96.34% (14 up, 5 down).
    "classification": {
        **_COMMON,
        "seed": {"width": 14, "height": 14, "input_fanout": 24, "output_fanin": 100},
        "core": {**_COMMON["core"], "message_alpha": 0.0, "message_passing_iterations": 3},
        "learning": {
            "task": "classification",
            "epochs": 40,
            "learning_rate": 0.005,
            "input_dropout": 0.05,
            "label_smoothing": 0.1,
        },
    },
    # Binary and regression tasks are often close to linear (breast_cancer,
    # diabetes): a linear skip from the inputs to the outputs (zero at start)
    # lets the brain begin where a linear model ends, and a gentler learning
    # rate keeps the graph from overfitting a few hundred rows in a few
    # epochs (validation evidence in docs/learning.md, Presets). Early
    # stopping on validation loss ends the run once it stops improving (the
    # best epoch is restored either way).
    "binary": {
        **_COMMON,
        "core": {**_COMMON["core"], "linear_skip": True},
        "learning": {
            "task": "binary",
            "epochs": 40,
            "learning_rate": 0.003,
            "early_stopping_patience": 10,
        },
    },
    "regression": {
        **_COMMON,
        "core": {**_COMMON["core"], "linear_skip": True},
        "learning": {
            "task": "regression",
            "epochs": 60,
            "learning_rate": 0.003,
            "early_stopping_patience": 10,
        },
    },
}


# Validation rows the best-epoch choice should rest on, when the data allows
# it without giving up more than MAX_VALIDATION_FRACTION of the training rows.
MIN_VALIDATION_ROWS = 30
MAX_VALIDATION_FRACTION = 0.25
# Examples a run is planned to see at most (epochs x training rows), and the
# fewest epochs a large dataset still gets.
EXAMPLE_PASSES = 2_000_000
MIN_EPOCHS = 5


def sized_learning(learning: dict[str, Any], n_rows: int, test_fraction: float) -> dict[str, Any]:
    """``learning`` preset keys adjusted to a dataset of ``n_rows`` rows (see module doc)."""
    sized = dict(learning)
    training_rows = max(1, round(n_rows * (1.0 - test_fraction)))
    fraction = float(sized.get("validation_fraction", LearningConfig().validation_fraction))
    if fraction > 0 and training_rows * fraction < MIN_VALIDATION_ROWS:
        wanted = MIN_VALIDATION_ROWS / training_rows
        sized["validation_fraction"] = round(min(MAX_VALIDATION_FRACTION, wanted), 4)
    epochs = int(sized.get("epochs", LearningConfig().epochs))
    sized["epochs"] = max(min(epochs, MIN_EPOCHS), min(epochs, EXAMPLE_PASSES // training_rows))
    return sized


def explicit_values(config: MarbleConfig) -> dict[str, dict[str, Any]]:
    """The keys a config file set on purpose (not filled in from defaults)."""
    explicit: dict[str, dict[str, Any]] = {}
    for section_name in config.model_fields_set:
        section = getattr(config, section_name)
        values = {key: getattr(section, key) for key in section.model_fields_set}
        if values:
            explicit[section_name] = values
    return explicit


def preset_config(
    task: str,
    n_inputs: int,
    n_outputs: int,
    user: MarbleConfig | None = None,
    n_rows: int | None = None,
) -> MarbleConfig:
    """The preset for ``task`` sized to the data, overlaid with the user's explicit keys.

    ``n_rows`` (the dataset's row count) also sizes validation and epochs
    (``sized_learning``); keys the user set explicitly still win.
    """
    layers: dict[str, dict[str, Any]] = {k: dict(v) for k, v in PRESETS[task].items()}
    layers["seed"] = {**layers["seed"], "input_neurons": n_inputs, "output_neurons": n_outputs}
    if n_rows is not None:
        test_fraction = (
            user.dataset.test_fraction if user is not None else DatasetConfig().test_fraction
        )
        layers["learning"] = sized_learning(layers["learning"], n_rows, test_fraction)
    for section, values in (explicit_values(user) if user is not None else {}).items():
        layers[section] = {**layers.get(section, {}), **values}
    # The data decides the shape and the task, whatever the file said.
    layers["seed"].update({"input_neurons": n_inputs, "output_neurons": n_outputs})
    layers["learning"] = {**layers.get("learning", {}), "task": task}
    return config_from_mapping(layers, source=f"{task} preset")
