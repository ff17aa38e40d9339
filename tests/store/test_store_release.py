"""The store is let go while a model runs, and never left locked behind the run's back.

A run keeps one connection to the store for consist's bookkeeping, and closes it once the
model has run 0.2 s, so that other processes get in during a long model. Closing it while the
model was itself using consist's connection orphaned that connection: it kept the DuckDB
file locked against every other process until this process's garbage collector found it
(about 30 s, a stall of every other writer, or a run failed on a lock).
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

import trackyard

from . import store_models
from .conftest import cli, db_runs, sweep_args

OPEN_READ_WRITE = "import duckdb, sys; duckdb.connect(sys.argv[1]).close(); print('opened')"


def _another_process_opens(db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", OPEN_READ_WRITE, str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("seconds", [0.1, 0.25, 0.5])
def test_a_model_using_consist_past_the_release_leaves_the_store_free(
    tmp_path: Path, seconds: float
) -> None:
    """A model that queries consist without a pause for ``seconds``: once its run has ended,
    another process opens the store at once, even before this process collects garbage."""
    ws = tmp_path / "ws"
    tracker = trackyard.get_tracker(
        "simulation", workspace=ws, model=store_models.queries_while_running
    )
    gc.disable()  # as between two automatic collections: an orphan would stay open
    try:
        outcome = tracker.run_model(name="history", config={"x": 1, "sleep": seconds})
        opened = _another_process_opens(ws / "provenance.duckdb")
    finally:
        gc.enable()
    assert outcome.status == "completed"
    assert opened.stdout.strip() == "opened", opened.stderr[-600:]


@pytest.mark.parametrize("executor", ["serial", "processes"])
def test_models_just_over_the_release_do_not_stall_a_sweep(project: Path, executor: str) -> None:
    """12 configs whose models run 0.19-0.26 s (around the 0.2 s release), with a lock budget
    of 5 s: every config completes and none waits out a lock (a connection left locked
    behind a run made the next writer wait until this process collected garbage, ~30 s).
    The time it takes is measured by bench/bench_release.py, not asserted here."""
    ws = project / "ws"
    configs = {f"c{i}": {"x": i, "sleep": round(0.19 + i * 0.0064, 4)} for i in range(12)}
    done = cli(
        project,
        *sweep_args(ws, configs, executor),
        *(["--set", "max_workers=2"] if executor == "processes" else []),
        TRACKYARD_LOCK_TIMEOUT="5",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert (result["ran"], result["failed"]) == (12, 0), result["failures"]
    assert sorted(db_runs(ws / "provenance.duckdb").values()) == ["completed"] * 12
