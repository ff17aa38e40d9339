"""The store under load and repair (issue 12); prints a Markdown table.

* ``N`` concurrent ``trackyard run calibration sweep`` processes of ``K`` configs each on one
  workspace, against one sweep of ``N*K`` configs: wall time ratio, runs lost (reported but
  not in the store), processes aborted (non-zero exit);
* ``doctor --fix`` rebuild time of a truncated store of ``R`` runs, and what the cheap store
  check at open adds to ``get_tracker``.

The ``R``-run store is built from REAL runs (a few calibration evaluations, some with config
facets, a cache hit, a three-year simulation scenario) whose JSON snapshots are then copied
with patched run and artifact ids until there are ``R`` (running 10,000 real runs takes hours;
the copies exercise the same rows, artifacts, links and facets), and ``reconcile`` restores
their rows. Then: the store check ``get_tracker`` pays at open (``verify_store`` alone, and
``get_tracker`` with and without it), ``trackyard doctor calibration --fix`` (a CLI process:
includes its domain check and the output audit) and ``trackyard.recovery.rebuild`` in process, each on
the store truncated by 1000 bytes.

Usage: ``python bench/bench_store.py [N K R] [--only=concurrent|--only=rebuild]`` (defaults
4 8 10000). Run on a quiet machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
TRACKYARD = str(Path(sys.executable).parent / "trackyard")
PYPROJECT = '[tool.trackyard.domains.calibration]\nmodel = "bench_models:store_model"\n'


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_")}
    env["PYTHONPATH"] = str(HERE)
    return env


def _sweep(root: Path, ws: Path, first: int, count: int) -> subprocess.Popen[str]:
    configs = {f"c{i}": {"x": i} for i in range(first, first + count)}
    return subprocess.Popen(
        [TRACKYARD, "run", "calibration", "sweep", "-w", str(ws), "--json",
         "--set", f"configs_by_label={json.dumps(configs)}", "--set", "progress=false"],
        cwd=root, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _stored(db: Path) -> set[str]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return {str(r[0]) for r in con.execute("SELECT id FROM run").fetchall()}


def concurrent(root: Path, n: int, k: int) -> tuple[float, float, int, int]:
    """(one sweep of n*k s, n sweeps of k s, runs lost, processes aborted)."""
    t0 = time.perf_counter()
    single = _sweep(root, root / "one", 0, n * k)
    single.communicate()
    one = time.perf_counter() - t0
    t0 = time.perf_counter()
    procs = [_sweep(root, root / "many", i * k, k) for i in range(n)]
    outs = [p.communicate() for p in procs]
    many = time.perf_counter() - t0
    aborted = sum(p.returncode != 0 for p in procs)
    reported = {
        o["run_id"] for out, _ in outs if out.strip() for o in json.loads(out)["outcomes"].values()
    }
    lost = len(reported - _stored(root / "many" / "provenance.duckdb"))
    return one, many, lost, aborted


def _seed(ws: Path) -> None:
    """Real runs through trackyard on ``ws``: calibration evaluations (some with config
    facets, one served from cache) and a three-year simulation scenario (header run, inputs
    chained year to year)."""
    import trackyard

    sys.path.insert(0, str(HERE))
    import bench_models

    cal = trackyard.get_tracker("calibration", workspace=ws, model=bench_models.store_model)
    for i in range(8):
        facets = {"region": "north" if i % 2 else "south", "i": i} if i < 4 else None
        cal.run(bench_models.store_model, name=f"seed{i}", config={"x": i}, facets=facets)
    cal.evaluate(run_name="hit", config={"x": 5})
    sim = trackyard.get_tracker("simulation", workspace=ws)
    sim.run_years(name="scenario", years=[2025, 2030, 2035], config={"alpha": 1.0})


def _synthesize(ws: Path, total: int) -> int:
    """Copy the seed's snapshots until ``ws`` holds ``total``: copy ``k`` of run ``R`` is run
    ``R~k``, its artifacts get new ids (inputs that are outputs of the seed follow them), its
    output URIs still name the seed's files (so output audits find them). Returns how many
    snapshots were written. No model runs: 10k real runs take hours."""
    import json
    import uuid

    folder = ws / "runs" / "consist_runs"
    seeds = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    run_ids = {s["run"]["id"] for s in seeds}
    written, k = 0, 0
    while len(seeds) + written < total:
        k += 1

        def rid(old: str | None, k: int = k) -> str | None:
            return f"{old}~{k}" if old in run_ids else old

        def aid(old: str, k: int = k) -> str:
            return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{old}~{k}"))

        for seed in seeds:
            if len(seeds) + written >= total:
                break
            copy = json.loads(json.dumps(seed))
            run = copy["run"]
            run["id"], run["parent_run_id"] = rid(run["id"]), rid(run["parent_run_id"])
            meta = run.get("meta") or {}
            if meta.get("cache_source"):
                meta["cache_source"] = rid(meta["cache_source"])
            for direction in ("inputs", "outputs"):
                for artifact in copy.get(direction) or []:
                    artifact["id"], artifact["run_id"] = (
                        aid(artifact["id"]),
                        rid(artifact["run_id"]),
                    )
            (folder / f"{run['id']}.json").write_text(json.dumps(copy, indent=2))
            written += 1
    return written


def _median_ms(fn: Any, n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2] * 1000


def rebuild(root: Path, runs: int) -> dict[str, float]:
    """A ``runs``-run workspace (real seed runs, then synthetic snapshot copies, then
    ``reconcile`` restoring the missing rows), then: the store check at open (``verify_store``
    alone, and ``get_tracker`` with and without it, interleaved), then ``doctor --fix`` (CLI)
    and ``trackyard.rebuild`` on a truncated copy of the store."""
    import trackyard
    from trackyard import _store, recovery

    ws = root / "big"
    _seed(ws)
    _synthesize(ws, runs)
    t0 = time.perf_counter()
    report = trackyard.reconcile(ws)
    restore_missing = time.perf_counter() - t0
    db = ws / "provenance.duckdb"
    assert len(_stored(db)) == runs, (len(_stored(db)), report.errors[:3])
    figures = {"restore_missing_s": restore_missing}
    figures["verify_ms"] = _median_ms(lambda: _store.verify_store(db, ws / "runs", 30.0), 31)
    check = _store.check_store
    with_check, without = [], []
    for _ in range(15):
        _store.check_store = check  # type: ignore[assignment]
        with_check.append(_median_ms(lambda: trackyard.get_tracker("calibration", workspace=ws), 1))
        _store.check_store = lambda *a, **k: None  # type: ignore[assignment]
        without.append(_median_ms(lambda: trackyard.get_tracker("calibration", workspace=ws), 1))
    _store.check_store = check  # type: ignore[assignment]
    figures["get_tracker_ms"] = sorted(with_check)[7]
    figures["get_tracker_unchecked_ms"] = sorted(without)[7]
    intact = db.read_bytes()
    db.write_bytes(intact[:-1000])
    t0 = time.perf_counter()
    done = subprocess.run(
        [TRACKYARD, "doctor", "calibration", "--fix", "--workspace", str(ws), "--json"],
        cwd=root, env=_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    figures["doctor_fix_s"] = time.perf_counter() - t0
    assert '"name": "reconcile",\n        "status": "ok"' in done.stdout, done.stdout[-2000:]
    assert len(_stored(db)) == runs
    for aside in ws.glob("provenance.duckdb.damaged-*"):
        aside.unlink()
    db.write_bytes(intact[:-1000])
    t0 = time.perf_counter()
    rebuilt = recovery.rebuild(ws)
    figures["rebuild_s"] = time.perf_counter() - t0
    assert len(rebuilt.rows_restored) == runs, rebuilt.errors[:3]
    return figures


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--only=")]
    only = {a.removeprefix("--only=") for a in sys.argv[1:] if a.startswith("--only=")}
    n, k, r = (int(a) for a in (args[:3] if len(args) > 2 else ("4", "8", "10000")))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text(PYPROJECT)
        os.chdir(root)
        print("| measure | value |\n|---|---|")
        if not only or "concurrent" in only:
            one, many, lost, aborted = concurrent(root, n, k)
            print(f"| one sweep of {n * k} configs | {one:.1f} s |")
            print(f"| {n} concurrent sweeps of {k} configs | {many:.1f} s "
                  f"(ratio {many / one:.2f}) |")  # fmt: skip
            print(f"| runs lost / processes aborted | {lost} / {aborted} |")
        if not only or "rebuild" in only:
            f = rebuild(root, r)
            per_run = f["rebuild_s"] / r * 1000
            print(f"| reconcile restoring {r} missing rows | {f['restore_missing_s']:.1f} s |")
            print(f"| `trackyard doctor calibration --fix` on a truncated {r}-run store (CLI, "
                  f"wall) | {f['doctor_fix_s']:.1f} s |")  # fmt: skip
            print(f"| `trackyard.recovery.rebuild` of that store (in process) | {f['rebuild_s']:.1f} s "
                  f"({per_run:.2f} ms/run) |")  # fmt: skip
            print(f"| store check at open (`verify_store`, {r} runs), median | "
                  f"{f['verify_ms']:.1f} ms |")  # fmt: skip
            added = f["get_tracker_ms"] - f["get_tracker_unchecked_ms"]
            print(f"| `get_tracker` with / without the check, median | "
                  f"{f['get_tracker_ms']:.1f} / {f['get_tracker_unchecked_ms']:.1f} ms "
                  f"(+{added:.1f} ms) |")  # fmt: skip


if __name__ == "__main__":
    main()
