"""Ctrl-C in a terminal reaches every process of the command, the sweep's idle workers too:
the command still ends with one "Interrupted" line, no worker's traceback, and the run that
was interrupted runs again next time."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from .conftest import TRACKYARD, cli, env, sweep_args

INTERRUPTED = "Interrupted (Ctrl-C): a run in progress is recorded failed (interrupted)"


def _wait(what: str, ready: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_ctrl_c_while_a_worker_waits_for_work_prints_no_traceback(project: Path) -> None:
    """One worker has finished its config and waits in the pool's queue while the other
    still runs: Ctrl-C to the process group (what a terminal sends) ends the command with
    exit 130 and the interrupted line, and no worker prints a KeyboardInterrupt traceback."""
    (project / "pyproject.toml").write_text(
        '[tool.trackyard.domains.calibration]\nmodel = "store_models:records_pid"\n'
    )
    ws, pids = project / "ws", project / "pids"
    pids.mkdir()
    (pids / "block").write_text("")
    control = "untracked:" + str(pids)
    configs = {"fast": {"x": 1, "pids": control, "fast": True}, "slow": {"x": 2, "pids": control}}
    args = [*sweep_args(ws, configs, "processes"), "--set", "max_workers=2"]
    proc = subprocess.Popen(
        [str(TRACKYARD), *args], cwd=project, env=env(), start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait("both configs to start", lambda: len(list(pids.glob("[0-9]*"))) == 2, 120)
        time.sleep(1.5)  # the fast config's worker is back in the pool's queue, idle
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert "KeyboardInterrupt" not in err, err
    assert err.rstrip().splitlines()[-1].startswith(INTERRUPTED), err

    (pids / "block").unlink()
    again = cli(project, *args)
    assert again.returncode == 0, again.stderr
    assert '"status": "completed"' in again.stdout, again.stdout
