"""``CalibrationTracker``: evaluations of one model, each a cached consist run.

Verbs: ``evaluate`` (one run), ``sweep`` (many, failures isolated), ``calibrate`` (a search over
a parameter space), ``query_top_k`` and ``best_config``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from trackyard import DomainTracker, RankedRun, RunOutcome, Wiring
from trackyard.errors import QueryValidationError
from trackyard_calibration._search import (
    BUILTIN_METHODS,
    CalibrationResult,
    check_method,
    check_space,
    make_proposer,
    search,
    trial_name,
)
from trackyard_calibration._sweep import (
    SweepResult,
    check_config,
    print_summary,
    resolve_configs,
)

DEMO_CONFIG_DIR = Path(str(resources.files("trackyard_calibration") / "data"))

__all__ = ["CalibrationOptions", "CalibrationResult", "CalibrationTracker", "SweepResult"]


@dataclass(frozen=True)
class CalibrationOptions:
    """Options of the calibration domain.

    ``model``: a callable or ``"package.module:function"``. ``config_dir``: the model's
    configuration folder, an identity input of every run (its files' content is in the cache
    key); the default holds the demo model's target mode shares. ``targets``: an optional file
    of target values, also an identity input, passed to the model as ``targets``.
    """

    model: Any = "trackyard_calibration.model:run_model"
    config_dir: Path = field(default=DEMO_CONFIG_DIR)
    targets: Path | None = None


class CalibrationTracker(DomainTracker):
    """Evaluate a model under many configs and rank them by a metric."""

    Options = CalibrationOptions
    wiring = Wiring(model="mode_choice", outputs=("persons", "trips", "metrics"))
    # Small, fast calls `trackyard doctor` makes to exercise the many-run verbs.
    examples: ClassVar[dict[str, dict[str, Any]]] = {
        "sweep": {"configs_by_label": {"small": {"population": 2000}}, "progress": False},
        "calibrate": {
            "space": {"mode_choice_coeff": [0.4, 1.2]},
            "n_trials": 2,
            "base_config": {"population": 2000},
            "progress": False,
        },
    }

    def setup(self) -> None:
        self._model = self.resolve_callable(self.options.model, option="model")

    # --- single runs --------------------------------------------------------------------------

    def evaluate(self, *, run_name: str, config: Mapping[str, Any]) -> RunOutcome:
        """Run one evaluation of the model with ``config`` (served from cache when seen)."""
        return self.run(self._model, name=run_name, config=config)

    # --- many runs ----------------------------------------------------------------------------

    def sweep(
        self,
        configs_by_label: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        grid: Mapping[str, list[Any]] | None = None,
        executor: Any = "serial",
        max_workers: int | None = None,
        progress: bool | None = None,
    ) -> SweepResult:
        """Evaluate many configs, each as run ``sweep_<label>``; one failure stops nothing.

        Pass ``configs_by_label`` or a ``grid`` of parameter values (every combination is
        evaluated). Every label and config is validated before the first run; configs already
        in the store are found by one query and run nothing. ``executor``: ``"serial"``
        (default), ``"processes"`` (``max_workers`` local processes, default the core count)
        or a ``dask.distributed.Client``; the results and provenance are the same whichever
        runs them (see ``docs/scaling.md``). ``progress``: ``None`` shows a bar with
        cached / running / done / failed counts and a summary only when stderr is a terminal.
        """
        self.worker_count(executor, max_workers)  # checks both before any config is read
        configs = resolve_configs(configs_by_label, grid)
        labels = {f"sweep_{label}": label for label in configs}
        with self.progress_bar(len(labels), progress, "sweep") as bar:
            many = self.run_many(
                self._model,
                [(name, configs[label]) for name, label in labels.items()],
                executor=executor,
                max_workers=max_workers,
                progress=bar,
            )
        result = SweepResult.from_many(many, labels)
        print_summary(result.summary(), bar.shown)
        return result

    def calibrate(
        self,
        *,
        space: Mapping[str, Any],
        metric: str = "mode_share_error",
        n_trials: int = 20,
        method: str = "grid",
        seed: int = 0,
        executor: Any = "serial",
        max_workers: int | None = None,
        base_config: Mapping[str, Any] | None = None,
        progress: bool | None = None,
    ) -> CalibrationResult:
        """Search ``space`` for the config minimising ``metric``; every trial is cached.

        ``method``: ``grid``, ``random`` (seeded) or ``tpe`` / ``optuna:<SamplerClass>`` (these
        need ``pip install 'trackyard-calibration[optuna]'``). ``base_config`` holds fixed
        parameters merged under each trial's. Re-running with the same seed replays finished
        trials from the cache and continues. ``executor`` and ``max_workers`` as in
        ``sweep``: grid and random trials run as one batch; optuna samplers ask
        ``max_workers`` trials at a time (default 1 for ``"serial"``, else the worker count),
        run them together and tell each result, so the same ``max_workers`` gives the same
        trials whichever executor runs them.
        """
        slots = self.worker_count(executor, max_workers)  # checks both before anything runs
        method = check_method(method)
        checked = check_space(space)
        if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
            raise QueryValidationError(f"n_trials must be a positive integer, got {n_trials!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise QueryValidationError(f"seed must be an integer, got {seed!r}")
        base = check_config("base_config", base_config or {})
        self.top_k(metric, k=1)  # validates the metric name before anything runs
        proposer = make_proposer(method, checked, n_trials, seed)
        batched = method in BUILTIN_METHODS  # proposals do not depend on results
        # One bar for the whole search, and one set of worker processes for all its batches.
        with (
            self.reuse_workers(),
            self.progress_bar(n_trials, progress, f"calibrate ({method})") as bar,
        ):
            result = search(
                proposer,
                n_trials=n_trials,
                metric=metric,
                base_config=base,
                run_batch=lambda batch: self.run_many(
                    self._model, batch, executor=executor, max_workers=max_workers, progress=bar
                ),
                name_for=lambda index: trial_name(method, seed, index),
                batch_size=n_trials if batched else slots,
            )
        print_summary(result.summary(), bar.shown)
        return replace(result, best_run_id=self._executing_run(result.best_run_id))

    # --- queries ------------------------------------------------------------------------------

    def query_top_k(self, *, metric: str = "mode_share_error", k: int = 5) -> list[RankedRun]:
        """The ``k`` executed runs with the smallest ``metric``."""
        return self.top_k(metric, k=k, order="asc")

    def best_config(self, *, metric: str = "mode_share_error") -> dict[str, Any]:
        """The config of the run with the smallest ``metric``."""
        top = self.top_k(metric, k=1, order="asc")
        if not top or top[0].value is None:
            raise QueryValidationError(
                f"no completed {self.domain_name!r} run recorded metric {metric!r}; run "
                "evaluate, sweep or calibrate first"
            )
        return self.run_config(top[0].run_id)

    def _executing_run(self, run_id: str) -> str:
        """Follow cache hits (which may point at earlier hits) to the run that executed."""
        seen = {run_id}
        run = self.consist.get_run(run_id)
        while run is not None and (run.meta or {}).get("cache_source") not in (None, *seen):
            run_id = run.meta["cache_source"]
            seen.add(run_id)
            run = self.consist.get_run(run_id)
        return run_id

    def run_config(self, run_id: str) -> dict[str, Any]:
        """The config run ``run_id`` was called with."""
        config = self.consist.get_run_config(run_id, allow_missing=True) or {}
        return {k: v for k, v in config.items() if not k.startswith("__consist")}
