"""``CalibrationTracker``: evaluations of one model, each a cached consist run."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from trackyard import DomainTracker, RankedRun, RunOutcome, Wiring
from trackyard_calibration._resolve import resolve_callable

DEMO_CONFIG_DIR = Path(str(resources.files("trackyard_calibration") / "data"))


@dataclass(frozen=True)
class CalibrationOptions:
    """Options of the calibration domain."""

    model: Any = "trackyard_calibration.model:run_model"
    config_dir: Path = field(default=DEMO_CONFIG_DIR)


class CalibrationTracker(DomainTracker):
    """Evaluate a model under many configs and rank them by a metric."""

    Options = CalibrationOptions
    wiring = Wiring(model="mode_choice", outputs=("persons", "trips", "metrics"))

    def setup(self) -> None:
        self._model = resolve_callable(self.options.model, option="model")

    def evaluate(self, *, run_name: str, config: dict[str, Any]) -> RunOutcome:
        """Run one evaluation of the model with ``config``."""
        return self._run(self._model, name=run_name, config=config)

    def query_top_k(self, *, metric: str = "mode_share_error", k: int = 5) -> list[RankedRun]:
        """The ``k`` runs with the smallest ``metric``."""
        return self.top_k(metric, k=k, order="asc")
