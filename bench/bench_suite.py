"""trackyard benchmark suite: one command, prints a Markdown table of side-by-side ratios.

    .venv/bin/python bench/bench_suite.py

Baselines are written the way the pattern document writes them: a hand-made wrapper that owns
a ``consist.Tracker(run_dir=..., db_path=...)`` and calls ``tracker.run`` directly.
The 10,000-run workspace for row 5 is built fast by recording ONE real run through trackyard
and then copying its ``run`` row 10,000 times with DuckDB SQL (new ids and metric values),
which is what the metric query reads; no consist run is executed per row.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
os.environ["PYTHONPATH"] = str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", "")

import bench_models  # noqa: E402


class PatternWrapper:
    """The pattern document's wrapper: a consist Tracker and direct ``run`` calls."""

    def __init__(self, workspace: Path) -> None:
        from consist import Tracker

        workspace.mkdir(parents=True, exist_ok=True)
        self._tracker = Tracker(run_dir=workspace / "runs", db_path=workspace / "p.duckdb")

    def evaluate(self, name: str, config: dict[str, Any], fn: Any) -> Any:
        return self._tracker.run(fn=fn, name=name, model="bench", config=config)


def wall(cmd: list[str], n: int = 5) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return median(times)


def timed(fn: Any, n: int = 1) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return median(times)


def main() -> None:
    import trackyard

    rows: list[tuple[str, str, str, str]] = []
    py = sys.executable
    root = Path(tempfile.mkdtemp(prefix="trackyard-bench-"))
    os.chdir(root)

    # 1. listing domains
    ours = wall([py, "-c", "import trackyard; trackyard.available_domains()"])
    base = wall([py, "-c", "import importlib.metadata"])
    mods = subprocess.run(
        [py, "-c", "import sys, trackyard; trackyard.available_domains(); print(len(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    rows.append(
        (
            "list domains (process wall)",
            f"{ours * 1e3:.0f} ms ({mods} modules)",
            f"{base * 1e3:.0f} ms",
            f"{ours / base:.2f}",
        )
    )

    # 2. get_tracker on an existing workspace vs the wrapper
    ws = root / "ws2"
    trackyard.get_tracker("calibration", workspace=ws, model="bench_models:trivial")
    PatternWrapper(root / "pw2")
    ours = timed(
        lambda: trackyard.get_tracker("calibration", workspace=ws, model="bench_models:trivial"), 5
    )
    base = timed(lambda: PatternWrapper(root / "pw2"), 5)
    rows.append(
        (
            "get_tracker, existing workspace",
            f"{ours * 1e3:.1f} ms",
            f"{base * 1e3:.1f} ms",
            f"{ours / base:.3f}",
        )
    )

    # 3. evaluate overhead per call, miss and hit
    t = trackyard.get_tracker("calibration", workspace=root / "ws3", model="bench_models:trivial")
    w = PatternWrapper(root / "pw3")
    n = 8
    miss_o = (
        timed(
            lambda: [t.run(bench_models.trivial, name=f"m{i}", config={"x": i}) for i in range(n)]
        )
        / n
    )
    miss_b = (
        timed(
            lambda: [w.evaluate(f"m{i}", {"x": i}, bench_models.trivial_pattern) for i in range(n)]
        )
        / n
    )
    hit_o = (
        timed(
            lambda: [t.run(bench_models.trivial, name=f"h{i}", config={"x": i}) for i in range(n)]
        )
        / n
    )
    hit_b = (
        timed(
            lambda: [w.evaluate(f"h{i}", {"x": i}, bench_models.trivial_pattern) for i in range(n)]
        )
        / n
    )
    rows.append(
        (
            "run per call, cache miss",
            f"{miss_o * 1e3:.0f} ms",
            f"{miss_b * 1e3:.0f} ms",
            f"{miss_o / miss_b:.2f}",
        )
    )
    rows.append(
        (
            "run per call, cache hit",
            f"{hit_o * 1e3:.0f} ms",
            f"{hit_b * 1e3:.0f} ms",
            f"{hit_o / hit_b:.2f}",
        )
    )
    batch = (
        timed(lambda: t.run_many(bench_models.trivial, [(f"h{i}", {"x": i}) for i in range(n)])) / n
    )
    rows.append(
        (
            "cached config via run_many pre-check (per config)",
            f"{batch * 1e3:.1f} ms",
            f"{hit_b * 1e3:.0f} ms",
            f"{batch / hit_b:.3f}",
        )
    )

    # 4. 16-config sweep of a ~1 s CPU model: CalibrationTracker.sweep vs the pattern's loop
    grid = {"x": list(range(16)), "seconds": [1.0]}
    configs = [{"x": x, "seconds": 1.0} for x in grid["x"]]
    w4 = PatternWrapper(root / "pw4")
    base = timed(lambda: [w4.evaluate(f"s{c['x']}", c, bench_models.burn_pattern) for c in configs])
    t4 = trackyard.get_tracker("calibration", workspace=root / "ws4", model="bench_models:burn")
    res: dict[str, Any] = {}

    def sweep(key: str, tracker: Any, **kw: Any) -> None:
        res[key] = tracker.sweep(grid=grid, progress=False, **kw)

    ours = timed(lambda: sweep("p", t4, executor="processes", max_workers=2))
    assert res["p"].ran == 16, res["p"].summary()
    rows.append(
        (
            "16 x 1 s sweep: sweep(executor='processes', 2 workers) vs serial loop",
            f"{ours:.1f} s",
            f"{base:.1f} s",
            f"{base / ours:.2f}x faster",
        )
    )
    t4s = trackyard.get_tracker("calibration", workspace=root / "ws4s", model="bench_models:burn")
    ours_s = timed(lambda: sweep("s", t4s))
    assert res["s"].ran == 16, res["s"].summary()
    rows.append(
        (
            "16 x 1 s sweep: sweep(executor='serial') vs serial loop",
            f"{ours_s:.1f} s",
            f"{base:.1f} s",
            f"{ours_s / base:.3f} (time ratio)",
        )
    )
    base_c = timed(
        lambda: [w4.evaluate(f"s{c['x']}", c, bench_models.burn_pattern) for c in configs]
    )
    ours_c = timed(lambda: sweep("c", t4, executor="processes", max_workers=2))
    assert res["c"].cached == 16, res["c"].summary()
    rows.append(
        (
            "same sweep re-run (all cached)",
            f"{ours_c * 1e3:.0f} ms",
            f"{base_c * 1e3:.0f} ms",
            f"{base_c / ours_c:.1f}x faster",
        )
    )

    # 5. top_k over 10,000 runs
    t5 = trackyard.get_tracker("calibration", workspace=root / "ws5", model="bench_models:trivial")
    seed = t5.run(bench_models.trivial, name="seed", config={"x": 0})
    import duckdb

    db = str(t5.settings.db_path)
    with duckdb.connect(db) as con:
        cols = [r[0] for r in con.execute("DESCRIBE run").fetchall()]
        select = ", ".join(
            "id || '_' || CAST(i AS VARCHAR)"
            if c == "id"
            else "json_merge_patch(meta, json_object('metrics', json_object('score', "
            "random()), 'trackyard', json_object('run_name', 'r' || i, "
            "'domain', 'calibration')))"
            if c == "meta"
            else c
            for c in cols
        )
        con.execute(
            f"INSERT INTO run SELECT {select} FROM run, range(10000) t(i) WHERE id = ?",
            [seed.run_id],
        )
        count = con.execute("SELECT count(*) FROM run").fetchone()
    ours = timed(lambda: t5.top_k("score", k=5), 5)

    def pandas_way() -> Any:
        frame = t5.consist.run_set(model="mode_choice").to_frame()
        return frame

    try:
        base = timed(pandas_way, 3)
        base_txt = f"{base * 1e3:.0f} ms"
        ratio = f"{base / ours:.1f}x faster"
    except Exception as exc:  # report what consist did rather than hide the row
        base_txt, ratio = f"failed: {type(exc).__name__}", "n/a"
    rows.append(
        (
            f"top_k over {count[0] if count else '?'} runs vs run_set().to_frame()",
            f"{ours * 1e3:.1f} ms",
            base_txt,
            ratio,
        )
    )

    print("| benchmark | trackyard | baseline | ratio |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
