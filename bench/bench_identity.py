"""What knowing a run's code costs (run by hand; numbers go in the report, never in tests).

    .venv/bin/python bench/bench_identity.py [--runs 15] [--deps 50]

Writes a project package whose model imports ``--deps`` helper modules (each a constant)
and times, in this process, the median of ``--runs``:

* a trivial miss and a hit of a model with no helper (capture on every run);
* a miss and a hit of the model with ``--deps`` helpers (every helper keyed before the run,
  recorded and verified on the hit).

Run it twice to compare with an older trackyard: once as is, once with
``PYTHONPATH=<old checkout>/core/src`` (the same script; it only uses the public API).

``--breakdown`` instead profiles the same calls and prints the share of each call spent in
knowing the code (keying, the stale-code check, the record, the hit's verification): a ratio
that a loaded machine's noise does not hide (cProfile inflates Python-heavy work, so the
real share is lower).
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


IDENTITY_STEPS = (
    "model_code",
    "check_loaded",
    "code_dependencies",
    "_identity_digests",
    "record_run",
    "_refusal",
)


def breakdown(tracker: Any, calls: list[tuple[str, Any, Any]], runs: int) -> None:
    """Per call kind: the run's time under cProfile and the part spent on identity steps."""
    import cProfile
    import pstats

    print("| call | run, ms (profiled) | identity steps, ms | share |\n|---|---|---|---|")
    for label, fn, config in calls:
        profile = cProfile.Profile()
        profile.enable()
        for i in range(runs):
            tracker.run(fn, name=f"b{len(label)}-{label[-3:]}-{i}", config=config(i))
        profile.disable()
        stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
        total = sum(v[3] for k, v in stats.items() if k[2] == "run" and "trackyard" in k[0])
        steps = sum(v[3] for k, v in stats.items() if k[2] in IDENTITY_STEPS)
        print(
            f"| {label} | {1000 * total / runs:.1f} | {1000 * steps / runs:.2f} | "
            f"{100 * steps / total:.1f}% |"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--deps", type=int, default=50)
    parser.add_argument("--breakdown", action="store_true")
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
        tracker.run(model.wide, name="warm-wide", config={"x": -1})
        if args.breakdown:
            breakdown(
                tracker,
                [
                    ("trivial miss", model.trivial, lambda i: {"x": 10_000 + i}),
                    ("trivial hit", model.trivial, lambda i: {"x": -1}),
                    (f"{args.deps} helpers miss", model.wide, lambda i: {"x": 20_000 + i}),
                    (f"{args.deps} helpers hit", model.wide, lambda i: {"x": -1}),
                ],
                args.runs,
            )
            return
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
