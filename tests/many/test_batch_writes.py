"""A run's store writes in a batch: fewer commits, the same rows, nothing reported lost on kill -9.

Each executed run commits the store twice (its start, before the model runs, and its end,
after), where consist alone commits four times (start, content row, artifacts and links, end):
each commit is a DuckDB write-ahead-log sync. Rows, statuses and snapshots stay as they were.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import event
from sqlalchemy.engine import Engine

import trackyard

HERE = Path(__file__).parent
MODEL = "many_models_helper:model"
OUTPUTS = {"persons", "trips", "metrics"}


def _tracker(workspace: Path) -> Any:
    return trackyard.get_tracker("calibration", workspace=workspace, model=MODEL)


def _links(db: Path) -> dict[str, tuple[str, set[str]]]:
    """Each run's status and the keys of the artifacts linked to it as outputs."""
    with duckdb.connect(str(db), read_only=True) as con:
        runs = dict(con.execute("SELECT id, status FROM run").fetchall())
        linked = con.execute(
            "SELECT l.run_id, a.key FROM run_artifact_link l "
            "JOIN artifact a ON a.id = l.artifact_id WHERE l.direction = 'output'"
        ).fetchall()
    out: dict[str, tuple[str, set[str]]] = {rid: (str(s), set()) for rid, s in runs.items()}
    for run_id, key in linked:
        out[run_id][1].add(str(key))
    return out


def test_a_run_in_a_batch_commits_its_start_and_its_end(models_on_path: Path) -> None:
    """A 5-config serial batch commits the store twice per executed run and keeps every row:
    each run completed with its three outputs linked and its metric; a failing model's run is
    recorded failed with its error; a rerun of the batch is served from the cache."""
    import many_models_helper

    cal = _tracker(models_on_path / "w")
    cal.evaluate(run_name="warm", config={"coeff": 0.9, "label": "warm"})
    commits: list[object] = []

    def count(connection: object) -> None:
        commits.append(connection)

    items = [(f"c{i}", {"coeff": i / 10, "label": f"c{i}"}) for i in range(5)]
    event.listen(Engine, "commit", count)
    try:
        result = cal.run_many(many_models_helper.model, items, progress=False)
        assert (result.ran, result.failed) == (5, 0), result.summary()
        assert len(commits) == 2 * 5  # consist alone: 4 per run
        failed = cal.run_many(
            many_models_helper.model, [("bad", {"coeff": -1.0, "label": "bad"})], progress=False
        )
    finally:
        event.remove(Engine, "commit", count)
    assert failed.failures["bad"] == "ValueError: cannot run coeff=-1.0"
    rows = _links(cal.settings.db_path)
    for outcome in result.outcomes.values():
        assert rows[outcome.run_id] == ("completed", OUTPUTS)
        assert outcome.metrics["mode_share_error"] == (float(outcome.config["coeff"]) - 0.5) ** 2
        assert all(path.is_file() for path in outcome.outputs.values())
    with duckdb.connect(str(cal.settings.db_path), read_only=True) as con:
        errors = con.execute(
            "SELECT json_extract_string(meta, '$.error') FROM run WHERE status = 'failed'"
        ).fetchall()
    assert errors == [("cannot run coeff=-1.0",)]
    again = cal.run_many(many_models_helper.model, items, progress=False)
    assert (again.ran, again.cached) == (0, 5)


DRIVER = """
import trackyard
from many_models_helper import model

if __name__ == "__main__":
    cal = trackyard.get_tracker("calibration", workspace="ws", model="many_models_helper:model")
    items = [(f"r{i}", {"coeff": i / 100, "label": f"r{i}"}) for i in range(%d)]
    cal.run_many(model, items, progress=False)
"""


def _reported_done(workspace: Path) -> int:
    """The configs the sweep's record in the workspace reports finished (0 before it has one)."""
    done = 0
    for path in (workspace / "inflight").glob("[!.]*.json"):
        try:
            done = max(done, int(json.loads(path.read_text(encoding="utf-8"))["done"]))
        except (OSError, ValueError, KeyError):
            continue
    return done


def test_kill_9_mid_batch_loses_no_run_reported_stored(models_on_path: Path) -> None:
    """A serial batch killed by kill -9 after its record reported runs done: at least that
    many runs are stored completed, each with its three outputs linked, and the run the kill
    interrupted has no output rows (its end is stored whole or not at all)."""
    n = 400
    (models_on_path / "driver.py").write_text(DRIVER % n)
    proc = subprocess.Popen(
        [sys.executable, "driver.py"],
        env={**os.environ, "PYTHONPATH": str(HERE)},
        cwd=models_on_path,
        start_new_session=True,
    )
    ws = models_on_path / "ws"
    reported = 0
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline and proc.poll() is None and reported < 8:
            reported = _reported_done(ws)
            time.sleep(0.02)
        time.sleep(0.137)  # somewhere inside a later run
        reported = max(reported, _reported_done(ws))
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert 8 <= reported < n
    rows = _links(ws / "provenance.duckdb")
    completed = [links for status, links in rows.values() if status == "completed"]
    assert len(completed) >= reported
    assert all(links == OUTPUTS for links in completed)
    assert [links for status, links in rows.values() if status != "completed"] in ([], [set()])


def test_a_batch_writes_each_runs_snapshot_as_before(models_on_path: Path) -> None:
    """The snapshots a batch leaves are byte for byte what consist's last snapshot plus the
    store's content rows make (each run's, read back from the store), and ``consist.json`` is
    the last run's snapshot as consist writes it."""
    import many_models_helper

    from trackyard._consist import contents

    cal = _tracker(models_on_path / "s")
    items = [(f"s{i}", {"coeff": i / 10, "label": f"s{i}"}) for i in range(3)]
    result = cal.run_many(many_models_helper.model, items, progress=False)
    assert result.ran == 3
    run_dir = Path(cal.consist.run_dir)
    last = cal.consist._last_consist  # consist's record of the batch's last run, in memory
    with duckdb.connect(str(cal.settings.db_path), read_only=True) as con:
        for outcome in result.outcomes.values():
            path = contents.snapshot_path(run_dir, outcome.run_id)
            text = path.read_text(encoding="utf-8")
            assert contents.keep(path, con) is False  # it carries exactly the store's rows
            assert path.read_text(encoding="utf-8") == text
            assert json.loads(text)["run"]["status"] == "completed"
        consist_text = last.model_dump_json(indent=2)
        expected = contents.kept(json.loads(consist_text), con)
    assert last.run.id == result.outcomes["s2"].run_id
    assert contents.snapshot_path(run_dir, last.run.id).read_text(encoding="utf-8") == expected
    assert (run_dir / "consist.json").read_text(encoding="utf-8") == consist_text
