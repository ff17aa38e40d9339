"""What the record of a sweep in flight (``<workspace>/inflight/``) costs a sweep.

    .venv/bin/python bench/bench_inflight.py [--configs 40] [--rounds 3] [--counts 20000]

1. Per result: ``ProgressBar.count`` (what the collect loop calls once per finished config)
   ``--counts`` times with a record attached and without; how many times the record is
   written while 300 results land over 3 s (at most one write per 0.5 s); one write
   (temporary file renamed over the record) timed on its own.
2. A serial sweep of ``--configs`` configs of a trivial model (``bench_models:burn`` with 0 s
   of CPU: only trackyard and consist's own work), with the record and without it (the
   recorder switched off in this process), alternated over ``--rounds`` rounds, fresh configs
   every time so nothing is served from cache.

Prints Markdown tables. Numbers from a shared machine are noisy: rerun before trusting one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import trackyard
from trackyard import _inflight
from trackyard._sweep import ProgressBar


class _Runner:
    """Just what ``ProgressBar._track`` reads from a tracker."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.domain_name = "bench"


def per_count(counts: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        plain = ProgressBar(counts, False)
        start = time.perf_counter()
        for _ in range(counts):
            plain.count(running=1, done=1)
        bare = (time.perf_counter() - start) / counts
        writes = 0
        original = _inflight.Recorder._write

        def counted(self: _inflight.Recorder) -> bool:
            nonlocal writes
            writes += 1
            return original(self)

        _inflight.Recorder._write = counted  # type: ignore[method-assign]
        try:
            with ProgressBar(counts, False) as bar:
                bar._track(_Runner(Path(folder)), per_count, "serial")  # type: ignore[arg-type]
                start = time.perf_counter()
                for _ in range(counts):
                    bar.count(running=1, done=1)
                tracked = (time.perf_counter() - start) / counts
            paced = writes
            with ProgressBar(counts, False) as bar:  # 100 results a second for 3 s
                bar._track(_Runner(Path(folder)), per_count, "serial")  # type: ignore[arg-type]
                for _ in range(300):
                    bar.count(running=1, done=1)
                    time.sleep(0.01)
            paced = writes - paced
        finally:
            _inflight.Recorder._write = original  # type: ignore[method-assign]
        recorder = _inflight.Recorder.start(
            Path(folder), domain="d", label="l", model="m", executor="serial", total=1
        )
        assert recorder is not None
        start = time.perf_counter()
        for _ in range(200):
            with recorder._lock:
                recorder._write()
        one_write = (time.perf_counter() - start) / 200
        recorder.close()
    print("| measure | value |\n|---|---|")
    print(f"| `count()` without a record, per result | {bare * 1e6:.2f} µs |")
    print(f"| `count()` with a record, per result | {tracked * 1e6:.2f} µs |")
    print(f"| record writes for 300 results landing over 3 s (100 a second) | {paced} |")
    print(f"| one write (temporary file renamed over the record) | {one_write * 1e6:.0f} µs |")


def sweep_once(workspace: Path, n: int, tag: str, record: bool) -> float:
    original = _inflight.Recorder.start
    if not record:
        _inflight.Recorder.start = classmethod(lambda cls, *a, **k: None)  # type: ignore[assignment]
    try:
        with trackyard.get_tracker(
            "calibration", workspace=workspace, model="bench_models:burn"
        ) as cal:
            configs = {f"{tag}{i}": {"x": i, "seconds": 0.0, "tag": tag} for i in range(n)}
            start = time.perf_counter()
            result: Any = cal.sweep(configs, progress=False)
            elapsed = time.perf_counter() - start
    finally:
        _inflight.Recorder.start = original  # type: ignore[method-assign]
    assert result.ran == n, result.summary()
    return elapsed


def sweeps(n: int, rounds: int) -> None:
    times: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder) / "ws"
        sweep_once(workspace, 2, "warm", True)  # imports, schema, template: not timed
        for _ in range(rounds):
            for record in (False, True):
                times[record].append(sweep_once(workspace, n, uuid.uuid4().hex[:6], record))
    off, on = statistics.median(times[False]), statistics.median(times[True])
    print(f"\n| serial sweep of {n} configs of a trivial model | seconds |\n|---|---|")
    print(
        f"| without the record, {rounds} rounds | {', '.join(f'{t:.2f}' for t in times[False])} |"
    )
    print(f"| with the record, {rounds} rounds | {', '.join(f'{t:.2f}' for t in times[True])} |")
    print(f"| medians | {off:.2f} vs {on:.2f} ({(on / off - 1) * 100:+.1f} %) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--counts", type=int, default=20000)
    args = parser.parse_args()
    per_count(args.counts)
    sweeps(args.configs, args.rounds)


if __name__ == "__main__":
    main()
