"""What keeping the store's content rows in each run's snapshot costs (issue 25, item 4).

A serial ``run_many`` of ``N`` trivial calibration configs (three tiny outputs each) in a fresh
workspace, repeated ``R`` times: wall time per run, and (when the trackyard imported keeps
content rows) the time spent in ``contents.keep_run`` per run (its one query on the batch's
connection and the snapshot's atomic rewrite) and the bytes it adds to a snapshot.

Compare with the code before the change by running it again with
``PYTHONPATH=<old checkout>/core/src`` (that trackyard has no ``contents``: only the wall
time is printed). Runs alternate old and new by hand; the machine is shared, so numbers are
noisy: read medians.

Usage: ``python bench/bench_content_rows.py [N] [R]`` (defaults 40 3).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))


def _instrument() -> list[float] | None:
    """Time every ``keep_run`` call (None when this trackyard does not keep content rows)."""
    try:
        from trackyard._consist import contents, run
    except ImportError:
        return None
    spent: list[float] = []
    real = contents.keep_run

    def timed(consist_tracker: Any, run_id: str) -> None:
        start = time.perf_counter()
        try:
            real(consist_tracker, run_id)
        finally:
            spent.append(time.perf_counter() - start)

    run.keep_run = timed  # type: ignore[attr-defined]  # the name the engine calls
    return spent


def _instrument_merges() -> list[float] | None:
    """Time every ``contents.merged`` call a shard merge makes in the sweep's driver."""
    try:
        from trackyard._consist import contents, merge
    except ImportError:
        return None
    spent: list[float] = []
    real = contents.merged

    def timed(con: Any, run_dir: Path) -> list[str]:
        start = time.perf_counter()
        try:
            return real(con, run_dir)
        finally:
            spent.append(time.perf_counter() - start)

    merge.contents.merged = timed  # type: ignore[attr-defined]
    return spent


def processes(n: int) -> None:
    """A ``processes`` sweep of ``n`` trivial configs on 2 workers: the time per shard merge
    spent correcting content rows in the driver (the conflict query; no conflict here)."""
    import bench_models

    import trackyard

    spent = _instrument_merges()
    if spent is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        t = trackyard.get_tracker("calibration", workspace=ws, model="bench_models:trivial")
        items = [(f"p{i}", {"x": i}) for i in range(n)]
        t.run_many(bench_models.trivial, items, executor="processes", max_workers=2,
                   progress=False)  # fmt: skip
    print(f"| per shard merge in a `processes` sweep of {n}, correcting content rows "
          f"(`contents.merged`, median) | {statistics.median(spent) * 1e3:.2f} ms |")  # fmt: skip


def _added_bytes(ws: Path) -> int | None:
    """Median bytes of the ``trackyard`` key in the workspace's snapshots."""
    sizes = []
    for path in (ws / "runs" / "consist_runs").glob("*.json"):
        payload = json.loads(path.read_text())
        if "trackyard" not in payload:
            return None
        sizes.append(len(json.dumps({"trackyard": payload["trackyard"]}, indent=2)))
    return int(statistics.median(sizes)) if sizes else None


def main(n: int, rounds: int) -> None:
    import bench_models

    import trackyard

    spent = _instrument()
    walls, kept = [], []
    added = None
    for r in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            ws = Path(tmp) / "ws"
            t = trackyard.get_tracker("calibration", workspace=ws, model="bench_models:trivial")
            t.run(bench_models.trivial, name="warm", config={"x": -1})
            if spent is not None:
                spent.clear()
            items = [(f"b{i}", {"x": i, "round": r}) for i in range(n)]
            start = time.perf_counter()
            t.run_many(bench_models.trivial, items, progress=False)
            walls.append((time.perf_counter() - start) / n)
            if spent is not None:
                kept.append(sum(spent) / len(spent))
            added = _added_bytes(ws)
    print("| measure | value |\n|---|---|")
    print(f"| per run, serial run_many of {n} trivial configs (median of {rounds}) | "
          f"{statistics.median(walls) * 1e3:.1f} ms (each: "
          f"{', '.join(f'{w * 1e3:.0f}' for w in walls)}) |")  # fmt: skip
    if kept:
        print(f"| of which keeping the content rows (`contents.keep_run`), per run | "
              f"{statistics.median(kept) * 1e3:.2f} ms |")  # fmt: skip
    if added is not None:
        print(f"| bytes added to a snapshot (one content row) | {added} |")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*(args + [40, 3][len(args) :]))
    processes(args[0] if args else 40)
