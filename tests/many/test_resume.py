"""A sweep on worker processes killed midway (kill -9) and resumed loses nothing that finished."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import trackyard

HERE = Path(__file__).parent
N = 8
DRIVER = """
import trackyard

CONFIGS = {f"r{i}": {"coeff": i / 10, "sleep": 0.6, "label": f"r{i}", "log": %r} for i in range(%d)}

if __name__ == "__main__":
    cal = trackyard.get_tracker("calibration", workspace="ws", model="many_models_helper:model")
    cal.sweep(CONFIGS, executor="processes", max_workers=2)
"""


def _completed(db: Path) -> list[str]:
    """Sweep labels with an executed, completed run in one DuckDB file."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT json_extract_string(meta, '$.trackyard.run_name') FROM run "
            "WHERE status = 'completed' AND json_extract(meta, '$.cache_source') IS NULL"
        ).fetchall()
    return [str(r[0]).removeprefix("sweep_") for r in rows]


def test_killed_sweep_resumes_running_only_unfinished_configs(models_on_path: Path) -> None:
    """After kill -9, the same sweep runs only configs that had not finished; none twice."""
    log = models_on_path / "executed.log"
    (models_on_path / "driver.py").write_text(DRIVER % (f"untracked:{log}", N))
    proc = subprocess.Popen(
        [sys.executable, "driver.py"],
        env={**os.environ, "PYTHONPATH": str(HERE)},
        cwd=models_on_path,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if log.is_file() and len(log.read_text().split()) >= 4:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    ws = models_on_path / "ws"
    # What had finished at the kill: in the main store, or in a shard not merged yet.
    finished: list[str] = []
    for db in [ws / "provenance.duckdb", *ws.glob("shards/*/*/*.duckdb")]:
        if db.name != "template.duckdb":
            finished += _completed(db)
    assert 1 <= len(set(finished)) < N
    executed_before = len(log.read_text().split())

    cal = trackyard.get_tracker("calibration", workspace=ws, model="many_models_helper:model")
    configs = {
        f"r{i}": {"coeff": i / 10, "sleep": 0.6, "label": f"r{i}", "log": f"untracked:{log}"}
        for i in range(N)
    }
    result = cal.sweep(configs, executor="processes", max_workers=2)
    executed_after = log.read_text().split()[executed_before:]

    assert sorted(executed_after) == sorted(set(configs) - set(finished))
    assert (result.ran, result.cached, result.failed) == (
        N - len(set(finished)),
        len(set(finished)),
        0,
    )
    assert sorted(_completed(ws / "provenance.duckdb")) == sorted(configs)  # each exactly once
    assert len(cal.query_top_k(k=N)) == N
    assert not [p for p in (ws / "shards").iterdir() if p.is_dir()]  # every shard merged
