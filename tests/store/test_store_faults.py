"""A held store while a sweep merges, and listings while another process reads."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import trackyard
from trackyard._store import lock_holder

from . import store_models
from .conftest import cli, db_runs, env, sweep_args


def test_a_run_whose_shard_cannot_be_merged_is_not_reported_done(project: Path) -> None:
    """With the store held while the driver merges, the sweep reports the run as kept only in
    its shard (not done) and keeps the shard; doctor --fix then merges it into the store."""
    (project / "pyproject.toml").write_text(
        '[tool.trackyard.domains.calibration]\nmodel = "store_models:holds_store"\n'
    )
    ws = project / "ws"
    trackyard.get_tracker("calibration", workspace=ws, model=store_models.calib)
    db = ws / "provenance.duckdb"
    configs = {"held": {"x": 1, "db": f"file:{db}", "hold": 12}}
    done = cli(project, *sweep_args(ws, configs, "processes"), TRACKYARD_LOCK_TIMEOUT="1")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["outcomes"] == {}
    (message,) = result["failures"].values()
    assert message.startswith("finished, but kept only in its shard ")
    assert message.endswith(f"the shard is kept. Merge it once this sweep has ended: run "
                            f"`trackyard doctor --fix --workspace {ws}`")  # fmt: skip
    assert db_runs(db) == {}
    assert list(ws.glob("shards/*/*/sweep_held-*.duckdb"))
    while lock_holder(db) is not None:
        time.sleep(0.2)
    trackyard.reconcile(ws)
    assert list(db_runs(db).values()) == ["completed"]
    assert not list(ws.glob("shards/*/*/sweep_held-*.duckdb"))
    assert trackyard.audit(ws).ok


def test_runs_listing_works_while_another_process_reads(tmp_path: Path) -> None:
    """`trackyard runs DOMAIN` lists the runs while another process holds a read-only
    connection to the store."""
    ws = tmp_path / "ws"
    t = trackyard.get_tracker("calibration", workspace=ws, model=store_models.calib)
    run_id = t.evaluate(run_name="only", config={"x": 1}).run_id
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print('held', flush=True); sys.stdin.readline()",
            str(ws / "provenance.duckdb"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env(),
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "held"
        listed = cli(tmp_path, "runs", "calibration", "-w", str(ws), "--json")
    finally:
        reader.communicate("done\n", timeout=30)
    assert listed.returncode == 0, listed.stderr
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [run_id]
