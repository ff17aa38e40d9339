"""Several processes on one workspace: nobody aborts, nothing reported is missing, no orphans."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

import trackyard
from trackyard._store import pid_alive

from .conftest import db_runs, snapshot_runs, start, sweep_args


def _reported(value: Any) -> Iterator[dict[str, Any]]:
    """Every outcome (a dict with a run_id) in a verb's JSON result."""
    if isinstance(value, dict):
        if "run_id" in value:
            yield value
        for item in value.values():
            yield from _reported(item)
    elif isinstance(value, list):
        for item in value:
            yield from _reported(item)


def _output_paths(db: Path, run_dir: Path) -> dict[str, list[Path]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT l.run_id, a.container_uri FROM run_artifact_link l JOIN artifact a "
            "ON a.id = l.artifact_id JOIN run r ON r.id = l.run_id "
            "WHERE l.direction = 'output' AND r.status = 'completed'"
        ).fetchall()
    out: dict[str, list[Path]] = {}
    for run_id, uri in rows:
        out.setdefault(str(run_id), []).append(run_dir / str(uri).removeprefix("./"))
    return out


def test_four_processes_mixing_sweeps_and_evaluates(project: Path) -> None:
    """Four CLI processes (serial and processes sweeps, an evaluate) with shared configs all
    exit 0; every reported run is in the store once, snapshots equal rows, outputs exist."""
    ws = project / "ws"
    shared = {"a": {"x": 1}, "b": {"x": 2}, "c": {"x": 3}}
    commands = [
        sweep_args(ws, shared),
        sweep_args(ws, shared),
        [*sweep_args(ws, {"c": {"x": 3}, "d": {"x": 4}}, "processes"), "--set", "max_workers=2"],
        ["run", "calibration", "evaluate", "-w", str(ws), "--json",
         "--set", "run_name=e", "--set", 'config={"x": 1}'],
    ]  # fmt: skip
    for round_ in range(2):
        procs = [start(project, *args) for args in commands]
        results = [p.communicate(timeout=600) for p in procs]
        for proc, (_out, err) in zip(procs, results, strict=True):
            assert proc.returncode == 0, f"round {round_}: {err}"
        reported = [o for out, _ in results for o in _reported(json.loads(out))]
        stored = db_runs(ws / "provenance.duckdb")
        assert {o["run_id"] for o in reported} <= set(stored)
        assert all(o["status"] == "completed" for o in reported)
    with duckdb.connect(str(ws / "provenance.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) = count(DISTINCT id) FROM run").fetchone() == (True,)
    assert snapshot_runs(ws / "runs") == stored
    assert "running" not in stored.values()
    outputs = _output_paths(ws / "provenance.duckdb", ws / "runs")
    assert all(p.is_file() for paths in outputs.values() for p in paths)
    assert not (ws / "shards").exists() or not any((ws / "shards").glob("*/*/*.duckdb"))


def test_kill_9_of_a_processes_sweep_driver_leaves_no_orphans(project: Path) -> None:
    """After kill -9 of a processes sweep's driver its workers exit; doctor --fix leaves
    nothing running, and the re-run reuses the finished config and runs the others."""
    (project / "pyproject.toml").write_text(
        '[tool.trackyard.domains.calibration]\nmodel = "store_models:records_pid"\n'
    )
    ws, pids = project / "ws", project / "pids"
    pids.mkdir()
    (pids / "block").write_text("")
    configs = {
        "fast": {"x": 0, "fast": True, "pids": f"untracked:{pids}"},
        "slow1": {"x": 1, "pids": f"untracked:{pids}"},
        "slow2": {"x": 2, "pids": f"untracked:{pids}"},
    }
    args = [*sweep_args(ws, configs, "processes"), "--set", "max_workers=2"]
    driver = start(project, *args)
    deadline = time.monotonic() + 300
    while len([p for p in pids.iterdir() if p.name != "block"]) < 2 or not _finished(ws, "fast"):
        assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()
        time.sleep(0.2)
    workers = [int(p.name) for p in pids.iterdir() if p.name.isdigit()]
    os.kill(driver.pid, signal.SIGKILL)
    driver.communicate()
    deadline = time.monotonic() + 15
    while any(pid_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pid for pid in workers if pid_alive(pid)] == []
    trackyard.reconcile(ws)
    assert "running" not in db_runs(ws / "provenance.duckdb").values()
    assert "running" not in snapshot_runs(ws / "runs").values()
    (pids / "block").unlink()
    rerun = start(project, *args)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    outcomes = json.loads(out)["outcomes"]
    assert {k: v["cache_hit"] for k, v in outcomes.items()} == {
        "fast": True,
        "slow1": False,
        "slow2": False,
    }


def _finished(ws: Path, label: str) -> bool:
    db = ws / "provenance.duckdb"
    if not db.exists():
        return False
    try:
        with duckdb.connect(str(db), read_only=True) as con:
            rows = con.execute(
                "SELECT count(*) FROM run WHERE status = 'completed' "
                "AND json_extract_string(meta, '$.trackyard.run_name') = ?",
                [f"sweep_{label}"],
            ).fetchone()
    except duckdb.Error:
        return False
    return bool(rows and rows[0])


@pytest.mark.parametrize("killed", ["serial sweep", "worker"])
def test_kill_9_then_rerun_reuses_finished_configs(project: Path, killed: str) -> None:
    """After kill -9 of a serial sweep or of one worker of a processes sweep, doctor --fix
    leaves nothing running and the re-run reuses the finished config and runs the others."""
    (project / "pyproject.toml").write_text(
        '[tool.trackyard.domains.calibration]\nmodel = "store_models:records_pid"\n'
    )
    ws, pids = project / "ws", project / "pids"
    pids.mkdir()
    (pids / "block").write_text("")
    configs = {
        "fast": {"x": 0, "fast": True, "pids": f"untracked:{pids}"},
        "slow1": {"x": 1, "pids": f"untracked:{pids}"},
        "slow2": {"x": 2, "pids": f"untracked:{pids}"},
    }
    executor = "serial" if killed == "serial sweep" else "processes"
    args = [*sweep_args(ws, configs, executor), "--set", "max_workers=2"]
    if executor == "serial":
        args = args[:-2]
    driver = start(project, *args)
    deadline = time.monotonic() + 300
    while not (_finished(ws, "fast") and any(p.name.isdigit() for p in pids.iterdir())):
        assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()
        time.sleep(0.2)
    workers = sorted(int(p.name) for p in pids.iterdir() if p.name.isdigit())
    if killed == "worker":
        os.kill(next(w for w in workers if w != driver.pid), signal.SIGKILL)
        (pids / "block").unlink()
        driver.communicate(timeout=600)
    else:
        os.kill(driver.pid, signal.SIGKILL)
        driver.communicate(timeout=60)
        (pids / "block").unlink()
    trackyard.reconcile(ws)
    assert "running" not in db_runs(ws / "provenance.duckdb").values()
    assert "running" not in snapshot_runs(ws / "runs").values()
    rerun = start(project, *args)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    outcomes = json.loads(out)["outcomes"]
    assert outcomes["fast"]["cache_hit"] is True
    assert set(outcomes) == {"fast", "slow1", "slow2"}
    assert trackyard.audit(ws).ok
