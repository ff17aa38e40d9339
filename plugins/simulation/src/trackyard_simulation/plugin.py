"""Entry point of the ``simulation`` domain."""

from __future__ import annotations

from collections.abc import Callable

from trackyard import DomainTracker, Settings, Wiring, hookimpl
from trackyard_simulation.tracker import SimulationTracker


@hookimpl
def register_domains(register: Callable[[str, type[DomainTracker]], None]) -> None:
    register("simulation", SimulationTracker)


@hookimpl
def default_wiring(domain: str, settings: Settings) -> Wiring | None:
    if domain != "simulation":
        return None
    config_dir = settings.options.config_dir
    if config_dir is None:
        return None
    return Wiring(identity_inputs=(("model_config", config_dir),))
