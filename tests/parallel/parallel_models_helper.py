"""Tiny models for the parallel tests; importable by reference in worker processes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import consist


def model(config: dict[str, Any]) -> dict[str, Any]:
    """Write the config as an output file and score it; fail when ``config["fail"]`` is set."""
    log = os.environ.get("PARALLEL_EXEC_LOG")
    if config.get("fail"):
        raise RuntimeError(f"model refuses x={config['x']}")
    time.sleep(float(config.get("sleep", 0)))
    path = Path(consist.output_path("metrics", "json"))
    path.write_text(json.dumps(config))
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{config['x']}\n")
    return {"metrics": path, "score": float(config["x"]) ** 2 + 0.1}
