"""Entry point of the ``simulation`` domain."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from trackyard import DomainTracker, Settings, Wiring, hookimpl
from trackyard_simulation.tracker import SimulationTracker

if TYPE_CHECKING:
    from trackyard.report import Section


@hookimpl
def register_domains(register: Callable[[str, type[DomainTracker]], None]) -> None:
    register("simulation", SimulationTracker)


@hookimpl
def default_wiring(domain: str, settings: Settings) -> Wiring | None:
    """Output keys and tags from the options; ``config_dir`` (when set) is an identity input."""
    if domain != "simulation":
        return None
    options = settings.options
    outputs = [options.outputs] if isinstance(options.outputs, str) else list(options.outputs)
    tags = [options.tags] if isinstance(options.tags, str) else list(options.tags)
    identity = () if options.config_dir is None else (("model_config", Path(options.config_dir)),)
    return Wiring(identity_inputs=identity, outputs=tuple(outputs), tags=tuple(tags))


@hookimpl
def report_sections(domain: str, tracker: DomainTracker) -> list[Section] | None:
    """Each scenario's lineage and metrics over the years, the scenarios' final years side by
    side, and the comparisons ``compare`` recorded."""
    if domain != "simulation":
        return None
    from trackyard.report import run_records
    from trackyard_simulation._comparisons import recorded_comparisons
    from trackyard_simulation._report import simulation_sections

    return simulation_sections(
        run_records(tracker), recorded_comparisons(tracker.consist, tracker.domain_name)
    )
