"""Per-run cost of a trivial model in a batch: trackyard vs direct consist vs MLflow (issue 23).

    .venv/bin/python bench/bench_per_run.py                      # trackyard and consist
    .venv/bin/python bench/bench_per_run.py --mlflow-python /path/to/venv/bin/python
    .venv/bin/python bench/bench_per_run.py --profile            # where trackyard's time goes
    .venv/bin/python bench/bench_per_run.py --before-src /tmp/old/core/src   # before vs after

``--before-src`` adds a side "trackyard before": the trackyard side run with another source
tree of trackyard first on the path (e.g. ``git archive <commit> core/src | tar -x -C
/tmp/old``), interleaved with the others, so a change is measured under the same load.

Each side runs in its own interpreter, in a fresh folder, one warm-up run first (imports,
schema set-up and MLflow's migrations are not counted), then ``--n`` runs; the sides are
interleaved over ``--rounds`` rounds so they see the same load, and the table gives each
side's median over the rounds of (wall time of the N runs) / N.

The work is the same on every side: three small output files, the config's parameters, one
metric (``score``):

* trackyard: ``calibration`` tracker, ``run_many`` of N configs, ``executor="serial"``
  (``bench_models.trivial``, which writes ``persons``, ``trips``, ``metrics``);
* consist: the pattern document's loop of ``Tracker.run`` (``bench_models.trivial_pattern``);
* MLflow (only when an interpreter with ``mlflow`` is given, or this one has it: it is not a
  dependency): a sqlite tracking store, ``start_run``, ``log_params``, the three files written
  and ``log_artifact``-ed, ``log_metric``.

``--profile`` runs the trackyard side once more in this process and splits its per-run time:
the DuckDB statements consist issues (each timed, grouped by statement), and the rest (consist's
and SQLAlchemy's Python, trackyard's own steps, the files), by package under cProfile.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

HERE = Path(__file__).parent
SIDES = ("trackyard", "consist", "mlflow")


def _configs(n: int) -> list[tuple[str, dict[str, Any]]]:
    return [(f"b{i}", {"x": i, "label": f"config {i}", "rate": i / 7}) for i in range(n)]


def side_trackyard(folder: Path, n: int, before: Any = None) -> float:
    import bench_models

    import trackyard

    t = trackyard.get_tracker("calibration", workspace=folder, model="bench_models:trivial")
    t.run(bench_models.trivial, name="warm", config={"x": -1})
    if before is not None:
        before()
    start = time.perf_counter()
    result = t.run_many(bench_models.trivial, _configs(n), progress=False)
    took = time.perf_counter() - start
    assert result.ran == n, result.summary()
    return took / n


def side_consist(folder: Path, n: int) -> float:
    import bench_models
    from consist import Tracker

    tracker = Tracker(run_dir=folder / "runs", db_path=folder / "p.duckdb")
    tracker.run(fn=bench_models.trivial_pattern, name="warm", model="bench", config={"x": -1})
    start = time.perf_counter()
    for name, config in _configs(n):
        tracker.run(fn=bench_models.trivial_pattern, name=name, model="bench", config=config)
    return (time.perf_counter() - start) / n


def side_mlflow(folder: Path, n: int) -> float:
    import mlflow

    os.chdir(folder)  # the default artifact root (./mlruns) goes here
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    mlflow.set_experiment("bench")

    def one(name: str, config: dict[str, Any]) -> None:
        with mlflow.start_run(run_name=name):
            mlflow.log_params(config)
            for key in ("persons", "trips", "metrics"):
                path = folder / "out" / name / f"{key}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(config), encoding="utf-8")
                mlflow.log_artifact(str(path))
            mlflow.log_metric("score", float(config["x"]))

    one("warm", {"x": -1})
    start = time.perf_counter()
    for name, config in _configs(n):
        one(name, config)
    return (time.perf_counter() - start) / n


def _child(side: str, python: str, n: int, before: str | None = None) -> float:
    folder = Path(tempfile.mkdtemp(prefix=f"per-run-{side}-"))
    path = [before] if before else []
    path += [str(HERE), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    out = subprocess.run(
        [python, str(Path(__file__).resolve()), "--side", side, "--n", str(n), "--dir", str(folder)],
        check=True, capture_output=True, text=True, env=env,
    )  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def _mlflow_python(given: str | None) -> str | None:
    if given:
        return given
    try:
        import mlflow  # noqa: F401
    except ImportError:
        return None
    return sys.executable


def compare(args: Any) -> None:
    pythons = {"trackyard": sys.executable, "consist": sys.executable}
    if args.before_src:
        pythons["trackyard before"] = sys.executable
    mlflow_python = _mlflow_python(args.mlflow_python)
    if mlflow_python:
        pythons["mlflow"] = mlflow_python
    per: dict[str, list[float]] = {side: [] for side in pythons}
    for _ in range(args.rounds):
        for side, python in pythons.items():
            before = args.before_src if side == "trackyard before" else None
            per[side].append(_child(side.split()[0], python, args.n, before))
    ms = {side: median(values) * 1e3 for side, values in per.items()}
    load = os.getloadavg()[0]
    print(f"{args.n} runs per side, median of {args.rounds} interleaved rounds, load {load:.1f}\n")
    print("| per run (ms) | " + " | ".join(ms) + " |")
    print("|---|" + "---|" * len(ms))
    print("| median | " + " | ".join(f"{v:.0f}" for v in ms.values()) + " |")
    print("| rounds | " + " | ".join(
        ", ".join(f"{v * 1e3:.0f}" for v in per[side]) for side in ms) + " |")  # fmt: skip
    ratios = [f"trackyard / consist {ms['trackyard'] / ms['consist']:.2f}"]
    if "trackyard before" in ms:
        ratios.append(f"trackyard / before {ms['trackyard'] / ms['trackyard before']:.2f}")
    if "mlflow" in ms:
        ratios.append(f"trackyard / MLflow {ms['trackyard'] / ms['mlflow']:.2f}")
    else:
        ratios.append("MLflow row skipped: no interpreter with mlflow (--mlflow-python)")
    print("\n" + "; ".join(ratios))


def profile(args: Any) -> None:
    """Split trackyard's per-run time: DuckDB statements (timed one by one) and the rest."""
    import cProfile
    import pstats
    from collections import Counter, defaultdict

    import duckdb_engine

    original = duckdb_engine.CursorWrapper.execute
    statements: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])

    def timed(self: Any, statement: str, *rest: Any, **kw: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(self, statement, *rest, **kw)
        finally:
            entry = statements[" ".join(str(statement).split())[:70]]
            entry[0] += 1
            entry[1] += time.perf_counter() - start

    from sqlalchemy.engine.default import DefaultDialect

    committing = DefaultDialect.do_commit

    def commit(self: Any, connection: Any) -> None:
        start = time.perf_counter()
        try:
            committing(self, connection)
        finally:
            statements["COMMIT"][0] += 1
            statements["COMMIT"][1] += time.perf_counter() - start

    folder = Path(tempfile.mkdtemp(prefix="per-run-profile-"))
    side_trackyard(folder / "warm", 5)  # imports, caches
    duckdb_engine.CursorWrapper.execute = timed  # type: ignore[method-assign]
    DefaultDialect.do_commit = commit  # type: ignore[method-assign]
    per_run = side_trackyard(folder / "timed", args.n, statements.clear)
    DefaultDialect.do_commit = committing  # type: ignore[method-assign]
    sql = sum(t for _, t in statements.values()) / args.n
    count = sum(c for text, (c, _) in statements.items() if text != "COMMIT") / args.n
    print(f"per run {per_run * 1e3:.1f} ms, of which DuckDB statements and commits "
          f"{sql * 1e3:.1f} ms ({count:.1f} statements, "
          f"{statements['COMMIT'][0] / args.n:.1f} commits per run)\n")  # fmt: skip
    print("| statement | per run | ms per run |\n|---|---|---|")
    for text, (count, took) in sorted(statements.items(), key=lambda kv: -kv[1][1])[:15]:
        print(f"| `{text}` | {count / args.n:.1f} | {took / args.n * 1e3:.2f} |")
    duckdb_engine.CursorWrapper.execute = original  # type: ignore[method-assign]
    profiler = cProfile.Profile()
    profiler.runcall(side_trackyard, folder / "profiled", args.n)
    packages: Counter[str] = Counter()
    for (file, _, _), (_, _, own, _, _) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        if "site-packages/" in file:
            packages[file.split("site-packages/")[1].split("/")[0]] += own
        elif "/trackyard/" in file:
            packages["trackyard"] += own
        else:
            packages["stdlib and builtins"] += own
    total = sum(packages.values())
    print("\nunder cProfile (inflates Python-heavy code), own time by package:\n")
    print("| package | share |\n|---|---|")
    for name, own in packages.most_common(8):
        print(f"| {name} | {own / total:.0%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mlflow-python", help="an interpreter that has mlflow installed")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--before-src", help="another trackyard source tree, run side by side")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        sys.path.insert(0, str(HERE))
        print(globals()[f"side_{args.side}"](args.dir, args.n))
    elif args.profile:
        sys.path.insert(0, str(HERE))
        profile(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
