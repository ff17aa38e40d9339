"""Fast models for the report tests (a real module, so consist can identify their code)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import consist
import pandas as pd


def calibration_model(config: dict[str, Any], config_dir: Path) -> dict[str, Any]:
    """A quadratic bowl in three parameters; a negative ``c`` raises."""
    a, b, c = (float(config[k]) for k in ("a", "b", "c"))
    if c < 0:
        raise ValueError(f"c must not be negative, got {c}")
    frame = pd.DataFrame({"a": [a], "b": [b], "c": [c]})
    metrics = Path(consist.output_path("metrics", "json"))
    metrics.write_text("{}", encoding="utf-8")
    error = (a - 0.3) ** 2 + (b - 0.6) ** 2 + (c - 0.5) ** 2
    return {"persons": frame, "trips": frame, "metrics": metrics, "mode_share_error": error}


def simulation_model(config: dict[str, Any], previous: Any = None) -> dict[str, Any]:
    """Grows a population by ``rate`` from the previous year's result."""
    if previous is None:
        start = 100.0
    else:
        frame = previous if isinstance(previous, pd.DataFrame) else pd.read_parquet(previous)
        start = float(frame["population"].iloc[0])
    population = start * (1 + float(config.get("rate", 0.1)))
    return {"results": pd.DataFrame({"population": [population]}), "population": population}


def hostile_model(config: dict[str, Any], config_dir: Path) -> dict[str, Any]:
    """Any numeric config, its sum as the metric; a ``fail`` value is raised as the error."""
    if "fail" in config:
        raise ValueError(str(config["fail"]))
    frame = pd.DataFrame({"x": [1.0]})
    metrics = Path(consist.output_path("metrics", "json"))
    metrics.write_text("{}", encoding="utf-8")
    error = sum(float(v) for v in config.values() if isinstance(v, int | float))
    return {"persons": frame, "trips": frame, "metrics": metrics, "mode_share_error": error}
