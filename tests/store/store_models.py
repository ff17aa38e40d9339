"""Models for the store tests (a real module, so consist can identify their code)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import consist


def calib(config: dict[str, Any]) -> dict[str, Any]:
    """A calibration model: three small output files and an ``rmse`` metric; sleeps
    ``config["sleep"]`` seconds first (0 by default)."""
    time.sleep(float(config.get("sleep", 0)))
    out: dict[str, Any] = {}
    for key in ("persons", "trips", "metrics"):
        path = Path(consist.output_path(key, "txt"))
        path.write_text(repr(sorted(config.items())))
        out[key] = path
    out["rmse"] = float(config.get("x", 0))
    return out


HOLD = (
    "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
    "open(sys.argv[3], 'w').write('held'); time.sleep(float(sys.argv[2]))"
)


def holds_store(config: dict[str, Any]) -> dict[str, Any]:
    """Start a process that holds the MAIN store (``config["db"]``) for ``config["hold"]``
    seconds, wait until it holds it, then finish like :func:`calib`."""
    db = config["db"].removeprefix("untracked:")  # "untracked:<path>": not an input of the model
    flag = Path(db).with_name("held.flag")
    subprocess.Popen(
        [sys.executable, "-c", HOLD, db, str(config["hold"]), str(flag)],
        start_new_session=True,
    )
    while not flag.exists():
        time.sleep(0.05)
    return calib({k: v for k, v in config.items() if k not in ("db", "hold")})


def records_pid(config: dict[str, Any]) -> dict[str, Any]:
    """Write this worker's pid to ``config["pids"]/<pid>``; unless ``config["fast"]``, wait
    while the file ``config["pids"]/block`` exists; then finish like :func:`calib`."""
    # "untracked:<folder>": a config string naming an existing folder would be refused as an
    # undeclared input, and this folder is the test's control channel, not the model's input.
    pids = Path(config["pids"].removeprefix("untracked:"))
    Path(pids, str(os.getpid())).write_text("")
    while not config.get("fast") and Path(pids, "block").exists():
        time.sleep(0.1)
    return calib(config)


def fill(config: dict[str, Any]) -> dict[str, Any]:
    """A calibration model whose ``persons`` output is ``config["size"]`` bytes."""
    out: dict[str, Any] = {}
    for key in ("persons", "trips", "metrics"):
        path = Path(consist.output_path(key, "txt"))
        path.write_text("x" * int(config["size"]) if key == "persons" else "small")
        out[key] = path
    out["rmse"] = 1.0
    return out


def waits(config: dict[str, Any]) -> dict[str, Any]:
    """Write ``config["ctl"]/started-<x>`` (holding this process's pid), wait while the file
    ``config["ctl"]/block`` exists, then finish like :func:`calib`."""
    ctl = Path(config["ctl"].removeprefix("untracked:"))  # the test's control folder, not an input
    Path(ctl, f"started-{config['x']}").write_text(str(os.getpid()))
    while Path(ctl, "block").exists():
        time.sleep(0.1)
    return calib(config)


def queries_while_running(config: dict[str, Any]) -> dict[str, Any]:
    """A model that asks consist about earlier runs, without a pause, for ``config["sleep"]``
    seconds (a model reading its own history): consist has a store connection checked out
    for most of its run, including when the store is released after the first 0.2 s."""
    end = time.monotonic() + float(config.get("sleep", 0))
    while time.monotonic() < end:
        consist.find_runs(limit=1)
    out = calib({k: v for k, v in config.items() if k != "sleep"})
    results = Path(consist.output_path("results", "txt"))  # the simulation domain's output
    results.write_text(repr(sorted(config.items())))
    return {**out, "results": results}
