"""Tiny models for the parallel tests; importable by reference in worker processes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import consist


def model(config: dict[str, Any]) -> dict[str, Any]:
    """Write the config as an output file and score it; fail when ``config["fail"]`` is set."""
    # The log path travels in the config: worker processes may predate an environment change.
    log = config.get("log")
    if config.get("fail"):
        raise RuntimeError(f"model refuses x={config['x']}")
    time.sleep(float(config.get("sleep", 0)))
    path = Path(consist.output_path("metrics", "json"))
    path.write_text(json.dumps(config))
    # The calibration domain declares persons and trips too; produce them.
    outputs: dict[str, Any] = {"metrics": path}
    for key in ("persons", "trips"):
        outputs[key] = Path(consist.output_path(key, "csv"))
        outputs[key].write_text(f"x\n{config['x']}\n")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{config['x']}\n")
    return {**outputs, "score": float(config["x"]) ** 2 + 0.1}
