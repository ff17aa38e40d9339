"""Ctrl-C at random moments of ``trackyard run`` (serial, and a sweep on worker processes):
every command ends in a documented state and never exits 0 with its run half-recorded.

Documented states (docs/trust.md, "Crashes and interruptions"):

* exit 130, one "Interrupted (Ctrl-C)" line, no traceback; the run is absent (interrupted
  before it started), ``failed`` (interrupted), ``running`` with its process gone (stale:
  reconcile marks it failed), or ``completed`` (the interrupt came after it was recorded);
* exit 0: the command finished before the interrupt; its run is completed.

Afterwards the same calls, uninterrupted, re-execute every run that did not complete and
serve every completed one from cache (its outputs intact).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import trackyard
import trackyard.report

from .._console import PLAIN_TERMINAL, user_env

DRIVER = Path(__file__).with_name("ctrl_c_driver.py")
TRIALS = int(os.environ.get("TRACKYARD_CTRL_C_TRIALS", "30"))
BUDGET = float(os.environ.get("TRACKYARD_CTRL_C_SECONDS", "30"))  # per executor
LEAST = 6
INTERRUPTED = "Interrupted (Ctrl-C): a run in progress is recorded failed (interrupted)"


def _trials(workspace: Path, executor: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, str(DRIVER), str(workspace), executor, str(TRIALS), executor,
         str(BUDGET), str(LEAST)],
        env=user_env(PLAIN_TERMINAL), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def _statuses(workspace: Path) -> dict[str, str]:
    """Each run name's latest status after reconcile (stale 'running' runs marked failed)."""
    trackyard.reconcile(workspace)
    cal = trackyard.get_tracker("calibration", workspace=workspace)
    with cal:
        return {r.name: r.status for r in trackyard.report.run_records(cal) if r.name}


def _check_trial(trial: dict[str, Any]) -> None:
    where = f"trial {trial['trial']} (SIGINT after {trial['delay']} s)"
    assert trial["code"] in (0, 130), f"{where}: exit {trial['code']}\n{trial['stderr']}"
    assert "Traceback" not in trial["stderr"], f"{where}:\n{trial['stderr']}"
    assert "Exception ignored" not in trial["stderr"], f"{where}:\n{trial['stderr']}"
    if trial["code"] == 130:
        assert trial["stderr"].rstrip().splitlines()[-1].startswith(INTERRUPTED), where
    else:
        assert "completed" in trial["stdout"], f"{where}: exit 0 without a completed run"


@pytest.mark.parametrize("executor", ["serial", "processes"])
def test_ctrl_c_at_any_moment_ends_in_a_documented_state(tmp_path: Path, executor: str) -> None:
    workspace = tmp_path / "ws"
    trials = _trials(workspace, executor)
    assert len(trials) > LEAST
    for trial in trials:
        _check_trial(trial)
    before = _statuses(workspace)
    assert set(before.values()) <= {"completed", "failed"}, before
    cal = trackyard.get_tracker("calibration", workspace=workspace)
    with cal:
        for trial in trials:
            n = trial["trial"]
            config = {"a": 0.1 + n / 1000, "b": 0.2, "c": 0.3, "sleep": 0.0}
            configs = {f"t{n}": {**config, "sleep": 0.3}}
            if executor == "processes":
                configs[f"u{n}"] = {**config, "b": 0.25, "sleep": 0.3}
            for label, cfg in configs.items():
                name = label if executor == "serial" else f"sweep_{label}"
                again = (
                    cal.evaluate(run_name=name, config=cfg)
                    if executor == "serial"
                    else cal.sweep(configs_by_label={label: cfg}, progress=False).outcomes[label]
                )
                assert again.status == "completed"
                was = before.get(name)
                assert again.cache_hit == (was == "completed"), (name, was, again.cache_hit)


POOL_CLOSE = """
import sqlalchemy, sys
import trackyard
trackyard.get_tracker("calibration", workspace=sys.argv[1])  # trackyard's consist set-up
class Connection:  # a DB-API connection whose close is interrupted (Ctrl-C) or fails
    def close(self):
        raise KeyboardInterrupt if sys.argv[2] == "ctrl-c" else RuntimeError("disk gone")
    def rollback(self):
        pass
pool = sqlalchemy.pool.QueuePool(Connection)
pool.connect().close()  # one idle connection in the pool
try:
    pool.dispose()
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


@pytest.mark.parametrize("how", ["ctrl-c", "error"])
def test_ctrl_c_while_the_store_pool_closes_a_connection_prints_no_traceback(
    tmp_path: Path, how: str
) -> None:
    """SQLAlchemy (under consist) logs a traceback when closing a pooled connection raises,
    then re-raises a Ctrl-C: with no logging configured, trackyard keeps that traceback off
    the terminal (the CLI prints its one "Interrupted" line), while a real error closing a
    connection is still shown."""
    done = subprocess.run(
        [sys.executable, "-c", POOL_CLOSE, str(tmp_path / "ws"), how],
        env=user_env(PLAIN_TERMINAL), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    if how == "ctrl-c":
        assert done.stdout == "interrupted\n"
        assert done.stderr == ""
    else:
        assert "Exception closing connection" in done.stderr
        assert "RuntimeError: disk gone" in done.stderr
