"""The rule for brain names, shared by the service, the token store and the API models."""

from __future__ import annotations

import re

from marble_graph.errors import ValidationFailed

BRAIN_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")


def validate_brain_name(name: str) -> None:
    if not BRAIN_NAME.match(name):
        raise ValidationFailed(
            f"invalid brain name {name!r}: use 1-128 letters, digits, '_', '-' or '.', "
            "starting with a letter"
        )
