"""Configuration presets: good defaults for each kind of task.

A brain created for a dataset (``marble brain create NAME --dataset digits``)
starts from the preset of the dataset's task, sized to the dataset (one input
neuron per feature, one output neuron per class or target). Keys the user set
explicitly in their config file win over the preset.

The classification preset is the one the acceptance bar is measured with
(``bench/learn_digits.py``): a 20x20 grid, wide input fan-out and output
fan-in (every output neuron hears half the hidden layer), sharper
attention, and input dropout and label smoothing against overfitting.
"""

from __future__ import annotations

from typing import Any

from marble_graph.config import MarbleConfig, config_from_mapping

_COMMON: dict[str, dict[str, Any]] = {
    "seed": {"width": 20, "height": 20, "input_fanout": 48, "output_fanin": 200},
    # Sharper attention: with 4-wide keys, temperature 1 leaves the scores so
    # flat that attention barely selects (about 1 point of digits accuracy).
    "core": {"attention_temperature": 0.5},
}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "classification": {
        **_COMMON,
        "learning": {
            "task": "classification",
            "epochs": 40,
            "learning_rate": 0.01,
            "input_dropout": 0.15,
            "label_smoothing": 0.1,
        },
    },
    "binary": {
        **_COMMON,
        "learning": {"task": "binary", "epochs": 40, "learning_rate": 0.01},
    },
    "regression": {
        **_COMMON,
        "learning": {"task": "regression", "epochs": 60, "learning_rate": 0.01},
    },
}


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
    task: str, n_inputs: int, n_outputs: int, user: MarbleConfig | None = None
) -> MarbleConfig:
    """The preset for ``task`` sized to the data, overlaid with the user's explicit keys."""
    layers: dict[str, dict[str, Any]] = {k: dict(v) for k, v in PRESETS[task].items()}
    layers["seed"] = {**layers["seed"], "input_neurons": n_inputs, "output_neurons": n_outputs}
    for section, values in (explicit_values(user) if user is not None else {}).items():
        layers[section] = {**layers.get(section, {}), **values}
    # The data decides the shape and the task, whatever the file said.
    layers["seed"].update({"input_neurons": n_inputs, "output_neurons": n_outputs})
    layers["learning"] = {**layers.get("learning", {}), "task": task}
    return config_from_mapping(layers, source=f"{task} preset")
