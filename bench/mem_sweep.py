"""One ``processes`` sweep of N trivial configs in a fresh workspace, run by
``bench_suite.py --only memory`` in a process of its own (a peak RSS is per process): prints
one JSON line with the driver's peak RSS before and after the sweep, its peak after each
quarter of it, and the workers' peak (/proc VmHWM, Linux), in KiB.

    .venv/bin/python bench/mem_sweep.py 2000 /tmp/ws
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import bench_models  # noqa: E402


def peak_kib(pid: int | str = "self") -> int:
    """Peak resident set size of process ``pid`` (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for {pid}")


def main() -> None:
    import trackyard
    from trackyard._sweep import ProgressBar

    n, workspace = int(sys.argv[1]), Path(sys.argv[2])
    t = trackyard.get_tracker("calibration", workspace=workspace, model="bench_models:trivial")
    t.run(bench_models.trivial, name="warm", config={"x": -1})
    marks: list[int] = []

    class Marks(ProgressBar):  # the driver's peak after each quarter of the sweep
        def count(self, *, running: int | None = None, **finished: int) -> None:
            super().count(running=running, **finished)
            if finished.get("done") and self.counts["done"] % max(1, n // 4) == 0:
                marks.append(peak_kib())

    before = peak_kib()
    start = time.perf_counter()
    with t.reuse_workers(), Marks(n, False) as bar:
        result = t.run_many(
            bench_models.trivial, [(f"m{i}", {"x": i}) for i in range(n)],
            executor="processes", max_workers=2, progress=bar,
        )  # fmt: skip
        assert result.ran == n, result.summary()
        took = time.perf_counter() - start
        outcomes: list[Any] = list(result.outcomes.values())[-20:]
        pids = {int(t.consist.get_run(o.run_id).meta["trackyard"]["pid"]) for o in outcomes}
        worker = max(peak_kib(pid) for pid in pids)  # read while the workers are alive
    print(
        json.dumps(
            {
                "n": n,
                "before": before,
                "driver": peak_kib(),
                "worker": worker,
                "marks": marks,
                "seconds": took,
            }
        )
    )


if __name__ == "__main__":
    main()
