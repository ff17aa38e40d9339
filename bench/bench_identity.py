"""What knowing a run's code costs (run by hand; numbers go in the report, never in tests).

    .venv/bin/python bench/bench_identity.py [--runs 15] [--deps 50]

Writes a project package whose model imports ``--deps`` helper modules (each a constant)
and times, in this process, the median of ``--runs``:

* a trivial miss and a hit of a model with no helper (capture on every run);
* a miss and a hit of the model with ``--deps`` helpers (every helper keyed before the run,
  recorded and verified on the hit).

Run it twice to compare with an older trackyard: once as is, once with
``PYTHONPATH=<old checkout>/core/src`` (the same script; it only uses the public API).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from trackyard import DomainTracker, Wiring
from trackyard.testing import PluginSandbox


class BenchTracker(DomainTracker):
    wiring = Wiring(model="bench_identity")


def _project(root: Path, deps: int) -> None:
    package = root / "benchproject"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for i in range(deps):
        (package / f"helper_{i}.py").write_text(f"VALUE = {i}\n")
    imports = "".join(f"from benchproject.helper_{i} import VALUE as V{i}\n" for i in range(deps))
    total = " + ".join(f"V{i}" for i in range(deps)) or "0"
    (package / "model.py").write_text(
        f"{imports}\n\ndef wide(config):\n    return {{'v': config['x'] + {total}}}\n"
        "\n\ndef trivial(config):\n    return {'v': config['x']}\n"
    )


def _median_ms(call: Any, runs: int) -> float:
    times = []
    for i in range(runs):
        start = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--deps", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _project(root, args.deps)
        sys.path.insert(0, str(root))
        from benchproject import model  # type: ignore[import-not-found]

        sandbox = PluginSandbox()
        sandbox.add("bench_identity", BenchTracker)
        tracker = sandbox.get_tracker("bench_identity", workspace=root / "ws")
        tracker.run(model.trivial, name="warm", config={"x": -1})
        rows = []
        for label, fn in (("trivial", model.trivial), (f"{args.deps} helpers", model.wide)):
            miss = _median_ms(
                lambda i, f=fn: tracker.run(f, name=f"m{i}", config={"x": i}), args.runs
            )
            hit = _median_ms(
                lambda i, f=fn: tracker.run(f, name=f"h{i}", config={"x": 0}), args.runs
            )
            rows.append((label, miss, hit))
        print("| model | miss, median ms | hit, median ms |\n|---|---|---|")
        for label, miss, hit in rows:
            print(f"| {label} | {miss:.1f} | {hit:.1f} |")


if __name__ == "__main__":
    main()
