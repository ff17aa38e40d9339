"""Models and trackers for the kit tests (a real file, so consist can hash their code)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import consist

from trackyard import DomainTracker, RunOutcome, Wiring


def good_model(config: dict[str, Any]) -> dict[str, Any]:
    path = Path(consist.output_path("values", "json"))
    path.write_text(json.dumps([config.get("x", 1)] * 3))
    return {"values": path, "score": float(config.get("x", 1)) * 2}


class GoodTracker(DomainTracker):
    """Conforms: declared wiring, one verb, outputs and a metric."""

    wiring = Wiring(model="good", outputs=("values",), tags=("kit",))

    def go(self, *, name: str, config: dict[str, Any]) -> RunOutcome:
        """Run the good model."""
        return self.run(good_model, name=name, config=config)


class UnwiredTracker(GoodTracker):
    """Declares no model name and no outputs."""

    wiring = Wiring()


class ClockTracker(GoodTracker):
    """Puts the time into the config, so nothing is ever a cache hit."""

    def go(self, *, name: str, config: dict[str, Any]) -> RunOutcome:
        return self.run(good_model, name=name, config={**config, "t": time.time_ns()})


class SwallowingTracker(GoodTracker):
    """Hides model errors from the caller."""

    def go(self, *, name: str, config: dict[str, Any]) -> RunOutcome:
        try:
            return self.run(good_model, name=name, config=config)
        except RuntimeError:
            return None  # type: ignore[return-value]


def quiet_model(config: dict[str, Any]) -> dict[str, Any]:
    path = Path(consist.output_path("values", "json"))
    path.write_text("[]")
    return {"values": path}


class SilentTracker(GoodTracker):
    """Records no metrics."""

    def go(self, *, name: str, config: dict[str, Any]) -> RunOutcome:
        return self.run(quiet_model, name=name, config=config)


class SweepingTracker(GoodTracker):
    """Conforms, with a many-run verb: ``sweep`` runs the good model once per named config."""

    def sweep(self, *, configs: dict[str, dict[str, Any]]) -> Any:
        """Run the good model once per config; failures are recorded and the others go on."""
        return self.run_many(good_model, list(configs.items()), progress=False)


class HidingSweepTracker(GoodTracker):
    """A sweep that drops its failed items and re-raises nothing: the user never learns why."""

    def sweep(self, *, configs: dict[str, dict[str, Any]]) -> Any:
        result = self.run_many(good_model, list(configs.items()), progress=False)
        if result.failures:
            raise ValueError("the sweep did not work")
        return result
