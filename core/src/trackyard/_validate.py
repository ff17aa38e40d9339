"""Input checks run before anything is written: run names, configs, metric values."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from trackyard.errors import ConfigValidationError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
NAME_MAX = 120
CONFIG_MAX_DEPTH = 32
CONFIG_MAX_BYTES = 1_000_000


def check_run_name(name: object, what: str = "run name") -> str:
    """A run name is 1-120 characters of letters, digits, ``_ . -``, starting alphanumeric."""
    if not isinstance(name, str) or not name:
        raise ConfigValidationError(f"{what} must be a non-empty string, got {name!r}")
    if len(name) > NAME_MAX:
        raise ConfigValidationError(
            f"{what} {name[:40]!r}... is {len(name)} characters; the limit is {NAME_MAX}"
        )
    if not NAME_RE.match(name) or ".." in name:
        raise ConfigValidationError(
            f"{what} {name!r} may only hold letters, digits, '_', '.' and '-', start with a "
            "letter or digit, and contain no '..' (it names files inside the workspace)"
        )
    return name


def _walk(value: Any, path: str, depth: int) -> None:
    if depth > CONFIG_MAX_DEPTH:
        raise ConfigValidationError(
            f"config is nested deeper than {CONFIG_MAX_DEPTH} levels at {path}"
        )
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigValidationError(
                f"config value at {path} is {value!r}; NaN and infinity are rejected because "
                "they have no exact JSON form (use None or a string)"
            )
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigValidationError(
                    f"config key {key!r} at {path} is {type(key).__name__}; keys must be strings"
                )
            _walk(item, f"{path}.{key}", depth + 1)
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]", depth + 1)
        return
    raise ConfigValidationError(
        f"config value at {path} is a {type(value).__name__} ({value!r:.60}); configs hold only "
        "JSON values: str, int, float, bool, None, lists and dicts with string keys"
    )


def check_config(config: object) -> dict[str, Any]:
    """A config is a JSON-representable dict, at most 32 levels deep and 1 MB as JSON."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise ConfigValidationError(f"config must be a dict, got {type(config).__name__}")
    _walk(config, "config", 0)
    size = len(json.dumps(config))
    if size > CONFIG_MAX_BYTES:
        raise ConfigValidationError(
            f"config is {size} bytes as JSON; the limit is {CONFIG_MAX_BYTES}: pass large data "
            "as an input file instead"
        )
    return dict(config)


def encode_metric(name: str, value: object) -> float | str:
    """A metric as stored in run metadata: a finite float, or "nan" / "inf" / "-inf"."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)  # type: ignore[arg-type]  # numpy scalars and the like
        except (TypeError, ValueError):
            raise ConfigValidationError(
                f"metric {name!r} must be a number, got {type(value).__name__} {value!r:.60}"
            ) from None
    number = float(value)
    if math.isnan(number):
        return "nan"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return number


def decode_metric(value: object) -> float | None:
    """The inverse of :func:`encode_metric` (None stays None)."""
    if value is None:
        return None
    return float(value)  # type: ignore[arg-type]  # float("nan"), float("inf") parse
