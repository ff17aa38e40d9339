"""Four writer processes sweep while a browser page and an HTTP client poll the live view at
10 Hz: every run is stored and listed, and no writer meets a lock error."""

from __future__ import annotations

import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from .conftest import Served, finish, start_server, stop_server, write_runs
from .test_serve_api import _db_ids


def _poll(base: str, stop: threading.Event, answers: list[int]) -> None:
    """GET the runs listing and the live part of the domain page ten times a second."""
    paths = ["/api/runs?domain=calibration&limit=1000", "/live/calibration?v=0", "/api/domains"]
    i = 0
    while not stop.is_set():
        try:
            with urllib.request.urlopen(base + paths[i % len(paths)], timeout=30) as resp:
                answers.append(resp.status)
        except Exception as exc:  # counted: the test fails on any
            answers.append(getattr(exc, "code", 0))
        i += 1
        time.sleep(0.1)


def test_writers_lose_nothing_under_ten_hertz_polling(browser: Any, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    finish(write_runs(root, "seed", [0.05]))  # the store exists before the writers race
    proc, port = start_server(root, "--refresh", "0.1")
    base = f"http://127.0.0.1:{port}"
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    stop, answers = threading.Event(), []
    poller = threading.Thread(target=_poll, args=(base, stop, answers), daemon=True)
    try:
        page.goto(f"{base}/domains/calibration")
        poller.start()
        writers = [write_runs(root, f"w{n}", [0.1 * n + 0.01, 0.1 * n + 0.02]) for n in range(4)]
        logs = [finish(w) for w in writers]
        page.wait_for_function(
            "() => document.querySelector('[data-runs]').dataset.runs === '9'", timeout=60_000
        )
    finally:
        stop.set()
        poller.join(timeout=60)
        page.close()
    served = Served(root, proc, base, port, root)
    time.sleep(1.5)  # a listing is read at most once a second while the store changes
    listed = [r["run_id"] for r in served.json("/api/runs?domain=calibration&limit=1000")["runs"]]
    stop_server(proc)
    assert all("ran=2 failed=0" in log for log in logs), logs
    assert not [log for log in logs if "lock" in log.lower()]
    assert listed == _db_ids(served) and len(listed) == 9
    assert answers and set(answers) == {200}, sorted(set(answers))
    assert errors == []
