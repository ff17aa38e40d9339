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


def peek(config: dict[str, Any]) -> dict[str, Any]:
    """``model``, first waiting (up to 20 s) until the workspace's one sweep record
    (``config["inflight"]``, ``"untracked:<folder>"``) counts ``config["seen"]`` configs
    finished and one running, then appending that record to ``config["log"]`` as one JSON line."""
    folder = Path(config["inflight"].removeprefix("untracked:"))
    deadline = time.monotonic() + 20
    record: dict[str, Any] = {}
    while time.monotonic() < deadline:
        records = [json.loads(p.read_text()) for p in folder.glob("[!.]*.json")]
        record = records[0] if len(records) == 1 else {"records": records}
        finished = record.get("done", -1) + record.get("failed", 0)
        if finished >= int(config["seen"]) and record.get("running", 0) >= 1:
            break
        time.sleep(0.05)
    with open(config["log"].removeprefix("untracked:"), "a", encoding="utf-8") as handle:
        handle.write(json.dumps({**record, "item": config["label"]}) + "\n")
    return model({k: v for k, v in config.items() if k in ("coeff", "label")})


def gated(config: dict[str, Any]) -> dict[str, Any]:
    """Write ``config["ctl"]/started-<x>`` (this process's pid), wait while
    ``config["ctl"]/hold-<x>`` exists, then finish like ``model``."""
    import os

    ctl = Path(config["ctl"].removeprefix("untracked:"))  # the test's control folder
    Path(ctl, f"started-{config['x']}").write_text(str(os.getpid()))
    while Path(ctl, f"hold-{config['x']}").exists():
        time.sleep(0.05)
    return model({"coeff": 0.1 + 0.1 * int(config["x"]), "label": f"c{config['x']}"})


# Calibration configs of ``model`` the ranking tests sweep (``bad`` fails: a negative coeff).
CONFIGS: dict[str, dict[str, Any]] = {
    "low": {"coeff": 0.2, "label": "low"},
    "mid": {"coeff": 0.45, "label": "mid"},
    "bad": {"coeff": -1.0, "label": "bad"},
    "high": {"coeff": 0.9, "label": "high"},
    "top": {"coeff": 0.5, "label": "top"},
}
