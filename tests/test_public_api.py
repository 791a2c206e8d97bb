"""The package's public surface and its logging set-up."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import marble_graph
from marble_graph.config import LoggingConfig
from marble_graph.logs import configure_logging


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(marble_graph).items()
        if not name.startswith("_") and not isinstance(value, type(marble_graph))
    }
    assert set(marble_graph.__all__) - {"__version__"} == public


def test_structured_logging_writes_json_lines_to_the_log_file(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "marble.jsonl"
    configure_logging(LoggingConfig(level="INFO", structured=True, log_file=str(log_file)))
    try:
        logging.getLogger("marble_graph.test").info("seeded %d neurons", 42, extra={"brain": "b1"})
        logging.getLogger("marble_graph.test").debug("below the level")
    finally:
        for handler in logging.getLogger("marble_graph").handlers:
            handler.flush()
    lines = log_file.read_text().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["message"] == "seeded 42 neurons"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "marble_graph.test"
    assert entry["brain"] == "b1"


def test_plain_logging_is_not_json(tmp_path: Path) -> None:
    log_file = tmp_path / "plain.log"
    configure_logging(LoggingConfig(level="WARNING", log_file=str(log_file)))
    logging.getLogger("marble_graph.test").warning("careful")
    for handler in logging.getLogger("marble_graph").handlers:
        handler.flush()
    line = log_file.read_text().strip()
    assert line.endswith("WARNING marble_graph.test: careful")
