"""Models for bench_suite.py (importable by reference from worker processes)."""

from __future__ import annotations

import time
from typing import Any


def burn(config: dict[str, Any]) -> dict[str, Any]:
    """Burn about ``seconds`` of CPU and return a score."""
    end = time.process_time() + float(config.get("seconds", 1.0))
    n = 0
    while time.process_time() < end:
        n += 1
    return {"score": float(config["x"])}


def trivial(config: dict[str, Any]) -> dict[str, Any]:
    return {"score": float(config["x"])}
