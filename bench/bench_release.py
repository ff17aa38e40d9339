"""The store let go while a model runs (issue 25): sweeps of models around the 0.2 s release.

A run closes its store connection once its model has run 0.2 s, so that other processes get
in during a long model. Before the release closed only idle connections, a connection in use
at that moment was orphaned and kept the store locked until garbage collection: a sweep of
12 configs sleeping 0.205-0.3 s took ~34 s instead of ~3 s.

For each band of model times (below, around and above the release) and each executor, a
``trackyard run calibration sweep`` CLI process of 12 configs on a fresh workspace: wall time,
the models' own time (serial: their sum; processes: their sum over the workers), and the
per-run cost (wall minus model time, over 12). Prints a Markdown table.

Usage: ``python bench/bench_release.py [--rounds R]`` (default 2). Run on a quiet machine.
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
PYPROJECT = '[tool.trackyard.domains.calibration]\nmodel = "bench_models:sleepy_store_model"\n'
BANDS = {"0.10-0.15 s": (0.10, 0.15), "0.205-0.30 s": (0.205, 0.30), "0.40-0.50 s": (0.40, 0.50)}
WORKERS = 2


def _sweep(folder: Path, low: float, high: float, executor: str) -> tuple[float, float]:
    """Wall time of one 12-config sweep, and its models' own time."""
    configs = {f"c{i}": {"x": i, "sleep": round(low + (high - low) * i / 11, 4)} for i in range(12)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_")}
    # Kept: PYTHONPATH=<old checkout>/core/src compares with an older trackyard.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    args = [TRACKYARD, "run", "calibration", "sweep", "-w", str(folder / "ws"), "--json",
            "--set", f"configs_by_label={json.dumps(configs)}", "--set", f"executor={executor}",
            "--set", "progress=false"]  # fmt: skip
    if executor == "processes":
        args += ["--set", f"max_workers={WORKERS}"]
    started = time.perf_counter()
    done = subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0 or json.loads(done.stdout)["ran"] != 12:
        raise SystemExit(f"sweep failed: {done.stderr[-2000:]}")
    model = sum(c["sleep"] for c in configs.values())
    return wall, model / (WORKERS if executor == "processes" else 1)


def main() -> None:
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 2
    print("| models | executor | wall (s, best of rounds) | model time (s) | per-run cost (ms) |")
    print("|---|---|---|---|---|")
    for band, (low, high) in BANDS.items():
        for executor in ("serial", "processes"):
            walls = []
            for _ in range(rounds):
                with tempfile.TemporaryDirectory() as tmp:
                    folder = Path(tmp)
                    (folder / "pyproject.toml").write_text(PYPROJECT)
                    wall, model = _sweep(folder, low, high, executor)
                    walls.append(wall)
            best = min(walls)
            print(f"| {band} | {executor} | {best:.1f} | {model:.1f} | "
                  f"{(best - model) / 12 * 1000:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
