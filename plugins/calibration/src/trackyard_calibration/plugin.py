"""Entry point of the ``calibration`` domain: registers the tracker and its default wiring."""

from __future__ import annotations

from collections.abc import Callable

from trackyard import DomainTracker, Settings, Wiring, hookimpl
from trackyard_calibration.tracker import CalibrationTracker


@hookimpl
def register_domains(register: Callable[[str, type[DomainTracker]], None]) -> None:
    register("calibration", CalibrationTracker)


@hookimpl
def default_wiring(domain: str, settings: Settings) -> Wiring | None:
    if domain != "calibration":
        return None
    config_dir = settings.options.config_dir
    return Wiring(
        identity_inputs=(("model_config", config_dir),),
        runtime_kwargs={"config_dir": config_dir},
    )
