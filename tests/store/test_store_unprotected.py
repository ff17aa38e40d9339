"""Rows without a snapshot are seen, protected while the store is readable, and never lost
without a word: `doctor` reports them, `doctor --fix` re-creates their snapshots, and a
rebuild that cannot bring a run back lists it and exits non-zero."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import cli, content_rows, db_runs, sweep_args

HEADER = 3 * 4096


@pytest.fixture(autouse=True)
def _long_lock_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long lock budget: an error mistaken for a lock would make the test wait 10 minutes."""
    monkeypatch.setenv("TRACKYARD_LOCK_TIMEOUT", "600")


def _swept(project: Path, n: int = 10) -> tuple[Path, dict[str, str]]:
    ws = project / "ws"
    swept = cli(project, *sweep_args(ws, {f"c{i}": {"x": i} for i in range(n)}))
    assert swept.returncode == 0, swept.stderr
    return ws, db_runs(ws / "provenance.duckdb")


def _delete_snapshots(ws: Path, run_ids: list[str]) -> None:
    for run_id in run_ids:
        (ws / "runs" / "consist_runs" / f"{run_id}.json").unlink()


def _doctor(project: Path, ws: Path, *fix: str) -> tuple[bool, dict[str, str]]:
    """`trackyard doctor --store-only [--fix]`: whether its workspace report is ok (the exit
    code says the same), and that report's checks."""
    done = cli(project, "doctor", "--store-only", *fix, "--workspace", str(ws), "--json")
    (store,) = [r for r in json.loads(done.stdout) if r["domain"] != "calibration"]
    checks = {c["name"]: f"{c['status']}: {c['detail']}" for c in store["checks"]}
    assert done.returncode == (0 if store["ok"] and "FAIL" not in done.stdout else 1)
    return bool(store["ok"]), checks


def test_rows_without_snapshots_are_reported_then_protected(project: Path) -> None:
    """`doctor` fails naming each run whose snapshot was deleted; `doctor --fix` re-creates
    them from the DB, so that a store damaged afterwards is rebuilt with every run, their
    artifact content rows exactly (id and created_at included)."""
    ws, before = _swept(project)
    contents = content_rows(ws / "provenance.duckdb")
    gone = sorted(before)[:3]
    _delete_snapshots(ws, gone)

    ok, checks = _doctor(project, ws)
    assert not ok
    for run_id in gone:
        assert f"run {run_id}: DB row has no snapshot (unprotected" in checks["store audit"]

    ok, checks = _doctor(project, ws, "--fix")
    assert ok, checks
    for run_id in gone:
        assert f"re-created the snapshot of {run_id} from its DB row" in checks["reconcile"]
        assert (ws / "runs" / "consist_runs" / f"{run_id}.json").is_file()
    assert checks["store audit"].startswith("ok: audit: snapshots and DB agree")

    db = ws / "provenance.duckdb"
    data = bytearray(db.read_bytes())
    data[HEADER:] = os.urandom(len(data) - HEADER)
    db.write_bytes(bytes(data))
    ok, checks = _doctor(project, ws, "--fix")
    assert ok, checks
    assert db_runs(db) == before
    assert content_rows(db) == contents


def test_a_rebuild_that_cannot_restore_runs_lists_them_and_fails(project: Path) -> None:
    """Snapshots deleted, then the store damaged past reading: `doctor --fix` rebuilds what
    the snapshots hold, names the runs it lost (known from their output folders), gives the
    counts, and exits 1 instead of reporting success."""
    ws, before = _swept(project)
    gone = sorted(before)[:3]
    _delete_snapshots(ws, gone)
    db = ws / "provenance.duckdb"
    data = bytearray(db.read_bytes())
    data[:] = os.urandom(len(data))
    db.write_bytes(bytes(data))

    ok, checks = _doctor(project, ws, "--fix")
    assert not ok
    reconcile = checks["reconcile"]
    assert reconcile.startswith(
        f"FAIL: reconcile (runs in the store: unreadable before, {len(before) - 3} after):"
    ), reconcile
    assert (
        f"3 run(s) the damaged store held could not be restored (no snapshot, and their rows "
        f"were unreadable): {', '.join(gone)}; the damaged file is kept beside the store"
    ) in reconcile
    assert set(db_runs(db)) == set(before) - set(gone)
    assert list(ws.glob("provenance.duckdb.damaged-*"))
