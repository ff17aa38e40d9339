"""Fast models for the live-view tests (a real module, so consist can identify their code)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import consist
import pandas as pd


def calibration_model(config: dict[str, Any], config_dir: Path) -> dict[str, Any]:
    """A quadratic bowl in ``a`` and ``b``; a negative ``b`` raises with a hostile message."""
    a, b = float(config["a"]), float(config["b"])
    if b < 0:
        raise ValueError(f"<script>alert('error')</script> b must not be negative, got {b}")
    frame = pd.DataFrame({"a": [a], "b": [b]})
    metrics = Path(consist.output_path("metrics", "json"))
    metrics.write_text(json.dumps({"a": a}), encoding="utf-8")
    return {"persons": frame, "trips": frame, "metrics": metrics, "error": (a - 0.3) ** 2 + b}


def gated(config: dict[str, Any], config_dir: Path) -> dict[str, Any]:
    """``calibration_model`` at ``a = x / 10``, once the file ``config["ctl"]/hold-<x>`` is
    gone (``config["ctl"]`` is ``"untracked:<folder>"``, the test's control channel); raises
    when ``config["fail"]``. Writes ``started-<x>`` there first."""
    ctl = Path(config["ctl"].removeprefix("untracked:"))
    x = int(config["x"])
    Path(ctl, f"started-{x}").write_text("")
    while Path(ctl, f"hold-{x}").exists():
        time.sleep(0.05)
    if config.get("fail"):
        raise ValueError(f"config {x} fails on purpose")
    return calibration_model({"a": x / 10, "b": 0.0}, config_dir)
