"""Entry point of the ``calibration`` domain: registers the tracker and its default wiring."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from trackyard import DomainTracker, Settings, Wiring, hookimpl
from trackyard_calibration.tracker import CalibrationTracker

if TYPE_CHECKING:
    from trackyard.report import Section


@hookimpl
def register_domains(register: Callable[[str, type[DomainTracker]], None]) -> None:
    register("calibration", CalibrationTracker)


@hookimpl
def default_wiring(domain: str, settings: Settings) -> Wiring | None:
    """``config_dir`` (and ``targets`` when set) are identity inputs and reach the model."""
    if domain != "calibration":
        return None
    config_dir = Path(settings.options.config_dir)
    identity: list[tuple[str, Path]] = [("model_config", config_dir)]
    runtime: dict[str, Path] = {"config_dir": config_dir}
    if settings.options.targets is not None:
        targets = Path(settings.options.targets)
        identity.append(("targets", targets))
        runtime["targets"] = targets
    return Wiring(identity_inputs=tuple(identity), runtime_kwargs=runtime)


@hookimpl
def report_sections(domain: str, tracker: DomainTracker) -> list[Section] | None:
    """History, slices, parallel coordinates, top runs, best config and failures."""
    if domain != "calibration":
        return None
    from trackyard.report import run_records
    from trackyard_calibration._report import calibration_sections

    return calibration_sections(run_records(tracker))
