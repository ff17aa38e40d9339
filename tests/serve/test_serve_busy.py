"""A store locked by a writer for longer than the request budget: pages and the API answer the
last data read, saying how old it is; never an error page. Once free, they catch up."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from .._console import user_env
from .conftest import Served, finish, start_server, stop_server, write_runs

# Holds DuckDB's write lock on the store (as a writer mid-transaction does) for a while, after
# touching the snapshot folder so the server knows something changed.
HOLD = """
import os, sys, time, duckdb
db, snapshots, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
con = duckdb.connect(db)
os.utime(snapshots)
print("held", flush=True)
time.sleep(seconds)
con.close()
"""


def test_locked_store_shows_last_data_with_its_age(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    finish(write_runs(root, "first", [0.1, 0.2]))
    proc, port = start_server(root, "--budget", "0.5")
    served = Served(root, proc, f"http://127.0.0.1:{port}", port, root)
    try:
        before = served.json("/api/runs?domain=calibration")
        assert before["stale"] is None and before["total"] == 2
        status, _, page = served.get("/domains/calibration")
        assert status == 200 and b"data-stale" not in page
        time.sleep(1.1)  # older than the once-a-second reading interval: the next read is due
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                HOLD,
                str(root / "provenance.duckdb"),
                str(root / "runs" / "consist_runs"),
                "6",
            ],
            env=user_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        during = served.json("/api/runs?domain=calibration")
        status, _, page = served.get("/domains/calibration")
        waited = time.monotonic() - t0
        holder.wait(timeout=60)
        assert during["total"] == 2 and "stayed locked" in during["stale"]
        assert status == 200
        text = page.decode()
        assert 'data-stale="1"' in text and "Showing data read" in text
        assert "the store is busy" in text and 'data-runs="2"' in text
        assert waited < 5  # two requests within their budgets, not the lock's 6 s
        after = json.loads(served.get("/api/runs?domain=calibration")[2])
        assert after["stale"] is None and after["total"] == 2
    finally:
        stop_server(proc)
