"""The store under load and repair (issue 12); prints a Markdown table.

* ``N`` concurrent ``trackyard run calibration sweep`` processes of ``K`` configs each on one
  workspace, against one sweep of ``N*K`` configs: wall time ratio, runs lost (reported but
  not in the store), processes aborted (non-zero exit);
* ``doctor --fix`` (``trackyard.reconcile``) rebuild time of a truncated store of ``R`` runs,
  and what the cheap store check at open adds to ``get_tracker``.

Usage: ``python bench/bench_store.py [N K R]`` (defaults 4 8 200). Run on a quiet machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def rebuild(root: Path, runs: int) -> tuple[float, float]:
    """(reconcile of a truncated store of ``runs`` runs, s; get_tracker's store check, ms)."""
    import trackyard
    from trackyard._store import verify_store

    sys.path.insert(0, str(HERE))
    import bench_models

    ws = root / "big"
    t = trackyard.get_tracker("calibration", workspace=ws, model=bench_models.store_model)
    t.sweep({f"r{i}": {"x": i} for i in range(runs)}, progress=False)
    db = ws / "provenance.duckdb"
    checks = []
    for _ in range(20):
        t0 = time.perf_counter()
        verify_store(db, ws / "runs", 30.0)
        checks.append(time.perf_counter() - t0)
    db.write_bytes(db.read_bytes()[:-1000])
    t0 = time.perf_counter()
    report = trackyard.reconcile(ws)
    took = time.perf_counter() - t0
    assert len(report.rows_restored) == runs, report
    return took, sorted(checks)[len(checks) // 2] * 1000


def main() -> None:
    n, k, r = (int(a) for a in (sys.argv[1:4] if len(sys.argv) > 3 else ("4", "8", "200")))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text(PYPROJECT)
        os.chdir(root)
        one, many, lost, aborted = concurrent(root, n, k)
        took, check_ms = rebuild(root, r)
    print("| measure | value |\n|---|---|")
    print(f"| one sweep of {n * k} configs | {one:.1f} s |")
    print(f"| {n} concurrent sweeps of {k} configs | {many:.1f} s (ratio {many / one:.2f}) |")
    print(f"| runs lost / processes aborted | {lost} / {aborted} |")
    print(f"| rebuild of a truncated {r}-run store | {took:.1f} s ({took / r * 1000:.0f} ms/run) |")
    print(f"| cheap store check at open ({r} runs), median | {check_ms:.1f} ms |")


if __name__ == "__main__":
    main()
