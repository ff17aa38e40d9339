"""Damaged, truncated, deleted and relocated stores: a typed error at once, then repair."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import trackyard
from trackyard.errors import StoreCorruptError, StoreUnavailableError

from . import store_models
from .conftest import cli, db_runs, env, snapshot_runs

HEADER = 3 * 4096


def _with_runs(ws: Path, n: int, **where: Path) -> set[str]:
    t = trackyard.get_tracker("calibration", workspace=ws, model=store_models.calib, **where)
    return {t.evaluate(run_name=f"r{i}", config={"x": i}).run_id for i in range(n)}


def _hint(message: str) -> list[str]:
    """The command an error message tells the user to run, as argv."""
    found = re.search(r"run `(.+)`", message)
    assert found, message
    return shlex.split(found.group(1))


def _run_hint(message: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = _hint(message)
    if argv[0] == "python":
        argv[0] = sys.executable
    elif argv[0] == "trackyard":
        argv[0] = str(Path(sys.executable).parent / "trackyard")
    return subprocess.run(argv, cwd=cwd, env=env(), capture_output=True, text=True, check=False)


def _aside(db: Path) -> list[Path]:
    return sorted(db.parent.glob(f"{db.name}.damaged-*"))


@pytest.fixture(autouse=True)
def _long_lock_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long lock budget: an error mistaken for a lock would make the test wait 10 minutes."""
    monkeypatch.setenv("TRACKYARD_LOCK_TIMEOUT", "600")


def test_garbage_in_data_blocks_is_corruption_not_a_lock(tmp_path: Path) -> None:
    """Garbage in the data blocks raises StoreCorruptError naming the file and the repair
    command at once (no lock wait); the command it names restores every run."""
    ws = tmp_path / "ws"
    ids = _with_runs(ws, 3)
    db = ws / "provenance.duckdb"
    data = bytearray(db.read_bytes())
    data[HEADER:] = os.urandom(len(data) - HEADER)
    db.write_bytes(bytes(data))
    with pytest.raises(StoreCorruptError) as caught:
        trackyard.get_tracker("calibration", workspace=ws, model=store_models.calib)
    message = str(caught.value)
    assert re.fullmatch(
        rf"opening: the store {re.escape(str(db))} is damaged \(Error: Corrupt database file: "
        r".*\); nothing was written to it\. Move it aside and rebuild it from the run "
        rf"snapshots: run `trackyard doctor --fix --workspace {re.escape(str(ws))}`",
        message,
    ), message
    assert caught.value.db_path == db
    fixed = _run_hint(message, tmp_path)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert set(db_runs(db)) == ids
    assert len(_aside(db)) == 1 and _aside(db)[0].read_bytes() == bytes(data)


def test_garbage_in_the_header_is_corruption(tmp_path: Path) -> None:
    """Garbage in the header raises StoreCorruptError; reconcile moves it aside and rebuilds."""
    ws = tmp_path / "ws"
    ids = _with_runs(ws, 2)
    db = ws / "provenance.duckdb"
    data = bytearray(db.read_bytes())
    data[100:4000] = os.urandom(3900)
    db.write_bytes(bytes(data))
    with pytest.raises(StoreCorruptError, match=r"is damaged \(Error: Corrupt database file"):
        trackyard.get_tracker("calibration", workspace=ws)
    report = trackyard.reconcile(ws)
    assert report.moved_aside == (str(_aside(db)[0]),)
    assert set(report.rows_restored) == ids
    assert set(db_runs(db)) == ids


@pytest.mark.parametrize("runs", [2, 3])
def test_doctor_fix_repairs_a_truncated_store(tmp_path: Path, runs: int) -> None:
    """`trackyard doctor --fix` on a truncated store restores every run and keeps the damaged
    file aside; the next command works."""
    ws = tmp_path / "ws"
    ids = _with_runs(ws, runs)
    db = ws / "provenance.duckdb"
    data = db.read_bytes()
    db.write_bytes(data[: len(data) - 1000])
    with pytest.raises(StoreCorruptError) as caught:
        trackyard.get_tracker("calibration", workspace=ws)
    assert str(caught.value) == (
        f"the store {db} is truncated ({len(data) - 1000} bytes is not a whole number of DuckDB "
        "blocks); move it aside and rebuild it from the run snapshots: run `trackyard doctor "
        f"--fix --workspace {ws}`"
    )
    done = cli(tmp_path, "doctor", "--store-only", "--fix", "--workspace", str(ws), "--json")
    assert '"name": "reconcile",\n        "status": "ok"' in done.stdout, done.stdout
    assert '"name": "store audit",\n        "status": "ok"' in done.stdout, done.stdout
    assert set(db_runs(db)) == ids
    assert _aside(db)[0].read_bytes() == data[: len(data) - 1000]
    t = trackyard.get_tracker("calibration", workspace=ws, model=store_models.calib)
    assert t.evaluate(run_name="r0", config={"x": 0}).cache_hit


def test_deleted_store_is_refused_whatever_marker_files_exist(tmp_path: Path) -> None:
    """With the DB and its marker deleted but snapshots kept, every command refuses with the
    repair command instead of starting an empty store; that command restores every run."""
    ws = tmp_path / "ws"
    ids = _with_runs(ws, 2)
    db = ws / "provenance.duckdb"
    for path in ws.glob("provenance.duckdb*"):
        path.unlink()
    with pytest.raises(StoreUnavailableError) as caught:
        trackyard.get_tracker("calibration", workspace=ws)
    assert str(caught.value) == (
        f"the store {db} is missing but 2 run snapshot(s) exist in {ws / 'runs' / 'consist_runs'}"
        "; it was not replaced by an empty one. Rebuild it from the snapshots: run `trackyard "
        f"doctor --fix --workspace {ws}`"
    )
    evaluate = cli(
        tmp_path, "run", "calibration", "evaluate", "-w", str(ws),
        "--set", "run_name=new", "--set", 'config={"x": 5}',
    )  # fmt: skip
    assert evaluate.returncode == 1 and "is missing but 2 run snapshot(s)" in evaluate.stderr
    assert not db.exists()
    assert set(trackyard.reconcile(ws).rows_restored) == ids
    assert set(db_runs(db)) == ids


def test_configured_locations_are_audited_and_repaired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With db_path and run_dir set by environment, audit passes on the healthy store, repair
    of a damaged one uses them (no second store in the workspace) via the command the error
    names."""
    ws, db, runs = tmp_path / "ws", tmp_path / "elsewhere" / "store.duckdb", tmp_path / "out"
    monkeypatch.setenv("TRACKYARD_DB_PATH", str(db))
    monkeypatch.setenv("TRACKYARD_RUN_DIR", str(runs))
    ids = _with_runs(ws, 2)
    assert trackyard.audit(ws).ok
    assert set(snapshot_runs(runs)) == ids
    db.write_bytes(db.read_bytes()[:-1000])
    with pytest.raises(StoreCorruptError) as caught:
        trackyard.get_tracker("calibration", workspace=ws)
    assert _hint(str(caught.value)) == [
        "python",
        "-c",
        f"import trackyard; print(trackyard.reconcile(db_path='{db}', run_dir='{runs}'))",
    ]
    fixed = _run_hint(str(caught.value), tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert set(db_runs(db)) == ids
    assert not (ws / "provenance.duckdb").exists()
    assert trackyard.audit(ws).ok
