"""Core benchmarks (run by hand): listing cost and get_tracker against the pattern's wrapper.

    python bench/bench_core.py [--repeat 7]

Prints a Markdown table of medians. Each comparison is measured side by side in one run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIST = (
    "import sys, trackyard; trackyard.available_domains(); "
    "print(len(sys.modules), int(any(m.split('.')[0] in ('consist','pandas','duckdb') for m in sys.modules)))"
)
BASELINE = "import sys, importlib.metadata; print(len(sys.modules), 0)"

GET_TRACKER = """
import time, trackyard
import consist, trackyard_calibration.plugin  # imports paid by both sides, outside the timer
t = time.perf_counter()
trackyard.get_tracker("calibration", workspace={ws!r})
print(time.perf_counter() - t)
"""
# The pattern document's hand-written wrapper: a plain consist.Tracker on the same workspace.
PATTERN = """
import time
from pathlib import Path
from consist import Tracker
import trackyard_calibration.tracker  # same imports as get_tracker pays
t = time.perf_counter()
workspace = Path({ws!r})
Tracker(run_dir=workspace / "runs", db_path=workspace / "provenance.duckdb")
print(time.perf_counter() - t)
"""


def wall(code: str, cwd: str) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout
    return time.perf_counter() - start, out.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as tmp:
        ws = str(Path(tmp) / "ws")
        wall(GET_TRACKER.format(ws=ws), tmp)  # create and initialise the workspace
        rows = []
        lt, bt, gt, pt = [], [], [], []
        for _ in range(repeat):
            t, list_out = wall(LIST, tmp)
            lt.append(t)
            t, base_out = wall(BASELINE, tmp)
            bt.append(t)
            gt.append(float(wall(GET_TRACKER.format(ws=ws), tmp)[1]))
            pt.append(float(wall(PATTERN.format(ws=ws), tmp)[1]))
        mods, heavy = list_out.split()
        base_mods = base_out.split()[0]
        lm, bm = statistics.median(lt), statistics.median(bt)
        gm, pm = statistics.median(gt), statistics.median(pt)
        rows.append(
            (
                "list domains, process wall",
                f"{lm * 1000:.0f} ms",
                f"{bm * 1000:.0f} ms",
                f"{lm / bm:.2f}",
                f"modules {mods} vs {base_mods}; consist imported: {heavy}",
            )
        )
        rows.append(
            (
                "get_tracker('calibration') on existing workspace",
                f"{gm * 1000:.1f} ms",
                f"{pm * 1000:.1f} ms",
                f"{gm / pm:.2f}",
                "baseline: plain consist.Tracker()",
            )
        )
    print("| what | trackyard | baseline | ratio | note |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
