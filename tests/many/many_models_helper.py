"""The one model of the many-run tests; importable by reference in worker processes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import consist


def model(config: dict[str, Any]) -> dict[str, Any]:
    """Write persons, trips and metrics files; fail for a negative ``coeff``.

    ``sleep`` slows a run down; ``log`` (``"untracked:<path>"``) names a file that gets one line
    per execution.
    """
    coeff = float(config["coeff"])
    if coeff < 0:
        raise ValueError(f"cannot run coeff={coeff}")
    time.sleep(float(config.get("sleep", 0)))
    error = (coeff - 0.5) ** 2
    outputs: dict[str, Any] = {}
    for key in ("persons", "trips"):
        outputs[key] = Path(consist.output_path(key, "csv"))
        outputs[key].write_text(f"{key},coeff\n1,{coeff}\n", encoding="utf-8")
    outputs["metrics"] = Path(consist.output_path("metrics", "json"))
    outputs["metrics"].write_text(json.dumps({"coeff": coeff, "error": error}), encoding="utf-8")
    if config.get("log"):
        # "untracked:<path>": a plain string naming an existing file would be refused as an
        # undeclared input; this log is written, never read, so it stays out of the key.
        with open(config["log"].removeprefix("untracked:"), "a", encoding="utf-8") as handle:
            handle.write(f"{config['label']}\n")
    return {**outputs, "mode_share_error": error}


def env_model(config: dict[str, Any]) -> dict[str, Any]:
    """``model``, with ``coeff`` scaled by the ``MANY_SCALE`` environment variable (what a
    model reading its environment sees)."""
    import os

    scale = float(os.environ["MANY_SCALE"])
    return model({**config, "coeff": float(config["coeff"]) * scale})
