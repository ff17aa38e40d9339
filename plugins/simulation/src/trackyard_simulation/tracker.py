"""``SimulationTracker``: scenario and multi-year runs of one model with fixed wiring."""

from __future__ import annotations

import itertools
import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from trackyard import DomainTracker, RankedRun, RunOutcome, Wiring
from trackyard.errors import ConfigValidationError
from trackyard_simulation._comparisons import (
    COMPARISON_MODEL_SUFFIX,
    COMPARISON_OF,
    COMPARISON_TAG,
    comparison_record,
)

__all__ = ["Comparison", "SimulationOptions", "SimulationTracker"]

SCENARIO_TAG = "scenario_header"


@dataclass(frozen=True)
class SimulationOptions:
    """Options of the simulation domain.

    ``model``: a callable or ``"package.module:function"``. ``config_dir``: optional folder whose
    content is an identity input of every run. ``outputs``: the model's output keys (the first
    one is what ``run_years`` hands to the next year). ``tags``: added to every run.
    """

    model: Any = "trackyard_simulation.model:simulate"
    config_dir: Path | None = None
    outputs: Sequence[str] = ("results",)
    tags: Sequence[str] = ()


@dataclass(frozen=True)
class Comparison:
    """How two runs differ: ``config`` and ``metrics`` map each differing key to (a, b)."""

    run_a: str
    run_b: str
    config: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    metrics: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return not self.config and not self.metrics


_MISSING = object()


def _diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    out: dict[str, tuple[Any, Any]] = {}
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, _MISSING), b.get(key, _MISSING)
        if va != vb:
            out[key] = (None if va is _MISSING else va, None if vb is _MISSING else vb)
    return out


class SimulationTracker(DomainTracker):
    """Run scenarios of a simulation model, chain years, and find the best runs."""

    Options = SimulationOptions
    wiring = Wiring(model="predator_prey")
    # A small, fast call `trackyard doctor` makes to exercise the multi-year verb.
    examples: ClassVar[dict[str, dict[str, Any]]] = {
        "run_years": {"name": "doctor-years", "years": [2025, 2030], "config": {}},
    }

    def setup(self) -> None:
        self._model = self.resolve_callable(self.options.model, option="model")
        self._recording: str | None = None  # the id of the comparison being recorded
        # A scenario's header run and a recorded comparison are not model runs: keep them out
        # of rankings and run listings.
        self.consist.on_run_start(self._unrank)

    def _unrank(self, run: Any) -> None:
        """Name the domain under ``scenario_of`` / ``comparison_of`` instead of ``domain``."""
        stamp = dict((run.meta or {}).get("trackyard") or {})
        if SCENARIO_TAG in (run.tags or []):
            stamp["scenario_of"] = stamp.pop("domain", self.domain_name)
        elif self._recording is not None and run.id == self._recording:
            stamp[COMPARISON_OF] = stamp.pop("domain", self.domain_name)
            # whose it is: `trackyard doctor --fix` leaves a comparison in progress alone
            stamp.update(pid=os.getpid(), host=socket.gethostname())
        else:
            return
        run.meta = {**(run.meta or {}), "trackyard": stamp}

    # --- verbs --------------------------------------------------------------------------------

    def run_model(
        self,
        *,
        name: str,
        config: Mapping[str, Any],
        inputs: Mapping[str, Path] | None = None,
    ) -> RunOutcome:
        """Run one scenario with the domain's fixed wiring."""
        return self.run(self._model, name=name, config=config, inputs=inputs)

    def run_years(
        self, *, name: str, years: Sequence[int], config: Mapping[str, Any]
    ) -> list[RunOutcome]:
        """A multi-year consist scenario: each year consumes the previous year's output.

        Runs are named ``<name>-<year>``, linked to one scenario header run and, through their
        ``previous`` input, in consist's lineage. Each year is cached on its own.
        """
        checked = self._check_years(years)
        if not self.wiring.outputs:
            raise ConfigValidationError(
                "run_years needs at least one output key (option 'outputs') to chain years"
            )
        key = self.wiring.outputs[0]
        header = f"{name}-{uuid.uuid4().hex[:8]}"
        outcomes: list[RunOutcome] = []
        with self.consist.scenario(
            name,
            run_id=header,
            model=f"{self.wiring.model or 'simulation'}_scenario",
            config=dict(config),
            tags=list(self.wiring.tags),
        ):
            previous: Path | None = None
            for year in checked:
                outcome = self.run(
                    self._model,
                    name=f"{name}-{year}",
                    config=config,
                    inputs={"previous": previous} if previous is not None else None,
                    year=year,
                    parent_run_id=header,
                )
                outcomes.append(outcome)
                previous = outcome.output(key)
        return outcomes

    @staticmethod
    def _check_years(years: object) -> list[int]:
        if (
            not isinstance(years, Sequence)
            or isinstance(years, str)
            or not years
            or not all(isinstance(y, int) and not isinstance(y, bool) for y in years)
            or any(b <= a for a, b in itertools.pairwise(years))
        ):
            raise ConfigValidationError(
                f"years must be a non-empty, strictly increasing list of integers such as "
                f"[2025, 2030], got {years!r}"
            )
        return list(years)

    def find_best(self, *, metric: str = "rmse", k: int = 5, order: str = "asc") -> list[RankedRun]:
        """Best runs by a recorded metric (ascending by default: smallest first)."""
        return self.top_k(metric, k=k, order=order)

    def compare(self, run_a: str | RunOutcome, run_b: str | RunOutcome) -> Comparison:
        """Config and metric differences between two runs (ids or outcomes).

        Each comparison is also recorded in the store, as a run of its own (model
        ``<model>_comparison``), which ``trackyard report`` lists; it is not a model run: never
        listed by ``trackyard runs``, ranked, or served from cache.
        """
        ids = [r.run_id if isinstance(r, RunOutcome) else r for r in (run_a, run_b)]
        configs = []
        years = []
        for run_id in ids:
            run = self.consist.get_run(run_id)
            if run is None:
                raise ConfigValidationError(
                    f"no run {run_id!r} in {self.settings.db_path}; pass a run id from "
                    "run_model, run_years or find_best"
                )
            years.append(run.year)
            raw = self.consist.get_run_config(run_id, allow_missing=True) or {}
            configs.append({k: v for k, v in raw.items() if not k.startswith("__consist")})
        metrics = [self.metrics(run_id) for run_id in ids]
        comparison = Comparison(
            run_a=ids[0],
            run_b=ids[1],
            config=_diff(configs[0], configs[1]),
            metrics=_diff(metrics[0], metrics[1]),
        )
        self._record(comparison, years)
        return comparison

    def _record(self, comparison: Comparison, years: Sequence[int | None]) -> None:
        """Record ``comparison`` as a consist run of its own (see ``_comparisons``)."""
        from consist import CacheOptions

        record = comparison_record(
            comparison.run_a, comparison.run_b, years, comparison.config, comparison.metrics
        )

        def record_comparison() -> None:
            self.consist.log_meta(comparison=record)

        run_id = f"compare_{uuid.uuid4().hex[:12]}"
        self._recording = run_id
        try:
            self.consist.run(
                fn=record_comparison,
                name="compare",
                run_id=run_id,
                model=f"{self.wiring.model or 'simulation'}{COMPARISON_MODEL_SUFFIX}",
                config={"run_a": comparison.run_a, "run_b": comparison.run_b},
                tags=[COMPARISON_TAG],
                cache_options=CacheOptions(cache_mode="overwrite", code_identity="callable_module"),
            )
        finally:
            self._recording = None
