"""Calibration search: propose configs (grid, seeded random, optuna samplers), one run each.

A search space maps a parameter to a ``list`` of choices or a ``(low, high)`` tuple of numbers
(ints give an integer range). Every trial is an ordinary cached evaluation, so a search re-run
with the same seed proposes the same configs and replays finished trials from the cache.
"""

from __future__ import annotations

import collections
import itertools
import math
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from trackyard import RunOutcome
from trackyard.errors import ConfigValidationError

BUILTIN_METHODS = ("grid", "random")
OPTUNA_HINT = "pip install 'trackyard-calibration[optuna]'"


@dataclass(frozen=True)
class CalibrationResult:
    """The best config found, its metric value and run, and every trial's outcome.

    ``best_run_id`` is the run that executed the best config (for a trial served from cache,
    the run it reused).
    """

    best_config: dict[str, Any]
    best_value: float
    best_run_id: str
    trials: list[RunOutcome] = field(default_factory=list)
    ran: int = 0
    cached: int = 0
    failed: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    metric: str = ""

    def summary(self) -> str:
        """One line of counts and the best value, then one line per failed trial."""
        total = self.ran + self.cached + self.failed
        lines = [
            f"{total} trials: {self.ran} ran, {self.cached} from cache, {self.failed} failed; "
            f"best {self.metric or 'value'} = {self.best_value:.6g} with {self.best_config}"
        ]
        lines += [f"  failed {name}: {message}" for name, message in self.failures.items()]
        return "\n".join(lines)


Range = tuple[float, float] | tuple[int, int]


def check_space(space: object) -> dict[str, list[Any] | Range]:
    """Validate a search space: each value a non-empty list or a (low, high) numeric tuple."""
    if not isinstance(space, Mapping) or not space:
        raise ConfigValidationError(
            "space must be a non-empty dict of parameter to a list of choices or a (low, high) "
            "tuple, e.g. {'mode_choice_coeff': (0.1, 1.0)}"
        )
    checked: dict[str, list[Any] | Range] = {}
    for key, value in space.items():
        if not isinstance(key, str):
            raise ConfigValidationError(f"space parameter {key!r} must be a string")
        if isinstance(value, list) and value:
            checked[key] = list(value)
        elif (
            isinstance(value, tuple)
            and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            and value[0] < value[1]
        ):
            checked[key] = value
        else:
            raise ConfigValidationError(
                f"space parameter {key!r} must be a non-empty list of choices or a (low, high) "
                f"tuple with low < high, got {value!r}"
            )
    return checked


def _is_int_range(value: Range) -> bool:
    return all(isinstance(v, int) for v in value)


class Proposer(Protocol):
    """Proposes trial configs and learns from their results."""

    def ask(self) -> dict[str, Any] | None: ...
    def tell(self, value: float | None) -> None: ...


class GridProposer:
    """Every combination; ranges are cut into evenly spaced points to fit ``n_trials``."""

    def __init__(self, space: Mapping[str, list[Any] | Range], n_trials: int) -> None:
        ranges = [k for k, v in space.items() if isinstance(v, tuple)]
        combos = math.prod(len(v) for v in space.values() if isinstance(v, list))
        per_range = 0
        if ranges:
            per_range = max(2, int((n_trials / combos) ** (1 / len(ranges)) + 1e-9))
        axes: list[list[Any]] = []
        for value in space.values():
            if isinstance(value, list):
                axes.append(value)
            elif _is_int_range(value):
                lo, hi = int(value[0]), int(value[1])
                axes.append(
                    sorted({round(lo + (hi - lo) * i / (per_range - 1)) for i in range(per_range)})
                )
            else:
                lo_f, hi_f = float(value[0]), float(value[1])
                axes.append(
                    [
                        round(lo_f + (hi_f - lo_f) * i / (per_range - 1), 10)
                        for i in range(per_range)
                    ]
                )
        keys = list(space)
        self._points = iter(
            dict(zip(keys, combo, strict=True))
            for combo in itertools.islice(itertools.product(*axes), n_trials)
        )

    def ask(self) -> dict[str, Any] | None:
        return next(self._points, None)

    def tell(self, value: float | None) -> None:
        pass


class RandomProposer:
    """Independent seeded draws: the same seed gives the same configs."""

    def __init__(self, space: Mapping[str, list[Any] | Range], seed: int) -> None:
        self._space = space
        self._rng = random.Random(seed)

    def ask(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for key, value in self._space.items():
            if isinstance(value, list):
                config[key] = self._rng.choice(value)
            elif _is_int_range(value):
                config[key] = self._rng.randint(int(value[0]), int(value[1]))
            else:
                config[key] = self._rng.uniform(float(value[0]), float(value[1]))
        return config

    def tell(self, value: float | None) -> None:
        pass


class OptunaProposer:
    """An optuna sampler driven through ask/tell; trials run as cached evaluations."""

    def __init__(self, space: Mapping[str, list[Any] | Range], sampler_name: str, seed: int):
        try:
            import optuna
        except ImportError as exc:
            raise ConfigValidationError(
                f"method {sampler_name!r} needs optuna, which is not installed; run {OPTUNA_HINT}"
            ) from exc
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        cls_name = "TPESampler" if sampler_name == "tpe" else sampler_name.partition(":")[2]
        sampler_cls = getattr(optuna.samplers, cls_name, None)
        if not isinstance(sampler_cls, type):
            raise ConfigValidationError(
                f"method {sampler_name!r}: optuna has no sampler {cls_name!r}; use 'tpe' or "
                "'optuna:<SamplerClass>' such as 'optuna:RandomSampler'"
            )
        self._optuna = optuna
        self._study = optuna.create_study(direction="minimize", sampler=sampler_cls(seed=seed))
        self._dists: dict[str, Any] = {}
        for key, value in space.items():
            if isinstance(value, list):
                self._dists[key] = optuna.distributions.CategoricalDistribution(value)
            elif _is_int_range(value):
                self._dists[key] = optuna.distributions.IntDistribution(
                    int(value[0]), int(value[1])
                )
            else:
                self._dists[key] = optuna.distributions.FloatDistribution(
                    float(value[0]), float(value[1])
                )
        self._open: collections.deque[Any] = collections.deque()

    def ask(self) -> dict[str, Any]:
        """A new trial; several may be open at once (a batch), told in the order asked."""
        trial = self._study.ask(self._dists)
        self._open.append(trial)
        return dict(trial.params)

    def tell(self, value: float | None) -> None:
        trial = self._open.popleft()
        if value is None or math.isnan(value):
            self._study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
        else:
            self._study.tell(trial, value)


def check_method(method: object) -> str:
    if not isinstance(method, str) or not (
        method in (*BUILTIN_METHODS, "tpe") or method.startswith("optuna:")
    ):
        raise ConfigValidationError(
            f"method {method!r} is not known; use 'grid', 'random', 'tpe' or "
            "'optuna:<SamplerClass>'"
        )
    return method


def make_proposer(
    method: str, space: Mapping[str, list[Any] | Range], n_trials: int, seed: int
) -> Proposer:
    if method == "grid":
        return GridProposer(space, n_trials)
    if method == "random":
        return RandomProposer(space, seed)
    return OptunaProposer(space, method, seed)


def trial_name(method: str, seed: int, index: int) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "-", f"calibrate-{method}-s{seed}-t{index:03d}")


class BatchResult(Protocol):
    """What running a batch of trials gives back (the engine's ``ManyResult``)."""

    @property
    def outcomes(self) -> Mapping[str, RunOutcome]: ...
    @property
    def failures(self) -> Mapping[str, str]: ...
    @property
    def ran(self) -> int: ...
    @property
    def cached(self) -> int: ...


def search(
    proposer: Proposer,
    *,
    n_trials: int,
    metric: str,
    base_config: Mapping[str, Any],
    run_batch: Callable[[list[tuple[str, dict[str, Any]]]], BatchResult],
    name_for: Callable[[int], str],
    batch_size: int,
) -> CalibrationResult:
    """Ask up to ``batch_size`` trials, run them together (cached), tell each in order.

    A failing trial is recorded and the search goes on. With ``batch_size >= n_trials`` (grid,
    random) every trial is one batch; optuna samplers learn between batches.
    """
    tally = _Tally(metric)
    index = 0
    exhausted = False
    while index < n_trials and not exhausted:
        want = min(batch_size, n_trials - index)
        batch, exhausted = _ask(proposer, want, index, base_config, name_for)
        if not batch:
            break
        index += len(batch)
        result = run_batch(batch)
        tally.ran, tally.cached = tally.ran + result.ran, tally.cached + result.cached
        for name, config in batch:
            proposer.tell(tally.add(name, config, result))
    return tally.result()


def _ask(
    proposer: Proposer,
    want: int,
    index: int,
    base_config: Mapping[str, Any],
    name_for: Callable[[int], str],
) -> tuple[list[tuple[str, dict[str, Any]]], bool]:
    """Up to ``want`` named trial configs from ``proposer``, and whether it ran out."""
    batch: list[tuple[str, dict[str, Any]]] = []
    while len(batch) < want:
        params = proposer.ask()
        if params is None:
            return batch, True
        batch.append((name_for(index + len(batch)), {**base_config, **params}))
    return batch, False


@dataclass
class _Tally:
    """What a search has seen so far: every trial, failures, the best finite value, counts."""

    metric: str
    trials: list[RunOutcome] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    best: tuple[float, dict[str, Any], str] | None = None
    ran: int = 0
    cached: int = 0

    def add(self, name: str, config: dict[str, Any], result: BatchResult) -> float | None:
        """Record trial ``name`` of ``result``; the value to tell the proposer (None: failed)."""
        outcome = result.outcomes.get(name)
        if outcome is None:
            self.failures[name] = result.failures.get(name, "the trial did not finish")
            return None
        self.trials.append(outcome)
        value = outcome.metrics.get(self.metric)
        if value is None and self.metric not in outcome.metrics:
            raise ConfigValidationError(
                f"the model recorded no metric {self.metric!r}; it recorded: "
                f"{', '.join(sorted(outcome.metrics)) or 'none'}"
            )
        best = self.best
        if value is not None and not math.isnan(value) and (best is None or value < best[0]):
            self.best = (value, config, outcome.cache_source or outcome.run_id)
        return value

    def result(self) -> CalibrationResult:
        if self.best is None:
            raise ConfigValidationError(
                f"no calibration trial produced a finite {self.metric!r}; failures: "
                + ("; ".join(f"{k}: {v}" for k, v in self.failures.items()) or "none")
            )
        value, config, run_id = self.best
        return CalibrationResult(
            best_config=dict(config),
            best_value=value,
            best_run_id=run_id,
            trials=self.trials,
            ran=self.ran,
            cached=self.cached,
            failed=len(self.failures),
            failures=self.failures,
            metric=self.metric,
        )
