"""Turn a model option (a callable or ``"package.module:function"``) into a callable."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from trackyard.errors import ConfigValidationError


def resolve_callable(value: Any, *, option: str) -> Callable[..., Any]:
    if callable(value):
        return value  # type: ignore[no-any-return]
    if not isinstance(value, str) or ":" not in value:
        raise ConfigValidationError(
            f"option {option!r} must be a callable or 'package.module:function', got {value!r}"
        )
    module_name, _, attr = value.partition(":")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigValidationError(f"option {option!r}: cannot import {value!r}: {exc}") from exc
    if not callable(target):
        raise ConfigValidationError(f"option {option!r}: {value!r} is not callable")
    return target  # type: ignore[no-any-return]
