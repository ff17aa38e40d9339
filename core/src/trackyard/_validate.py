"""Input checks run before anything is written or queried: run names, configs, metric names
and values, top-k requests, executors and worker counts."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trackyard.errors import ConfigValidationError, QueryValidationError

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
NAME_MAX = 120
CONFIG_MAX_DEPTH = 32
CONFIG_MAX_BYTES = 1_000_000
METRIC_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
K_MAX = 10_000
# The only words ever formatted into SQL text: the user's order maps onto one of these.
ORDERS = {"asc": "ASC", "desc": "DESC"}
EXECUTORS = ("serial", "processes")


def check_run_name(name: object, what: str = "run name") -> str:
    """A run name is 1-120 characters of letters, digits, ``_ . -``, starting alphanumeric."""
    if not isinstance(name, str) or not name:
        raise ConfigValidationError(f"{what} must be a non-empty string, got {name!r}")
    if len(name) > NAME_MAX:
        raise ConfigValidationError(
            f"{what} {name[:40]!r}... is {len(name)} characters; the limit is {NAME_MAX}"
        )
    if not NAME_RE.fullmatch(name) or ".." in name:
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
            # A key with a newline or another unprintable character is quoted: one-line messages.
            step = f".{key}" if key.isprintable() else f"[{key!r}]"
            _walk(item, f"{path}{step}", depth + 1)
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]", depth + 1)
        return
    raise ConfigValidationError(
        f"config value at {path} is a {type(value).__name__} ({value!r:.60}); configs hold only "
        "JSON values: str, int, float, bool, None, lists and dicts with string keys"
    )


def check_config(config: object, what: str = "config") -> dict[str, Any]:
    """A config is a JSON-representable dict, at most 32 levels deep and 1 MB as JSON.

    The depth is checked before anything is encoded, so a very deep config is refused with
    this error, never a ``RecursionError``. ``what`` names the config in messages."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise ConfigValidationError(f"{what} must be a dict, got {type(config).__name__}")
    try:
        _walk(config, "config", 0)
    except ConfigValidationError as exc:
        if what == "config":
            raise
        raise ConfigValidationError(f"{what}: {exc}") from None
    size = len(json.dumps(config))
    if size > CONFIG_MAX_BYTES:
        raise ConfigValidationError(
            f"{what} is {size} bytes as JSON; the limit is {CONFIG_MAX_BYTES}: pass large data "
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
    """The inverse of ``encode_metric`` (None stays None)."""
    if value is None:
        return None
    return float(value)  # type: ignore[arg-type]  # float("nan"), float("inf") parse


def check_metric_name(metric: object) -> str:
    """Metric names are identifiers: a letter or ``_``, then letters, digits, ``_``; 64 at most."""
    if not isinstance(metric, str) or not METRIC_RE.fullmatch(metric):
        raise QueryValidationError(
            f"invalid metric name {metric!r}: use a letter or '_' followed by up to 63 "
            "letters, digits or '_' (for example 'rmse' or 'mode_share_error')"
        )
    return metric


def check_query(metric: object, k: object, order: object) -> tuple[str, int, str]:
    """Validate a top-k request; returns (metric, k, SQL order keyword from ``ORDERS``)."""
    metric = check_metric_name(metric)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= K_MAX:
        raise QueryValidationError(f"k must be an integer from 1 to {K_MAX}, got {k!r}")
    if not isinstance(order, str) or order.lower() not in ORDERS:
        raise QueryValidationError(f"order must be 'asc' or 'desc', got {order!r}")
    return metric, k, ORDERS[order.lower()]


def is_dask_client(executor: object) -> bool:
    """A ``distributed.Client`` (checked by module, so dask is only imported by its users)."""
    return type(executor).__module__.split(".")[0] == "distributed" and hasattr(executor, "submit")


def check_executor(executor: object, max_workers: object = None) -> None:
    """``serial``, ``processes`` or a Dask ``Client``, and a positive ``max_workers`` or None."""
    if executor not in EXECUTORS and not is_dask_client(executor):
        raise ConfigValidationError(
            f"executor {executor!r} is not supported: executor must be 'serial', 'processes' "
            "or a dask.distributed Client"
        )
    if max_workers is not None and (
        isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1
    ):
        raise ConfigValidationError(f"max_workers must be a positive integer, got {max_workers!r}")


def worker_count(executor: Any = "serial", max_workers: int | None = None) -> int:
    """How many runs to hand ``executor`` at once (checked first): ``max_workers`` when given,
    else 1 for ``"serial"``, the core count for ``"processes"``, the Dask cluster's workers."""
    check_executor(executor, max_workers)
    if max_workers is not None:
        return max_workers
    if executor == "serial":
        return 1
    if is_dask_client(executor):
        return max(1, len(executor.scheduler_info().get("workers", {})))
    return os.cpu_count() or 1


def check_inputs_exist(inputs: Mapping[str, Any], run: str) -> None:
    """Every file ``inputs={"label": path}`` names exists (``run`` and ``run_many`` check it
    before anything runs)."""
    for label, value in inputs.items():
        if isinstance(value, (str, os.PathLike)) and not Path(value).exists():
            raise ConfigValidationError(
                f"input {label!r} of run {run!r} does not exist: {value}; check the path"
            )
