"""Runs in flight are left alone by `doctor --fix`, and nothing stays `running` once they end
(a serial run, a Dask sweep whose client disappears)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import trackyard
from trackyard import _shards
from trackyard._layout import DRIVER_FILE

from .conftest import cli, db_runs, env, snapshot_runs

pytest.importorskip("distributed")

CLUSTER = """
import sys, distributed
if __name__ == "__main__":
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=None) as cluster:
        print(cluster.scheduler_address, flush=True)
        sys.stdin.readline()
"""

DRIVER = """
import json, sys, distributed, trackyard
client = distributed.Client(sys.argv[1])
t = trackyard.get_tracker("calibration", workspace=sys.argv[2])
configs = {f"c{i}": {"x": i, "ctl": "untracked:" + sys.argv[3]} for i in range(6)}
t.sweep(configs, executor=client, progress=False)
"""


def _wait(what: str, ready: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture
def cluster(project: Path) -> Iterator[str]:
    """A Dask LocalCluster (scheduler, one worker process of two threads) in its own process,
    with the test models importable; its scheduler address."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CLUSTER],
        cwd=project, env=env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()
        assert address.startswith("tcp://"), address
        yield address
    finally:
        try:
            proc.communicate("stop\n", timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def _started(ctl: Path) -> dict[str, int]:
    """The configs the model started, and the pid of the process running each."""
    return {
        p.name.removeprefix("started-"): int(p.read_text() or 0)
        for p in ctl.glob("started-*")
        if p.read_text()
    }


def test_dask_sweep_whose_client_is_killed_leaves_nothing_running(
    project: Path, cluster: str
) -> None:
    """After kill -9 of a Dask sweep's driver, queued configs never start, `doctor --fix`
    leaves the runs still in flight (and their shards) alone, and once they end it merges
    them: nothing is `running` in the store or the snapshots."""
    (project / "pyproject.toml").write_text(
        '[tool.trackyard.domains.calibration]\nmodel = "store_models:waits"\n'
    )
    ws, ctl = project / "ws", project / "ctl"
    ctl.mkdir()
    (ctl / "block").write_text("")
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, cluster, str(ws), str(ctl)],
        cwd=project, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    _wait("two configs in flight on the worker", lambda: len(_started(ctl)) == 2, 120)
    in_flight = _started(ctl)
    os.kill(driver.pid, signal.SIGKILL)
    driver.communicate(timeout=60)
    time.sleep(3)  # a queued config would start now
    assert _started(ctl) == in_flight
    running = {r for r, status in snapshot_runs(ws / "runs").items() if status == "running"}
    assert len(running) == 2
    shards = [p for p in ws.glob("shards/*/*/*.duckdb") if p.name != "template.duckdb"]
    assert len(shards) == 2

    fixed = cli(project, "doctor", "--store-only", "--fix", "--workspace", str(ws), "--json")
    assert '"name": "reconcile",\n        "status": "ok"' in fixed.stdout, fixed.stdout
    assert "left alone, still running in its process" in fixed.stdout, fixed.stdout
    assert all(p.is_file() for p in shards)  # the workers still write them
    assert {r for r, s in snapshot_runs(ws / "runs").items() if s == "running"} == running
    assert "running" not in db_runs(ws / "provenance.duckdb").values()

    (ctl / "block").unlink()
    _wait(
        "the runs in flight to end",
        lambda: "running" not in snapshot_runs(ws / "runs").values(),
        60,
    )
    _wait("their shards to be released", lambda: all(
        _shards.done_marker(p).exists() for p in shards), 30)  # fmt: skip
    fixed = cli(project, "doctor", "--store-only", "--fix", "--workspace", str(ws), "--json")
    assert '"name": "reconcile",\n        "status": "ok"' in fixed.stdout, fixed.stdout
    assert '"name": "store audit",\n        "status": "ok"' in fixed.stdout, fixed.stdout
    stored = db_runs(ws / "provenance.duckdb")
    assert stored == snapshot_runs(ws / "runs") == {r: "completed" for r in running}
    assert not list(ws.glob("shards/*/*/*.duckdb*"))  # merged, then removed
    assert trackyard.audit(ws).ok


def test_a_task_of_a_sweep_whose_driver_is_gone_does_not_run(project: Path) -> None:
    """A worker given a task of a sweep whose driver process is gone (a Dask worker holding a
    vanished client's queued configs) does not run it and records nothing."""
    ws = project / "ws"
    sweep = ws / "shards" / "20260101T000000-deadbeef"
    sweep.mkdir(parents=True)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (sweep / DRIVER_FILE).write_text(f"{socket.gethostname()} {gone.pid}\n")
    task = _shards.Task(
        build=trackyard.get_tracker,
        domain="calibration",
        options={"workspace": ws, "run_dir": ws / "runs", "cache_epoch": 1},
        fn="store_models:calib",
        name="late",
        config={"x": 1},
        inputs=None,
        fingerprint=trackyard.plugin_set_fingerprint(),
        sweep_dir=str(sweep),
        executor="dask",
    )
    done = _shards.execute(task)
    assert done.outcome is None
    assert done.error == (
        f"not run: the driver of sweep 20260101T000000-deadbeef (pid {gone.pid}) is gone"
    )
    assert not (ws / "runs").exists()
    assert [p.name for p in sweep.iterdir()] == [DRIVER_FILE]


def test_doctor_fix_leaves_a_run_in_flight_alone(project: Path) -> None:
    """While a run is still in its model, `doctor --fix` in another process leaves it
    `running` (not marked interrupted), and the run then completes and is stored."""
    (project / "pyproject.toml").write_text(
        '[tool.trackyard.domains.calibration]\nmodel = "store_models:waits"\n'
    )
    ws, ctl = project / "ws", project / "ctl"
    ctl.mkdir()
    (ctl / "block").write_text("")
    config = f'config={{"x": 1, "ctl": "untracked:{ctl}"}}'
    run = subprocess.Popen(
        [str(Path(sys.executable).parent / "trackyard"), "run", "calibration", "evaluate",
         "-w", str(ws), "--set", "run_name=long", "--set", config],
        cwd=project, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    _wait("the run to be in its model", lambda: "1" in _started(ctl), 120)
    (run_id,) = snapshot_runs(ws / "runs")
    fixed = cli(project, "doctor", "--store-only", "--fix", "--workspace", str(ws), "--json")
    assert '"name": "reconcile",\n        "status": "ok"' in fixed.stdout, fixed.stdout
    assert snapshot_runs(ws / "runs") == {run_id: "running"}
    (ctl / "block").unlink()
    _, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    assert snapshot_runs(ws / "runs") == db_runs(ws / "provenance.duckdb") == {run_id: "completed"}
    assert trackyard.audit(ws).ok
