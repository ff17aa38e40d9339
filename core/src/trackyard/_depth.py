"""Bound the nesting of text before a recursive parser (json, tomllib) reads it, so that a
50,000-deep value is a ``ConfigValidationError`` naming where it came from, never a
``RecursionError``. Configs themselves may be ``CONFIG_MAX_DEPTH`` deep (checked after
parsing, with the path of the deep item); text is refused here past twice that."""

from __future__ import annotations

from trackyard._validate import CONFIG_MAX_DEPTH
from trackyard.errors import ConfigValidationError

__all__ = ["TEXT_MAX_DEPTH", "check_key_depth", "check_text_depth"]

TEXT_MAX_DEPTH = 2 * CONFIG_MAX_DEPTH


def _too_deep(where: str) -> ConfigValidationError:
    return ConfigValidationError(
        f"{where} is nested deeper than {TEXT_MAX_DEPTH} levels (a config may be "
        f"{CONFIG_MAX_DEPTH} deep); flatten it"
    )


def check_text_depth(text: str, where: str) -> None:
    """Refuse JSON or TOML ``text`` whose brackets (``[``, ``{``), or whose dotted keys on one
    line, nest deeper than ``TEXT_MAX_DEPTH``; quoted strings are skipped."""
    depth = dots = 0
    quote = ""
    escaped = False
    for char in text:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
            if depth > TEXT_MAX_DEPTH:
                raise _too_deep(where)
        elif char in "]}":
            depth -= 1
        elif char == ".":
            dots += 1
            if dots > TEXT_MAX_DEPTH:
                raise _too_deep(where)
        elif char == "\n":
            dots = 0


def check_key_depth(key: str, where: str) -> None:
    """Refuse a dotted key (``config.a.b``) of more than ``TEXT_MAX_DEPTH`` parts."""
    if key.count(".") > TEXT_MAX_DEPTH:
        raise _too_deep(where)
