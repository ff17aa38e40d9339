"""The first `get_tracker` in a new workspace: born from the cached template, or set up by
consist (issue 23, goal 4; run by hand).

    python bench/bench_new_store.py [--rounds 10]

In one process (consist and the plugins loaded by a warm-up call, so only the store's birth
differs), each round times `trackyard.get_tracker("calibration", workspace=NEW)` twice, in
alternating order: once with `TRACKYARD_CACHE_DIR` at a warm cache (the store is a copy of the
template) and once with it under a file (the cache cannot be made: consist's schema set-up, as
before the template cache). A third column times `get_tracker` on an existing workspace, for
reference. Prints a Markdown table of medians (ms). Noisy on a shared machine: say the load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import trackyard


def _first_tracker(registry: trackyard.Registry, workspace: Path, cache: Path) -> float:
    os.environ["TRACKYARD_CACHE_DIR"] = str(cache)
    start = time.perf_counter()
    registry.get_tracker("calibration", workspace=workspace)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    rounds = parser.parse_args().rounds
    for var in ("TRACKYARD_WORKSPACE", "TRACKYARD_DB_PATH", "TRACKYARD_RUN_DIR"):
        os.environ.pop(var, None)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        warm, blocked = root / "cache", root / "a-file" / "cache"
        (root / "a-file").write_text("the cache cannot be made under a file\n")
        registry = trackyard.Registry()
        _first_tracker(registry, root / "warm-up", warm)  # loads consist, keeps the template
        times: dict[str, list[float]] = {"template": [], "consist": [], "existing": []}
        for i in range(rounds):
            order = [("template", warm), ("consist", blocked)]
            for kind, cache in order if i % 2 == 0 else order[::-1]:
                times[kind].append(_first_tracker(registry, root / f"{kind}-{i}", cache))
            times["existing"].append(_first_tracker(registry, root / "warm-up", warm))
    medians = {k: statistics.median(v) * 1000 for k, v in times.items()}
    print(f"first get_tracker in a new workspace, medians of {rounds} interleaved rounds (ms)\n")
    print("| born from the cached template | set up by consist (before) | saved | existing |")
    print("|---|---|---|---|")
    saved = medians["consist"] - medians["template"]
    print(
        f"| {medians['template']:.1f} | {medians['consist']:.1f} | {saved:.1f} "
        f"({medians['consist'] / medians['template']:.1f}x) | {medians['existing']:.1f} |"
    )
    print(f"\nload average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
