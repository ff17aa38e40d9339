"""What provenance checks cost (run by hand; numbers go in the report, never in tests).

    .venv/bin/python bench/bench_provenance.py [--input-mb 1024] [--runs 5]

1. A cache hit whose outputs are 1 MB and 100 MB: the median hit time, the part of it spent
   verifying the outputs (existence + content hash against what consist recorded), and the hit
   time without that part (what a hit cost before verification was added).
2. A call whose input is one large file (``--input-mb``): a miss and a hit, the time to hash the
   file once (trackyard's hash, and consist's own beside it), its throughput, and
   ``cat FILE > /dev/null`` beside it; with the page cache emptied first (root on Linux) when
   possible, so the disk's own speed is measured, then warm.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import consist

from trackyard import DomainTracker, Wiring
from trackyard.testing import PluginSandbox

sys.path.insert(0, str(Path(__file__).parent))


def write_output(config: dict[str, Any]) -> dict[str, Any]:
    """Writes ``mb`` megabytes of output."""
    out = Path(consist.output_path("table", "bin"))
    out.write_bytes(os.urandom(int(config["mb"] * 1024 * 1024)))
    return {"table": out}


def read_input(config: dict[str, Any], data: Path) -> dict[str, Any]:
    """Reads nothing but the size of its input; writes a tiny output."""
    out = Path(consist.output_path("table", "txt"))
    out.write_text(str(Path(data).stat().st_size))
    return {"table": out}


class BenchTracker(DomainTracker):
    wiring = Wiring(model="bench", outputs=("table",))


def _timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def bench_hits(tracker: DomainTracker, runs: int) -> None:
    from trackyard._provenance import stale_outputs  # the check a hit pays for

    print("| outputs | hit (median) | verification | hit without verification | ratio |")
    print("|---|---|---|---|---|")
    for mb in (1, 100):
        tracker.run(write_output, name=f"m{mb}", config={"mb": mb})
        hits, checks = [], []
        for i in range(runs):
            elapsed, outcome = _timed(
                lambda i=i, mb=mb: tracker.run(write_output, name=f"h{mb}-{i}", config={"mb": mb})
            )
            assert outcome.cache_hit
            hits.append(elapsed)
            check, _ = _timed(
                lambda o=outcome: stale_outputs(
                    o.result, tracker.consist.identity.compute_file_checksum
                )
            )
            checks.append(check)
        hit, check = statistics.median(hits), statistics.median(checks)
        print(
            f"| {mb} MB | {hit * 1000:.0f} ms | {check * 1000:.1f} ms | "
            f"{(hit - check) * 1000:.0f} ms | {hit / (hit - check):.3f}x |"
        )


def _drop_caches() -> bool:
    """Empty the page cache (root on Linux only), so the next read comes from the disk."""
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def bench_input(tracker: DomainTracker, folder: Path, mb: int) -> None:
    from trackyard._consist.identity import sha256_of_file  # what a call hashes with, once per file

    big = folder / "big.bin"
    with open(big, "wb") as handle:
        block = os.urandom(1024 * 1024)
        for _ in range(mb):
            handle.write(block)
    rows: list[tuple[str, float]] = []
    if _drop_caches():
        rows.append(("`cat FILE > /dev/null`, page cache empty (the disk)", _cat(big)))
        _drop_caches()
        rows.append(
            ("trackyard's hash (sha256), page cache empty", _timed(lambda: sha256_of_file(big))[0])
        )
    _cat(big)
    rows.append(("`cat FILE > /dev/null`, page cache warm", _cat(big)))
    rows.append(
        ("trackyard's hash (sha256), page cache warm", _timed(lambda: sha256_of_file(big))[0])
    )
    rows.append(
        ("consist's own file hash (64 KiB reads), warm",
         _timed(lambda: type(tracker.consist.identity).compute_file_checksum(
             tracker.consist.identity, big))[0])
    )  # fmt: skip
    miss, first = _timed(
        lambda: tracker.run(read_input, name="miss", config={}, inputs={"data": big})
    )
    hit, again = _timed(
        lambda: tracker.run(read_input, name="hit", config={}, inputs={"data": big})
    )
    assert not first.cache_hit and again.cache_hit
    print()
    print(f"input file: {mb} MB")
    print("| what | time | throughput |")
    print("|---|---|---|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.2f} s | {mb / seconds:.0f} MB/s |")
    print(f"| call, miss (file hashed once, warm) | {miss:.2f} s | |")
    print(f"| call, hit (file hashed once, warm) | {hit:.2f} s | |")


def _cat(path: Path) -> float:
    return _timed(lambda: subprocess.run(f"cat {path} > /dev/null", shell=True, check=True))[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-provenance-") as tmp:
        os.chdir(tmp)
        sandbox = PluginSandbox()
        sandbox.add("bench", BenchTracker)
        tracker = sandbox.get_tracker("bench", workspace=Path(tmp) / "ws")
        bench_hits(tracker, args.runs)
        bench_input(tracker, Path(tmp), args.input_mb)


if __name__ == "__main__":
    main()
