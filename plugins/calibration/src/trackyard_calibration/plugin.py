"""Entry point of the ``calibration`` domain: registers the tracker and its default wiring."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from trackyard import DomainTracker, Settings, Wiring, hookimpl
from trackyard_calibration.tracker import CalibrationTracker


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
