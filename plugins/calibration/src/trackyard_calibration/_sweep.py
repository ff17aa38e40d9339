"""Sweeps: labelled configs or a grid, checked up front; the calibration domain's result type.

Running them (executor checks, the cache pre-check, the progress bar) is the core's
``DomainTracker.run_many``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trackyard import DomainTracker, ManyResult, RunOutcome
from trackyard.errors import ConfigValidationError

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")
_DOTS = re.compile(r"\.{2,}")


@dataclass(frozen=True)
class SweepResult:
    """What a sweep did: one outcome per successful label, one message per failed label."""

    outcomes: dict[str, RunOutcome] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    ran: int = 0
    cached: int = 0
    failed: int = 0

    @classmethod
    def from_many(cls, many: ManyResult, labels: Mapping[str, str]) -> SweepResult:
        """The engine's result (keyed by run name) keyed by sweep label, in the sweep's order."""
        return cls(
            outcomes={labels[name]: outcome for name, outcome in many.outcomes.items()},
            failures={labels[name]: message for name, message in many.failures.items()},
            ran=many.ran,
            cached=many.cached,
            failed=many.failed,
        )

    def summary(self) -> str:
        """One line of counts, then one line per failure."""
        total = self.ran + self.cached + self.failed
        lines = [
            f"{total} evaluations: {self.ran} ran, {self.cached} from cache, {self.failed} failed"
        ]
        lines += [f"  failed {label}: {message}" for label, message in self.failures.items()]
        return "\n".join(lines)


def check_label(label: object) -> str:
    """Labels name runs (``sweep_<label>``), so they use the run-name characters."""
    if not isinstance(label, str) or not _NAME_RE.fullmatch(label) or ".." in label:
        raise ConfigValidationError(
            f"sweep label {label!r} may only hold letters, digits, '_', '.' and '-' and must "
            "start with a letter or digit (it names the run)"
        )
    return label


def check_config(what: str, config: object) -> dict[str, Any]:
    """A config is a dict of JSON values, checked as the core's ``run`` checks it (depth
    first, so a very deep config is refused, never a ``RecursionError``)."""
    return DomainTracker.check_config(config, what)


GRID_MAX_POINTS = 10_000
_LABEL_MAX = 100  # run names are "sweep_<label>"; the core's limit is 120 characters


def _short_hash(config: Mapping[str, Any]) -> str:
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def grid_label(config: Mapping[str, Any]) -> str:
    """A readable, run-name-safe label for one grid point, e.g. ``coeff-0.3_rate-0.1``.

    Characters a run name cannot hold become ``_`` (``..`` too); a label longer than 100
    characters is cut and ends with a hash of the config."""
    parts = [f"{key}-{value}" for key, value in config.items()]
    label = _DOTS.sub("_", _UNSAFE.sub("_", "_".join(parts))).strip("_.-") or "point"
    if len(label) > _LABEL_MAX:
        label = label[: _LABEL_MAX - 9].rstrip("_.-") + "_" + _short_hash(config)
    return label


def expand_grid(grid: object) -> dict[str, dict[str, Any]]:
    """Every combination of a ``{"param": [values...]}`` grid, labelled.

    The number of points is computed before anything is expanded and may be at most
    ``GRID_MAX_POINTS``. Points whose readable labels coincide (``"a b"`` and ``"a_b"``) get
    a hash of their config appended, so no point replaces another."""
    if not isinstance(grid, Mapping) or not grid:
        raise ConfigValidationError(
            "grid must be a non-empty dict of parameter name to a list of values, e.g. "
            "{'mode_choice_coeff': [0.3, 0.5]}"
        )
    for key, values in grid.items():
        if not isinstance(values, Sequence) or isinstance(values, str) or not values:
            raise ConfigValidationError(
                f"grid parameter {key!r} must map to a non-empty list of values, got {values!r}"
            )
    keys = list(grid)
    sizes = [len(grid[k]) for k in keys]
    total = math.prod(sizes)
    if total > GRID_MAX_POINTS:
        raise ConfigValidationError(
            f"grid has {total} points ({' x '.join(map(str, sizes))}); the limit is "
            f"{GRID_MAX_POINTS}: use fewer values, split the grid into several sweeps, or "
            "calibrate(method='random') to sample it"
        )
    labelled: dict[str, list[dict[str, Any]]] = {}
    for combo in itertools.product(*(grid[k] for k in keys)):
        config = dict(zip(keys, combo, strict=True))
        labelled.setdefault(grid_label(config), []).append(config)
    points: dict[str, dict[str, Any]] = {}
    for label, configs in labelled.items():
        distinct = {_short_hash(c): c for c in configs}
        if len(distinct) == 1:
            points[label] = configs[0]  # one point, or the same point listed twice
            continue
        for digest, config in distinct.items():
            points[f"{label[: _LABEL_MAX - 9]}_{digest}"] = config
    return points


def resolve_configs(configs_by_label: object, grid: object) -> dict[str, dict[str, Any]]:
    """The labelled configs of a sweep, fully validated."""
    if (configs_by_label is None) == (grid is None):
        raise ConfigValidationError(
            "sweep needs exactly one of configs_by_label={label: config} or grid={param: [...]}"
        )
    if grid is not None:
        configs = expand_grid(grid)
    elif isinstance(configs_by_label, Mapping):
        configs = dict(configs_by_label)
    else:
        raise ConfigValidationError(
            f"configs_by_label must be a dict of label to config, got "
            f"{type(configs_by_label).__name__}"
        )
    if not configs:
        raise ConfigValidationError("sweep got no configs; pass at least one")
    return {
        check_label(label): check_config(f"config of sweep label {label!r}", cfg)
        for label, cfg in configs.items()
    }


def print_summary(text: str, enabled: bool) -> None:
    """The end-of-run summary, on stderr under the progress bar (only when a bar is shown)."""
    if enabled:
        print(text, file=sys.stderr)
