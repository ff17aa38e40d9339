"""trackyard benchmark suite: one command, prints a Markdown table of side-by-side ratios.

    .venv/bin/python bench/bench_suite.py                 # every section
    .venv/bin/python bench/bench_suite.py --only batch topk --batch-n 30 --sizes 10000 1000000

Sections: listing, tracker, run (single miss/hit), batch (per-run cost inside a serial
``run_many`` vs a direct consist loop, interleaved halves), sweep (16 x 1 s), topk (the metrics
index vs a typed column on the same file, over stores of --sizes runs), cli (``runs --top`` and
``info`` vs ``--help``), memory (peak RSS of the driver and of a worker over a ``processes``
sweep of --mem-n trivial configs and one of --mem-big, each in a fresh process, and the ratio
of the driver's peaks; the driver's peak after each quarter shows any growth).

Baselines are written the way the pattern document writes them: a hand-made wrapper that owns
a ``consist.Tracker(run_dir=..., db_path=...)`` and calls ``tracker.run`` directly.
The 10,000-run workspace for row 5 is built fast by recording ONE real run through trackyard
and then copying its ``run`` row 10,000 times with DuckDB SQL (new ids and metric values),
which is what the metric query reads; no consist run is executed per row.
"""

from __future__ import annotations

import functools
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


Row = tuple[str, str, str, str]


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=list(SECTIONS), choices=list(SECTIONS))
    parser.add_argument("--batch-n", type=int, default=100)
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--mem-n", type=int, default=2_000)
    parser.add_argument("--mem-big", type=int, default=20_000)
    args = parser.parse_args()
    rows: list[Row] = []
    root = Path(tempfile.mkdtemp(prefix="trackyard-bench-"))
    os.chdir(root)
    for name in args.only:
        SECTIONS[name](root, rows, args)
    print("| benchmark | trackyard | baseline | ratio |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def listing(root: Path, rows: list[Row], args: Any) -> None:
    py = sys.executable
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


def tracker(root: Path, rows: list[Row], args: Any) -> None:
    import trackyard

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


def single_run(root: Path, rows: list[Row], args: Any) -> None:
    import trackyard

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


def sweep16(root: Path, rows: list[Row], args: Any) -> None:
    import trackyard

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


def _loop(w: PatternWrapper, part: range) -> None:
    for i in part:
        w.evaluate(f"b{i}", {"x": i}, bench_models.trivial_pattern)


def batch(root: Path, rows: list[Row], args: Any) -> None:
    """Per-run cost of a trivial model inside a serial run_many vs a direct consist loop."""
    import trackyard

    n = max(2, args.batch_n) // 2 * 2
    t = trackyard.get_tracker("calibration", workspace=root / "wsb", model="bench_models:trivial")
    w = PatternWrapper(root / "pwb")
    t.run(bench_models.trivial, name="warm", config={"x": -1})
    w.evaluate("warm", {"x": -1}, bench_models.trivial_pattern)
    ours: list[float] = []
    base: list[float] = []
    for start in (0, n // 2):  # interleaved halves, so both sides see the same load
        part = range(start, start + n // 2)
        base.append(timed(functools.partial(_loop, w, part)))
        many = [(f"b{i}", {"x": i}) for i in part]
        ours.append(
            timed(functools.partial(t.run_many, bench_models.trivial, many, progress=False))
        )
    per_o, per_b = sum(ours) / n, sum(base) / n
    rows.append(
        (
            f"per run, trivial model, serial run_many of {n} vs direct consist loop",
            f"{per_o * 1e3:.0f} ms",
            f"{per_b * 1e3:.0f} ms",
            f"{per_o / per_b:.2f}",
        )
    )


def memory(root: Path, rows: list[Row], args: Any) -> None:
    """Issue 23's goal 3: the driver's peak RSS over a ``processes`` sweep of --mem-big configs
    against one of --mem-n configs (goal: within 1.2x), and the workers' peak. Each sweep runs
    in a fresh process and workspace (``mem_sweep.py``: a peak RSS is per process), so the two
    peaks compare; the driver's peak after each quarter shows any growth."""
    import json

    found: dict[int, dict[str, Any]] = {}
    for n in (args.mem_n, args.mem_big):
        out = subprocess.run(
            [sys.executable, str(HERE / "mem_sweep.py"), str(n), str(root / f"wsm{n}")],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        found[n] = json.loads(out.strip().splitlines()[-1])
    for n, m in found.items():
        quarters = " / ".join(f"{k / 1024:.0f}" for k in m["marks"])
        rows.append(
            (
                f"peak RSS MiB of a {n:,}-config processes sweep ({m['seconds']:.0f} s): "
                "driver / worker (driver after each quarter)",
                f"{m['driver'] / 1024:.0f} / {m['worker'] / 1024:.0f} ({quarters})",
                f"driver before the sweep: {m['before'] / 1024:.0f} MiB",
                "",
            )
        )
    small, big = found[args.mem_n], found[args.mem_big]
    rows.append(
        (
            f"driver peak RSS, {args.mem_big:,}-config sweep vs {args.mem_n:,}-config (goal 1.2x)",
            f"{big['driver'] / 1024:.0f} MiB",
            f"{small['driver'] / 1024:.0f} MiB",
            f"{big['driver'] / small['driver']:.2f}",
        )
    )


def _fill(db: str, seed: str, size: int, typed: bool = True) -> None:
    """Copy the seed run's row until the store holds ``size`` runs (new ids, random scores),
    and (``typed``) add a typed reference table (id, domain, score DOUBLE) to the same file."""
    import duckdb

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
            f"INSERT INTO run SELECT {select} FROM run, range({size - 1}) t(i) WHERE id = ?",
            [seed],
        )
        if not typed:
            con.execute("CHECKPOINT")
            return
        con.execute(
            "CREATE OR REPLACE TABLE bench_typed AS SELECT id, "
            "json_extract_string(meta, '$.trackyard.domain') AS domain, "
            "TRY_CAST(json_extract(meta, '$.metrics.score') AS DOUBLE) AS score FROM run"
        )
        con.execute("CHECKPOINT")


def topk(root: Path, rows: list[Row], args: Any) -> None:
    """top_k through the metrics index vs a typed column on the same file (both open a
    read-only connection per query), the JSON query it replaced, and the index's catch-up;
    then the same number of runs arriving through a sweep's shard merge."""
    for size in args.sizes:
        _topk_size(root, rows, size)
        _topk_merged(root, rows, size)


def _topk_merged(root: Path, rows: list[Row], size: int) -> None:
    """``size`` new runs arriving in one shard merge (what a processes or Dask sweep does,
    here in one shard): the merge (its rows, then their index rows), then the
    first and later rankings; and the same merge without indexing, then its first ranking
    (the catch-up the merge saves)."""
    got = {on: _merge_then_rank(root, size, on) for on in (True, False)}
    (merge, first, later), (bare, catch, _) = got[True], got[False]
    rows.append(
        (
            f"  {size:,} runs arriving in a shard merge: merge indexing them / first ranking "
            "/ later",
            f"{merge * 1e3:.0f} / {first * 1e3:.0f} / {later * 1e3:.0f} ms",
            f"merge alone {bare * 1e3:.0f} ms, then first ranking {catch * 1e3:.0f} ms",
            f"{(merge + first) / (bare + catch):.2f} (merge + first ranking)",
        )
    )


def _merge_then_rank(root: Path, size: int, index: bool) -> tuple[float, float, float]:
    import shutil

    import trackyard
    from trackyard import _metrics_index
    from trackyard._consist.merge import Merger
    from trackyard._store import Store

    t = trackyard.get_tracker(
        "calibration", workspace=root / f"merged{size}{index}", model="bench_models:trivial"
    )
    seed = t.run(bench_models.trivial, name="seed", config={"x": 0})
    t.top_k("score", k=5)  # the store has been ranked: its index exists
    shard = root / f"shard{size}{index}.duckdb"
    shutil.copy(t.settings.db_path, shard)  # a shard has the store's schema
    _fill(str(shard), seed.run_id, size + 1, typed=False)
    merger = Merger(Store.of(t.settings), _metrics_index.index_merged if index else None)
    merge = timed(lambda: merger.merge(shard))
    first = timed(lambda: t.top_k("score", k=5))
    later = median([timed(lambda: t.top_k("score", k=5)) for _ in range(5)])
    return merge, first, later


def _topk_size(root: Path, rows: list[Row], size: int) -> None:
    import duckdb

    import trackyard
    from trackyard import _queries
    from trackyard._store import Store

    if True:
        t5 = trackyard.get_tracker(
            "calibration", workspace=root / f"topk{size}", model="bench_models:trivial"
        )
        seed = t5.run(bench_models.trivial, name="seed", config={"x": 0})
        db = str(t5.settings.db_path)
        _fill(db, seed.run_id, size)
        build = timed(lambda: t5.top_k("score", k=5))  # the first ranking builds the index

        def typed() -> Any:
            con = duckdb.connect(db, read_only=True, config={"enable_external_access": False})
            try:
                return con.execute(
                    "SELECT id, score FROM bench_typed WHERE domain = ? ORDER BY score LIMIT 5",
                    ["calibration"],
                ).fetchall()
            finally:
                con.close()

        ours: list[float] = []
        ref: list[float] = []
        for _ in range(9):  # interleaved
            ours.append(timed(lambda: t5.top_k("score", k=5)))
            ref.append(timed(typed))
        from trackyard import _metrics_index

        con = duckdb.connect(db, read_only=True, config={"enable_external_access": False})
        q_ours: list[float] = []
        q_ref: list[float] = []
        for _ in range(9):  # the queries alone, on one open connection, interleaved
            q_ours.append(
                timed(lambda: _metrics_index.rank_on(con, "calibration", "score", 5, "ASC"))
            )
            q_ref.append(
                timed(
                    lambda: con.execute(
                        "SELECT id, score FROM bench_typed WHERE domain = ? ORDER BY score LIMIT 5",
                        ["calibration"],
                    ).fetchall()
                )
            )
        con.close()
        json_q = timed(
            lambda: _queries.ranked_runs(
                Store(Path(db), Path(db).parent / "runs", 30.0),
                "calibration",
                "score",
                5,
                "asc",
                use_index=False,
            ),
            3 if size <= 100_000 else 1,
        )
        t5.run_many(bench_models.trivial, [(f"new{i}", {"x": i}) for i in range(1, 11)],
                    progress=False)  # fmt: skip
        catch = timed(lambda: t5.top_k("score", k=5))  # indexes the 10 new runs first
        o, r = median(ours), median(ref)
        rows.append(
            (
                f"top_k over {size:,} runs (index) vs typed column, same file, each opening its connection",
                f"{o * 1e3:.1f} ms",
                f"{r * 1e3:.1f} ms",
                f"{o / r:.2f}",
            )
        )
        qo, qr = median(q_ours), median(q_ref)
        rows.append(
            (
                f"  {size:,} runs, query alone on an open connection (index vs typed column)",
                f"{qo * 1e3:.1f} ms",
                f"{qr * 1e3:.1f} ms",
                f"{qo / qr:.2f}",
            )
        )
        rows.append(
            (
                f"  {size:,} runs: JSON query it replaced / first ranking (builds index) / "
                "after 10 new runs (catch-up)",
                f"{json_q * 1e3:.0f} / {build * 1e3:.0f} / {catch * 1e3:.0f} ms",
                f"{r * 1e3:.1f} ms",
                f"JSON {json_q / o:.0f}x slower",
            )
        )


def cli(root: Path, rows: list[Row], args: Any) -> None:
    """``trackyard runs --top`` and ``trackyard info`` vs ``trackyard --help`` (interleaved)."""
    import trackyard

    exe = str(Path(sys.executable).parent / "trackyard")
    ws = root / "cliws"
    t = trackyard.get_tracker("calibration", workspace=ws, model="bench_models:trivial")
    t.run_many(bench_models.trivial, [(f"c{i}", {"x": i}) for i in range(5)], progress=False)
    cmds = {
        "help": [exe, "--help"],
        "runs": [exe, "runs", "calibration", "--top", "score", "--k", "3", "-w", str(ws)],
        "info": [exe, "info", "calibration"],
        # The floor of any command that takes an argument: typer's value coercion imports
        # pydantic (~0.4 s) on the first parameter it converts; --help converts none.
        "which": [exe, "which", "calibration"],
    }
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(5):
        for key, cmd in cmds.items():
            times[key].append(wall(cmd, 1))
    help_ = median(times["help"])
    for key in ("runs", "info", "which"):
        mine = median(times[key])
        rows.append(
            (
                f"`trackyard {key}` ({' '.join(cmds[key][1:4])}...) vs `trackyard --help`",
                f"{mine * 1e3:.0f} ms",
                f"{help_ * 1e3:.0f} ms",
                f"{mine / help_:.2f}",
            )
        )


SECTIONS = {
    "listing": listing,
    "tracker": tracker,
    "run": single_run,
    "batch": batch,
    "sweep": sweep16,
    "topk": topk,
    "cli": cli,
    "memory": memory,
}

if __name__ == "__main__":
    main()
