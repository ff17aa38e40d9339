"""Locked, damaged, deleted and shared stores: errors are loud and nothing recorded is lost."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

import trackyard
from trackyard.errors import StoreUnavailableError

from . import trust_models

HERE = Path(__file__).parent


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_")}
    env["PYTHONPATH"] = str(HERE)
    env.update(extra)
    return env


def _with_runs(ws: Path, n: int = 2) -> trackyard.DomainTracker:
    t = trackyard.get_tracker("simulation", workspace=ws, model=trust_models.good)
    for i in range(n):
        t.run_model(name=f"r{i}", config={"x": i})
    return t


def test_locked_store_raises_instead_of_losing_the_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another process holds the DB, a verb raises StoreUnavailableError and a query never
    answers []; afterwards reconcile restores the row from its snapshot."""
    monkeypatch.setenv("TRACKYARD_LOCK_TIMEOUT", "0.3")
    ws = tmp_path / "ws"
    t = _with_runs(ws, 1)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
            " sys.stdin.readline()",
            str(ws / "provenance.duckdb"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreUnavailableError, match=r"provenance\.duckdb"):
            t.run_model(name="while-locked", config={"x": 9})
        with pytest.raises(StoreUnavailableError, match=r"stayed locked .* TRACKYARD_LOCK_TIMEOUT"):
            t.top_k("score")
    finally:
        holder.communicate("done\n", timeout=30)
    report = trackyard.reconcile(ws)
    assert report.rows_restored or report.statuses_fixed
    assert trackyard.audit(ws).ok
    assert {r.name for r in t.top_k("score", k=10)} == {"r0", "while-locked"}


def test_a_dropped_connection_awaiting_garbage_collection_does_not_lock_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection to the store that the program dropped, but that a reference cycle keeps
    open until the garbage collector runs, does not make a ranking wait out the lock timeout."""
    monkeypatch.setenv("TRACKYARD_LOCK_TIMEOUT", "1")
    ws = tmp_path / "ws"
    t = _with_runs(ws, 2)
    gc.disable()  # as between two automatic collections
    try:
        dropped: dict[str, object] = {"con": duckdb.connect(str(ws / "provenance.duckdb"))}
        dropped["self"] = dropped
        del dropped
        ranked = t.top_k("score", k=5)
    finally:
        gc.enable()
    assert [(r.name, r.value) for r in ranked] == [("r0", 0.0), ("r1", 1.0)]


def test_a_connection_this_program_keeps_open_is_named_as_the_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the program itself keeps a differently configured connection to the store open,
    a ranking raises StoreUnavailableError saying that this process holds it."""
    monkeypatch.setenv("TRACKYARD_LOCK_TIMEOUT", "0.5")
    ws = tmp_path / "ws"
    t = _with_runs(ws, 1)
    db = ws / "provenance.duckdb"
    with duckdb.connect(str(db)), pytest.raises(StoreUnavailableError) as raised:
        t.top_k("score")
    assert str(raised.value) == (
        f"top_k('score'): the store {db} stayed locked by another connection of this process "
        "for 0.5 s (Connection Error: Can't open a connection to same database file with a "
        "different configuration than existing connections); it is locked, not damaged: retry when "
        "it is free, or raise "
        "TRACKYARD_LOCK_TIMEOUT"
    )
    assert [r.name for r in t.top_k("score")] == ["r0"]  # closed: free again


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_db_names_file_and_recovery(tmp_path: Path, damage: str) -> None:
    """A corrupt or truncated DB gives StoreUnavailableError naming it and the recovery command;
    rebuilding from the snapshots restores every run."""
    ws = tmp_path / "ws"
    _with_runs(ws).consist  # noqa: B018
    db = ws / "provenance.duckdb"
    data = db.read_bytes()
    db.write_bytes(os.urandom(len(data)) if damage == "garbage" else data[: len(data) // 2 + 100])
    with pytest.raises(
        StoreUnavailableError, match=r"provenance\.duckdb is (damaged|truncated).*doctor --fix"
    ):
        trackyard.get_tracker("simulation", workspace=ws)
    trackyard.recovery.rebuild(ws)
    assert trackyard.audit(ws).ok
    t = trackyard.get_tracker("simulation", workspace=ws, model=trust_models.good)
    assert [r.value for r in t.top_k("score", k=5)] == [0.0, 1.0]


def test_deleted_db_is_not_silently_recreated(tmp_path: Path) -> None:
    """A deleted DB with snapshots present is refused, then rebuilt from consist's snapshots."""
    ws = tmp_path / "ws"
    _with_runs(ws)
    (ws / "provenance.duckdb").unlink()
    with pytest.raises(StoreUnavailableError, match=r"missing but 2 run snapshot\(s\) exist"):
        trackyard.get_tracker("simulation", workspace=ws)
    assert not (ws / "provenance.duckdb").exists()
    report = trackyard.reconcile(ws)  # no DB: reconcile rebuilds
    assert len(report.rows_restored) == 2
    t = trackyard.get_tracker("simulation", workspace=ws, model=trust_models.good)
    assert [r.name for r in t.top_k("score")] == ["r0", "r1"]
    again = t.run_model(name="r0-again", config={"x": 0})
    assert again.cache_hit  # restored rows serve the cache as before
    assert trackyard.audit(ws).ok


def test_concurrent_processes_lose_nothing(tmp_path: Path) -> None:
    """Four processes running verbs on one workspace: every snapshot has its DB row and status."""
    body = textwrap.dedent(
        """
        import sys, trackyard, trust_models
        t = trackyard.get_tracker("simulation", workspace="ws", model=trust_models.good)
        for i in range(1):
            t.run_model(name=f"p{sys.argv[1]}-{i}", config={"x": int(sys.argv[1]) * 10 + i})
        """
    )
    (tmp_path / "w.py").write_text(body)
    _with_runs(tmp_path / "ws", 1)  # initialise the store once
    procs = [
        subprocess.Popen(
            [sys.executable, "w.py", str(n)], cwd=tmp_path, env=_env(), stderr=subprocess.PIPE
        )
        for n in range(4)
    ]
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err.decode()[-1500:]
    ws = tmp_path / "ws"
    snaps = [
        json.loads(p.read_text())["run"] for p in (ws / "runs" / "consist_runs").glob("*.json")
    ]
    assert len(snaps) == 5 and {s["status"] for s in snaps} == {"completed"}
    assert trackyard.audit(ws).ok


def test_lock_timeout_is_validated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A non-numeric TRACKYARD_LOCK_TIMEOUT is a ConfigValidationError naming the variable."""
    monkeypatch.setenv("TRACKYARD_LOCK_TIMEOUT", "soon")
    with pytest.raises(
        trackyard.errors.ConfigValidationError, match="TRACKYARD_LOCK_TIMEOUT='soon'"
    ):
        trackyard.get_tracker("simulation", workspace=tmp_path / "ws")
    time.sleep(0)
