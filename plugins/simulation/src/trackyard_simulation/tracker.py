"""``SimulationTracker``: scenario runs of one model with fixed wiring."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackyard import DomainTracker, RankedRun, RunOutcome, Wiring
from trackyard.errors import ConfigValidationError


@dataclass(frozen=True)
class SimulationOptions:
    """Options of the simulation domain."""

    model: Any = "trackyard_simulation.model:simulate"
    config_dir: Path | None = None


class SimulationTracker(DomainTracker):
    """Run scenarios of a simulation model and find the best ones."""

    Options = SimulationOptions
    wiring = Wiring(model="predator_prey", outputs=("results",))

    def setup(self) -> None:
        model = self.options.model
        if isinstance(model, str):
            module, _, attr = model.partition(":")
            try:
                model = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError, ValueError) as exc:
                raise ConfigValidationError(
                    f"option 'model' of domain 'simulation': cannot import {model!r}: {exc}"
                ) from exc
        self._model = model

    def run_model(
        self, *, name: str, config: dict[str, Any], inputs: Mapping[str, Path] | None = None
    ) -> RunOutcome:
        """Run one scenario with the domain's fixed wiring."""
        return self._run(self._model, name=name, config=config, inputs=inputs)

    def find_best(self, *, metric: str = "rmse", k: int = 5, order: str = "asc") -> list[RankedRun]:
        """Best runs by a recorded metric (ascending: smallest first)."""
        return self.top_k(metric, k=k, order=order)
