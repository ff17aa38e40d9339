"""Models for bench_suite.py (importable by reference from worker processes).

The calibration domain declares the outputs ``persons``, ``trips`` and ``metrics``, so the
trackyard models write all three (tiny files) and return them with a ``score`` metric. The
pattern document's wrapper calls ``consist.Tracker.run`` directly, which accepts only paths in
a returned dict; its ``*_pattern`` twins do the same work and record the metric with
``consist.log_meta``, as the pattern document does.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import consist

OUTPUTS = ("persons", "trips", "metrics")


def _write_outputs(config: dict[str, Any]) -> dict[str, Path]:
    paths = {key: Path(consist.output_path(key, "json")) for key in OUTPUTS}
    for path in paths.values():
        path.write_text(json.dumps(config), encoding="utf-8")
    return paths


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    n = 0
    while time.process_time() < end:
        n += 1


def burn(config: dict[str, Any]) -> dict[str, Any]:
    """Burn about ``seconds`` of CPU; write the three outputs and return a score."""
    _burn(float(config.get("seconds", 1.0)))
    return {**_write_outputs(config), "score": float(config["x"])}


def trivial(config: dict[str, Any]) -> dict[str, Any]:
    """Write the three outputs and return a score."""
    return {**_write_outputs(config), "score": float(config["x"])}


def burn_pattern(config: dict[str, Any]) -> dict[str, Path]:
    """``burn`` the way the pattern document writes a model for ``tracker.run``."""
    _burn(float(config.get("seconds", 1.0)))
    consist.log_meta(metrics={"score": float(config["x"])})
    return _write_outputs(config)


def trivial_pattern(config: dict[str, Any]) -> dict[str, Path]:
    """``trivial`` the way the pattern document writes a model for ``tracker.run``."""
    consist.log_meta(metrics={"score": float(config["x"])})
    return _write_outputs(config)


def store_model(config: dict[str, Any]) -> dict[str, Any]:
    """A calibration model for ``bench_store.py``: three tiny outputs and an ``rmse``."""
    import consist

    out: dict[str, Any] = {}
    for key in ("persons", "trips", "metrics"):
        path = Path(consist.output_path(key, "txt"))
        path.write_text(repr(sorted(config.items())))
        out[key] = path
    out["rmse"] = float(config.get("x", 0))
    return out


def sleepy_store_model(config: dict[str, Any]) -> dict[str, Any]:
    """``store_model`` after sleeping ``config["sleep"]`` seconds (``bench_release.py``)."""
    import time

    time.sleep(float(config.get("sleep", 0)))
    return store_model(config)
