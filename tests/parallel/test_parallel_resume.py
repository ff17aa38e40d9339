"""A sweep killed midway (kill -9) and resumed loses nothing that finished."""

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
import parallel_models_helper as helper
import trackyard

if __name__ == "__main__":
    tracker = trackyard.get_tracker(
        "calibration", workspace="ws", model="parallel_models_helper:model"
    )
    items = [(f"r{i}", {"x": i, "sleep": 0.6, "log": %r}) for i in range(%d)]
    tracker.run_many(helper.model, items, executor="processes", max_workers=2)
"""


def test_killed_sweep_resumes_with_only_unfinished_configs(models_on_path: Path) -> None:
    """After kill -9, a rerun runs only unfinished configs; each is recorded once."""
    import parallel_models_helper as helper

    log = models_on_path / "executed.log"
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    (models_on_path / "driver.py").write_text(DRIVER % (str(log), N))
    proc = subprocess.Popen(
        [sys.executable, "driver.py"], env=env, cwd=models_on_path, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if log.is_file() and len(log.read_text().split()) >= 3:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = log.read_text().split()
    assert 3 <= len(before) < N

    tracker = trackyard.get_tracker(
        "calibration", workspace="ws", model="parallel_models_helper:model"
    )
    items = [(f"r{i}", {"x": i, "sleep": 0.6, "log": str(log)}) for i in range(N)]
    result = tracker.run_many(helper.model, items, executor="processes", max_workers=2)
    after = log.read_text().split()[len(before) :]
    assert result.failed == 0
    assert result.cached + result.ran == N
    # Only configs in flight at the kill (at most one per worker) ran twice; every config
    # that finished before the kill came from the store.
    in_flight = set(after) & set(before)
    assert len(in_flight) <= 2
    assert result.cached >= len(set(before)) - 2
    assert len(after) == result.ran
    from sqlalchemy import text

    rows = tracker.consist.run_query(
        text(
            "SELECT json_extract_string(meta, '$.trackyard.run_name'), count(*) FROM run "
            "WHERE status = 'completed' AND json_extract(meta, '$.cache_source') IS NULL "
            "GROUP BY 1 ORDER BY 1"
        )
    )
    assert rows == [(f"r{i}", 1) for i in range(N)]
    assert len(tracker.top_k("score", k=N)) == N
