"""The first-party domains pass the plugin author's conformance suite, through real entry points."""

from __future__ import annotations

from typing import Any, ClassVar

from trackyard.testing import DomainConformance


class TestCalibrationConformance(DomainConformance):
    """calibration: evaluate and sweep record persons/trips/metrics and mode_share_error."""

    domain = "calibration"
    verbs: ClassVar[dict[str, dict[str, Any]]] = {
        "evaluate": {"run_name": "conformance", "config": {"population": 2000, "seed": 7}},
        "sweep": {
            "configs_by_label": {"a": {"population": 2000}, "b": {"population": 3000}},
            "progress": False,
        },
    }


class TestSimulationConformance(DomainConformance):
    """simulation: run_model records results and rmse."""

    domain = "simulation"
    verbs: ClassVar[dict[str, dict[str, Any]]] = {
        "run_model": {"name": "conformance", "config": {"alpha": 1.0, "seed": 3}}
    }
