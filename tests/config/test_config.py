"""Tests for loading, validating and writing ``marble.yaml``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

import marble_graph.config as config_package
from marble_graph.config import (
    MarbleConfig,
    SeedConfig,
    canonical_config_json,
    config_from_mapping,
    config_hash,
    config_json_schema,
    config_to_yaml,
    load_config,
    parse_config_text,
    with_overrides,
    write_config_schema,
)
from marble_graph.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN_SCHEMA = REPO_ROOT / "schema" / "config.schema.json"
SECTIONS = list(MarbleConfig.model_fields)


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "marble.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> tuple[Path, ConfigError]:
    """Load ``text`` from a real file and return the ConfigError it must raise."""
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return path, caught.value


def config_models() -> list[type[BaseModel]]:
    """The root model followed by every section model."""
    models: list[type[BaseModel]] = [MarbleConfig]
    for field in MarbleConfig.model_fields.values():
        assert isinstance(field.annotation, type)
        assert issubclass(field.annotation, BaseModel)
        models.append(field.annotation)
    return models


# --- loading --------------------------------------------------------------------------------


def test_load_config_none_gives_defaults() -> None:
    config = load_config(None)
    assert config == MarbleConfig()
    assert config.seed.width == 30
    assert config.core.representation_size == 16
    assert config.storage.metadata_url is None
    assert config.server.cors_origins == []


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    path = write_config(tmp_path, "# nothing set yet\n")
    assert load_config(path) == MarbleConfig()


def test_partial_file_overrides_only_the_keys_it_names(tmp_path: Path) -> None:
    path = write_config(tmp_path, "seed:\n  width: 40\n  random_seed: 7\ncore:\n  device: cpu\n")
    config = load_config(str(path))

    assert config.seed.width == 40
    assert config.seed.random_seed == 7
    assert config.core.device == "cpu"
    defaults = MarbleConfig()
    assert config.seed.height == defaults.seed.height
    assert config.core.model_copy(update={"device": "auto"}) == defaults.core
    for section in SECTIONS:
        if section not in {"seed", "core"}:
            assert getattr(config, section) == getattr(defaults, section)


def test_section_with_every_key_commented_out_keeps_defaults(tmp_path: Path) -> None:
    path = write_config(tmp_path, "seed:\n  # width: 40\nlearning:\n  epochs: 3\n")
    config = load_config(path)
    assert config.seed == SeedConfig()
    assert config.learning.epochs == 3


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "marble.yaml"
    with pytest.raises(ConfigError, match="configuration file not found") as caught:
        load_config(missing)
    assert str(missing) in str(caught.value)


def test_top_level_that_is_not_a_mapping_is_rejected(tmp_path: Path) -> None:
    path, error = load_error(tmp_path, "- seed\n- core\n")
    assert error.problems == [f"{path}:1: the top level must be a mapping of sections, got a list"]


def test_config_is_frozen() -> None:
    config = MarbleConfig()
    with pytest.raises(ValidationError):
        config.seed.width = 99


# --- error messages -------------------------------------------------------------------------


def test_invalid_yaml_names_file_line_and_column(tmp_path: Path) -> None:
    path, error = load_error(tmp_path, "seed:\n  width: 30\n  height: 30: 4\n")
    assert error.problems == [f"{path}:3:13: invalid YAML: mapping values are not allowed here"]
    assert str(error) == error.problems[0]


def test_unknown_key_names_its_dotted_path_line_and_the_allowed_keys(tmp_path: Path) -> None:
    path, error = load_error(tmp_path, "seed:\n  width: 30\n\n  widht: 40\n")
    allowed = ", ".join(sorted(SeedConfig.model_fields))
    assert error.problems == [
        f"{path}:4: unknown key 'seed.widht' (allowed keys in 'seed': {allowed})"
    ]


def test_unknown_section_lists_the_allowed_sections(tmp_path: Path) -> None:
    path, error = load_error(tmp_path, "sede:\n  width: 30\n")
    assert error.problems == [
        f"{path}:1: unknown key 'sede' (allowed sections: {', '.join(sorted(SECTIONS))})"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "seed:\n  width: 5000\n",
            "2: seed.width = 5000 is out of range: must be between 2 and 4096",
        ),
        ("seed:\n  width: 1\n", "2: seed.width = 1 is out of range: must be between 2 and 4096"),
        (
            "seed:\n  long_range_tau: 0\n",
            "2: seed.long_range_tau = 0 is out of range: must be > 0 and <= 100",
        ),
        (
            "dataset:\n  name: x\n  test_fraction: 1.0\n",
            "3: dataset.test_fraction = 1.0 is out of range: must be > 0 and < 1",
        ),
        (
            "learning:\n  validation_fraction: 0.95\n",
            "2: learning.validation_fraction = 0.95 is out of range: must be between 0 and 0.9",
        ),
        (
            "learning:\n  weight_limit: .inf\n",
            "2: learning.weight_limit = inf is out of range: must be > 0 and <= 1000000",
        ),
    ],
)
def test_out_of_range_value_names_the_allowed_range(
    tmp_path: Path, text: str, expected: str
) -> None:
    path, error = load_error(tmp_path, text)
    assert error.problems == [f"{path}:{expected}"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("seed:\n  width: abc\n", "2: seed.width: expected an integer, got 'abc'"),
        # Strict: YAML already types scalars, so quoted numbers and booleans are mistakes.
        ("seed:\n  width: '30'\n", "2: seed.width: expected an integer, got '30'"),
        ("seed:\n  width: true\n", "2: seed.width: expected an integer, got true"),
        ("seed:\n  width: 30.5\n", "2: seed.width: expected an integer, got 30.5"),
        ("seed:\n  power: two\n", "2: seed.power: expected a number, got 'two'"),
        ("server:\n  dev_mode: 1\n", "2: server.dev_mode: expected true or false, got 1"),
        (
            "server:\n  cors_origins:\n    - http://a\n    - 7\n",
            "4: server.cors_origins[1]: expected a string, got 7",
        ),
        ("seed: 5\n", "1: seed: expected a mapping of keys, got 5"),
        (
            "core:\n  activation: swish\n",
            "2: core.activation: expected one of 'tanh', 'relu', 'gelu' or 'sigmoid', got 'swish'",
        ),
    ],
)
def test_wrong_type_names_the_expected_type_and_the_value(
    tmp_path: Path, text: str, expected: str
) -> None:
    path, error = load_error(tmp_path, text)
    assert error.problems == [f"{path}:{expected}"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "seed:\n  weight_init_min: 12.5\n",
            "1: seed: weight_init_min (12.5) must be <= weight_init_max (12.0)",
        ),
        ("seed:\n  x_min: 2.0\n", "1: seed: x_min (2.0) must be < x_max (1.0)"),
        ("seed:\n  y_max: -1.5\n", "1: seed: y_min (-1.5) must be < y_max (-1.5)"),
        (
            "seed:\n  inhibitory_fraction: 0.7\n  modulatory_fraction: 0.5\n",
            "1: seed: inhibitory_fraction (0.7) + modulatory_fraction (0.5) must be <= 1",
        ),
        (
            "learning:\n  epochs: 2\nneuromodulation:\n  min_factor: 4.0\n",
            "3: neuromodulation: min_factor (4.0) must be <= max_factor (3.0)",
        ),
        (
            "core:\n  device: gpu\n",
            "2: core.device: 'gpu' is not a device: use 'auto', 'cpu', 'cuda' or 'cuda:N'",
        ),
    ],
)
def test_validator_failure_names_the_section_and_the_values(
    tmp_path: Path, text: str, expected: str
) -> None:
    path, error = load_error(tmp_path, text)
    assert error.problems == [f"{path}:{expected}"]


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_valid_devices_are_accepted(device: str) -> None:
    assert config_from_mapping({"core": {"device": device}}).core.device == device


def test_duplicate_key_names_the_key_and_both_lines(tmp_path: Path) -> None:
    path, error = load_error(tmp_path, "seed:\n  width: 30\n  height: 30\n  width: 40\n")
    assert error.problems == [f"{path}:4: duplicate key 'seed.width' (first defined on line 2)"]


def test_duplicate_section_is_reported(tmp_path: Path) -> None:
    path, error = load_error(tmp_path, "seed:\n  width: 30\ncore: {}\nseed:\n  height: 40\n")
    assert error.problems == [f"{path}:4: duplicate key 'seed' (first defined on line 1)"]


def test_every_fault_is_reported_in_line_order(tmp_path: Path) -> None:
    text = "learning:\n  epochs: 0\nseed:\n  width: abc\n  widht: 3\n"
    path, error = load_error(tmp_path, text)
    assert [problem.split(": ", 1)[0] for problem in error.problems] == [
        f"{path}:2",
        f"{path}:4",
        f"{path}:5",
    ]
    assert str(error) == "\n".join(error.problems)


def test_non_string_key_is_explained(tmp_path: Path) -> None:
    path, error = load_error(tmp_path, "seed:\n  on: 3\n")
    assert len(error.problems) == 1
    assert error.problems[0].startswith(f"{path}:1: key true in 'seed' is not a string")


def test_mapping_errors_keep_the_path_but_have_no_line() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping({"seed": {"width": 5000, "widht": 3}}, source="request body")
    assert caught.value.problems[0] == (
        "request body: seed.width = 5000 is out of range: must be between 2 and 4096"
    )
    assert caught.value.problems[1].startswith("request body: unknown key 'seed.widht' (")


def test_parse_config_text_names_its_source() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config_text("seed:\n  width: 1\n")
    assert caught.value.problems[0].startswith("<string>:2: seed.width = 1 is out of range")


# --- hash, overrides, round trip ----------------------------------------------------------------


def test_config_hash_is_stable_and_changes_with_a_value(tmp_path: Path) -> None:
    from_file = load_config(write_config(tmp_path, "seed:\n  width: 30\n"))
    assert config_hash(from_file) == config_hash(MarbleConfig())
    assert config_hash(MarbleConfig()) == config_hash(MarbleConfig())

    canonical = canonical_config_json(MarbleConfig())
    assert config_hash(MarbleConfig()) == hashlib.sha256(canonical.encode()).hexdigest()
    assert " " not in canonical.replace("./marble-data", "")
    assert list(json.loads(canonical)) == sorted(SECTIONS)

    changed = with_overrides(MarbleConfig(), {"seed.random_seed": 1})
    assert config_hash(changed) != config_hash(MarbleConfig())


def test_with_overrides_sets_dotted_keys_and_keeps_the_rest() -> None:
    base = config_from_mapping({"seed": {"width": 40}})
    changed = with_overrides(
        base,
        {"seed.random_seed": 9, "server.cors_origins": ["http://x"], "core": {"device": "cpu"}},
    )
    assert changed.seed.random_seed == 9
    assert changed.seed.width == 40
    assert changed.server.cors_origins == ["http://x"]
    assert changed.core.device == "cpu"
    assert changed.core.representation_size == base.core.representation_size
    assert base.seed.random_seed == 0


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"seed.widht": 3}, "<overrides>: unknown key 'seed.widht' (allowed keys in 'seed': "),
        ({"sede.width": 3}, "<overrides>: unknown key 'sede' (allowed sections: "),
        ({"seed.width": 1}, "<overrides>: seed.width = 1 is out of range: must be between 2"),
        ({"seed.width.x": 1}, "<overrides>: cannot set 'seed.width.x': 'seed.width' is a value"),
        ({"seed..width": 1}, "<overrides>: 'seed..width' is not a dotted key path"),
        (
            {"seed.weight_init_min": 12.5},
            "<overrides>: seed: weight_init_min (12.5) must be <= weight_init_max (12.0)",
        ),
    ],
)
def test_with_overrides_validates_like_a_file(overrides: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        with_overrides(MarbleConfig(), overrides)
    assert caught.value.problems[0].startswith(expected)


def test_yaml_round_trip_gives_an_equal_config() -> None:
    configured = with_overrides(
        MarbleConfig(),
        {
            "seed.x_min": -1.25,
            "seed.random_seed": 2**63 - 1,
            "server.cors_origins": ["http://localhost:3000"],
            "storage.metadata_url": "postgresql://marble@db/marble",
            "dataset.feature_columns": ["a", "b"],
            "neuromodulation.emotion": "yes",
        },
    )
    for config in (MarbleConfig(), configured):
        text = config_to_yaml(config)
        assert parse_config_text(text) == config
    assert config_to_yaml(MarbleConfig()).startswith("seed:\n  width: 30\n")


# --- schema and declarations --------------------------------------------------------------------


def test_checked_in_json_schema_matches_the_models(tmp_path: Path) -> None:
    generated = tmp_path / "config.schema.json"
    write_config_schema(generated)
    assert json.loads(generated.read_text(encoding="utf-8")) == config_json_schema()
    assert CHECKED_IN_SCHEMA.exists(), "schema/config.schema.json is missing; run `make schema`"
    assert CHECKED_IN_SCHEMA.read_text(encoding="utf-8") == generated.read_text(encoding="utf-8"), (
        "schema/config.schema.json is out of date with the config models; run `make schema`"
    )


def test_every_field_has_a_description() -> None:
    for model in config_models():
        for name, field in model.model_fields.items():
            assert field.description and field.description.strip(), (
                f"{model.__name__}.{name} has no description"
            )


def test_every_numeric_field_has_a_lower_and_an_upper_bound() -> None:
    schema = config_json_schema()
    for model_name, model_schema in schema["$defs"].items():
        for name, field in model_schema["properties"].items():
            if field.get("type") in {"integer", "number"}:
                assert {"minimum", "exclusiveMinimum"} & set(field), f"{model_name}.{name}"
                assert {"maximum", "exclusiveMaximum"} & set(field), f"{model_name}.{name}"


def test_every_section_forbids_unknown_keys_and_is_frozen() -> None:
    for model in config_models():
        assert model.model_config.get("extra") == "forbid", model.__name__
        assert model.model_config.get("frozen") is True, model.__name__


def test_public_names_match_all() -> None:
    public = {name for name in vars(config_package) if not name.startswith("_")}
    submodules = {"loader", "section_base", "sections", "brain_sections", "deployment_sections"}
    assert set(config_package.__all__) == public - submodules
    assert len(config_package.__all__) == len(set(config_package.__all__))
