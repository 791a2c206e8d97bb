"""Read ``marble.yaml`` into a validated :class:`MarbleConfig`, and write it back out.

Validation is pydantic's; this module turns its errors into one line per
fault that names the file, the line, the dotted key and the allowed values.
Line numbers come from the composed YAML node tree, which is also the only
place duplicate keys are visible (``yaml.safe_load`` keeps the last one).
The writers (canonical JSON, hash, YAML dump, JSON schema) live here too so
that reading and writing agree on one representation.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import annotated_types
import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from marble_graph.config.sections import MarbleConfig
from marble_graph.errors import ConfigError

# A key path as pydantic reports it: section and key names, list indexes.
KeyPath = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_OVERRIDES_SOURCE = "<overrides>"
# Sections an earlier release wrote into every stored config (brains, runs,
# exports, backups) and this one removed: records drop them so they still load,
# while a config file or an override naming one gets the unknown-key error.
RETIRED_SECTIONS = frozenset({"memory"})

# Validation is strict: YAML already types its scalars, so a quoted "30" or a
# `true` for an integer is a mistake to report, not a value to coerce.
_EXPECTED = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "model_type": "a mapping of keys",
    "dict_type": "a mapping of keys",
}
_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
_LENGTH_ERRORS = {"string_too_short", "string_too_long", "too_short", "too_long"}


@dataclass(frozen=True)
class _Problem:
    """One fault, before the source name is put in front of it."""

    line: int | None
    text: str


def load_config(path: str | Path | None) -> MarbleConfig:
    """Load and validate a config file; ``None`` gives the defaults."""
    if path is None:
        return MarbleConfig()
    source = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: configuration file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read configuration file: {exc.strerror}") from None
    return parse_config_text(text, source=source)


def parse_config_text(text: str, source: str = "<string>") -> MarbleConfig:
    """Validate YAML text; ``source`` names it in error messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(_describe_yaml_error(exc, source)) from None
    if root is None or data is None:
        # An empty file, or one whose keys are all commented out, means "all defaults".
        return MarbleConfig()
    if not isinstance(data, dict):
        line = root.start_mark.line + 1
        message = f"{source}:{line}: the top level must be a mapping of sections, got {_show(data)}"
        raise ConfigError(message)
    lines: dict[KeyPath, int] = {}
    problems: list[_Problem] = []
    _index_nodes(root, (), lines, problems, set())
    return _validate(_drop_empty_sections(data), source, lines, problems)


def config_from_mapping(data: Mapping[str, Any], source: str = "<mapping>") -> MarbleConfig:
    """Validate an already-parsed mapping (e.g. a stored record, from JSON or an API body).

    Sections in :data:`RETIRED_SECTIONS` are dropped: a config recorded before
    their removal (a brain, an export, a backup) loads as it did, without them.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping of sections, got {_show(data)}")
    current = {key: value for key, value in data.items() if key not in RETIRED_SECTIONS}
    return _validate(_drop_empty_sections(current), source, None, [])


def with_overrides(config: MarbleConfig, overrides: Mapping[str, Any]) -> MarbleConfig:
    """Return ``config`` with dotted keys (``"seed.random_seed"``) replaced, re-validated.

    Values must already have the key's type (parse command-line strings with
    ``yaml.safe_load`` first). A mapping value is merged into the section it names.
    """
    data = config.model_dump(mode="python")
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        if not all(parts):
            raise ConfigError(
                f"{_OVERRIDES_SOURCE}: {dotted!r} is not a dotted key path such as 'seed.width'"
            )
        target = data
        for depth, part in enumerate(parts[:-1]):
            # A missing section is created so that validation reports it as unknown,
            # with the list of allowed names, like any other unknown key.
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                prefix = ".".join(parts[: depth + 1])
                raise ConfigError(
                    f"{_OVERRIDES_SOURCE}: cannot set '{dotted}': '{prefix}' is a value, "
                    "not a section"
                )
            target = child
        current = target.get(parts[-1])
        if isinstance(value, Mapping) and isinstance(current, dict):
            _merge(current, value)
        else:
            target[parts[-1]] = value
    return _validate(data, _OVERRIDES_SOURCE, None, [])


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: equal values give equal text (what hashes cover)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def canonical_config_json(config: MarbleConfig) -> str:
    """The config as :func:`canonical_json`: equal configs give equal text."""
    return canonical_json(config.model_dump(mode="json"))


def config_hash(config: MarbleConfig) -> str:
    """SHA-256 hex digest of :func:`canonical_config_json`; brain versions record it."""
    return hashlib.sha256(canonical_config_json(config).encode("utf-8")).hexdigest()


def config_to_yaml(config: MarbleConfig) -> str:
    """Every key of ``config`` as YAML, sections in declaration order (``marble config show``)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, default_flow_style=False)


def config_json_schema() -> dict[str, Any]:
    """JSON schema of ``marble.yaml``, for editors and ``schema/config.schema.json``."""
    schema = MarbleConfig.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def write_config_schema(path: Path) -> None:
    """Write :func:`config_json_schema` as pretty JSON with sorted keys and a final newline."""
    text = json.dumps(config_json_schema(), indent=2, sort_keys=True) + "\n"
    Path(path).write_text(text, encoding="utf-8")


def _merge(target: dict[str, Any], updates: Mapping[str, Any]) -> None:
    for key, value in updates.items():
        current = target.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            _merge(current, value)
        else:
            target[key] = value


def _drop_empty_sections(data: Mapping[str, Any]) -> dict[str, Any]:
    # `seed:` with every key commented out parses as null; read it as "defaults"
    # rather than as a section of the wrong type. Strict validation also wants
    # real dicts, not arbitrary Mapping objects.
    cleaned: dict[str, Any] = {}
    for key, value in data.items():
        if value is None and key in MarbleConfig.model_fields:
            continue
        cleaned[key] = dict(value) if isinstance(value, Mapping) else value
    return cleaned


def _validate(
    data: dict[str, Any],
    source: str,
    lines: dict[KeyPath, int] | None,
    problems: list[_Problem],
) -> MarbleConfig:
    """Validate ``data`` and raise one ConfigError with every fault, in line order."""
    try:
        config = MarbleConfig.model_validate(data, strict=True)
    except ValidationError as exc:
        problems = problems + [_describe_error(error, lines) for error in exc.errors()]
        raise _config_error(source, problems) from exc
    if problems:
        raise _config_error(source, problems)
    return config


def _config_error(source: str, problems: list[_Problem]) -> ConfigError:
    ordered = sorted(problems, key=lambda problem: problem.line or 0)
    rendered = [
        f"{source}:{problem.line}: {problem.text}"
        if problem.line is not None
        else f"{source}: {problem.text}"
        for problem in ordered
    ]
    return ConfigError("\n".join(rendered), rendered)


# --- YAML positions -------------------------------------------------------------------


def _describe_yaml_error(exc: yaml.YAMLError, source: str) -> str:
    if not isinstance(exc, yaml.MarkedYAMLError):
        return f"{source}: invalid YAML: {exc}"
    mark = exc.problem_mark or exc.context_mark
    reason = exc.problem or exc.context or "unreadable document"
    if exc.problem and exc.context:
        reason = f"{exc.problem} ({exc.context})"
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
    return f"{where}: invalid YAML: {reason}"


def _index_nodes(
    node: yaml.Node,
    path: KeyPath,
    lines: dict[KeyPath, int],
    problems: list[_Problem],
    active: set[int],
) -> None:
    """Record the line of every key and list item under ``node``; report duplicate keys."""
    # Aliases make the node tree a graph, possibly with cycles (`&a [*a]`).
    if id(node) in active:
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key, line = key_node.value, key_node.start_mark.line + 1
            child = (*path, key)
            if key in first_line:
                problems.append(
                    _Problem(
                        line,
                        f"duplicate key '{_dotted(child)}' (first defined on line "
                        f"{first_line[key]})",
                    )
                )
            else:
                first_line[key] = line
            # The last occurrence is the value YAML keeps, so it owns the line.
            lines[child] = line
            _index_nodes(value_node, child, lines, problems, active)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _index_nodes(item, (*path, index), lines, problems, active)
    active.discard(id(node))


def _line_for(path: KeyPath, lines: dict[KeyPath, int] | None) -> int | None:
    """Line of ``path``, or of its nearest ancestor that the file spells out."""
    if lines is None:
        return None
    for end in range(len(path), 0, -1):
        line = lines.get(path[:end])
        if line is not None:
            return line
    return None


# --- pydantic errors to sentences ----------------------------------------------------------


def _describe_error(error: ErrorDetails, lines: dict[KeyPath, int] | None) -> _Problem:
    path: KeyPath = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    context = error.get("ctx") or {}
    dotted = _dotted(path) or "(top level)"
    if kind == "extra_forbidden":
        text = f"unknown key '{dotted}' ({_allowed_keys(path[:-1])})"
    elif kind in _RANGE_ERRORS:
        text = f"{dotted} = {_show(value)} is out of range: must be {_range_of(path, context)}"
    elif kind in _LENGTH_ERRORS:
        text = f"{dotted} = {_show(value)} has the wrong length: {error['msg'].lower()}"
    elif kind in _EXPECTED:
        text = f"{dotted}: expected {_EXPECTED[kind]}, got {_show(value)}"
    elif kind == "literal_error":
        text = f"{dotted}: expected one of {context.get('expected')}, got {_show(value)}"
    elif kind == "value_error":
        # Our own validators: cross-field checks land on the section, field checks on the key.
        text = f"{dotted}: {context.get('error', error['msg'])}"
    elif kind == "invalid_key":
        # pydantic puts the offending key itself at the end of the location.
        path = path[:-1]
        where = f" in '{_dotted(path)}'" if path else ""
        text = (
            f"key {_show(value)}{where} is not a string "
            "(YAML reads unquoted yes/no/on/off as booleans; quote the key)"
        )
    else:
        text = f"{dotted}: {error['msg']}"
    return _Problem(_line_for(path, lines), text)


def _model_at(path: KeyPath) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path`` (the root for ``()``)."""
    model: type[BaseModel] = MarbleConfig
    for part in path:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _field_at(path: KeyPath) -> FieldInfo | None:
    # List indexes follow the field they belong to; drop them to find it.
    names = [part for part in path if isinstance(part, str)]
    if not names:
        return None
    model = _model_at(tuple(names[:-1]))
    return model.model_fields.get(names[-1]) if model is not None else None


def _allowed_keys(parent: KeyPath) -> str:
    model = _model_at(parent)
    if model is None:
        return "this key does not take a mapping"
    names = ", ".join(sorted(model.model_fields))
    if not parent:
        return f"allowed sections: {names}"
    return f"allowed keys in '{_dotted(parent)}': {names}"


def _range_of(path: KeyPath, context: Mapping[str, Any]) -> str:
    """Both bounds of a field from its declaration; the failing one alone as a fallback."""
    lower: tuple[str, Any] | None = None
    upper: tuple[str, Any] | None = None
    field = _field_at(path)
    for constraint in field.metadata if field is not None else []:
        if isinstance(constraint, annotated_types.Ge):
            lower = (">=", constraint.ge)
        elif isinstance(constraint, annotated_types.Gt):
            lower = (">", constraint.gt)
        elif isinstance(constraint, annotated_types.Le):
            upper = ("<=", constraint.le)
        elif isinstance(constraint, annotated_types.Lt):
            upper = ("<", constraint.lt)
    if lower is None and upper is None:
        symbols = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
        bounds = [(symbols[name], bound) for name, bound in context.items() if name in symbols]
        return " and ".join(f"{op} {_number(bound)}" for op, bound in bounds) or "in range"
    if lower is not None and upper is not None and lower[0] == ">=" and upper[0] == "<=":
        return f"between {_number(lower[1])} and {_number(upper[1])}"
    bounds = [bound for bound in (lower, upper) if bound is not None]
    return " and ".join(f"{op} {_number(bound)}" for op, bound in bounds)


def _dotted(path: KeyPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _number(value: Any) -> str:
    # 1e6 reads better as 1000000 than as 1000000.0 or 1e+06 in a message.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _show(value: Any) -> str:
    """A value as the user wrote it in YAML, shortened for a one-line message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
