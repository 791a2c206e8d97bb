"""The rule for tags, shared by brain versions and dataset versions.

A tag starts with a letter, so ``name@7`` is always version 7 and never a tag.
"""

from __future__ import annotations

import re

from marble_graph.errors import ValidationFailed

TAG_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


def validate_tag(tag: str) -> str:
    """``tag`` if it is a valid tag; ValidationFailed naming the rule otherwise."""
    if not isinstance(tag, str) or not TAG_PATTERN.match(tag):
        raise ValidationFailed(
            f"invalid tag {tag!r}: use 1-64 letters, digits, '_', '-' or '.', "
            "starting with a letter (a tag must not look like a version number)"
        )
    return tag
