"""Listing domains vs reading entry-point metadata, side by side (process wall time).

    .venv/bin/python bench/bench_listing.py [--runs 21]

Three commands run interleaved (one of each per round, so machine load hits all alike), each in
a fresh interpreter from an empty temporary folder, with bytecode caches written (as an
installed wheel has them); the table gives the median of the rounds:

1. ``import importlib.metadata`` (the floor: any metadata read pays it);
2. ``importlib.metadata.entry_points(group="trackyard.domains")`` (a bare metadata scan);
3. ``import trackyard; trackyard.available_domains()`` (listing, with policy, pins, conflicts);
4. and 5. the scan plus each distribution's name and version, with the standard library's
   ``importlib.metadata`` and with the ``importlib_metadata`` backport (the choice listing made).

Then it prints the modules listing leaves in ``sys.modules`` and the non-stdlib ones among them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from statistics import median

COMMANDS = {
    "bare `import importlib.metadata`": "import importlib.metadata",
    "bare entry-point scan": (
        "import importlib.metadata; importlib.metadata.entry_points(group='trackyard.domains')"
    ),
    "`trackyard.available_domains()`": "import trackyard; trackyard.available_domains()",
    # Listing needs each distribution's name and version: which metadata library is cheaper?
    "stdlib scan + names (what listing uses)": (
        "import importlib.metadata as m; "
        "[(e.dist.name, e.dist.version) for e in m.entry_points(group='trackyard.domains')]"
    ),
    "backport scan + names": (
        "import importlib_metadata as m; "
        "[(e.dist.name, e.dist.version) for e in m.entry_points(group='trackyard.domains')]"
    ),
}
PROBE = """
import sys
import trackyard
trackyard.available_domains()
import json
std = set(sys.stdlib_module_names)
print(json.dumps({
    "count": len(sys.modules),
    "outside_stdlib": sorted(m for m in sys.modules if m.split(".")[0] not in std),
}))
"""


def _wall(code: str, cwd: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="rounds (default 21, minimum 15)")
    runs = max(15, parser.parse_args().runs)
    # Bytecode is written (an installed wheel has it compiled at install time; with
    # PYTHONDONTWRITEBYTECODE an editable checkout would recompile trackyard on every run).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TRACKYARD_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    with tempfile.TemporaryDirectory(prefix="trackyard-bench-listing-") as cwd:
        for code in COMMANDS.values():  # warm the bytecode caches once
            _wall(code, cwd, env)
        times: dict[str, list[float]] = {label: [] for label in COMMANDS}
        for _ in range(runs):
            for label, code in COMMANDS.items():
                times[label].append(_wall(code, cwd, env))
        probe = json.loads(
            subprocess.run(
                [sys.executable, "-c", PROBE], cwd=cwd, env=env, capture_output=True, text=True
            ).stdout
        )
    medians = {label: median(ts) * 1000 for label, ts in times.items()}
    floor = medians["bare `import importlib.metadata`"]
    print(f"median of {runs} interleaved runs, {sys.executable}\n")
    print("| command | median ms | vs `import importlib.metadata` |")
    print("|---|---:|---:|")
    for label, ms in medians.items():
        print(f"| {label} | {ms:.1f} | {ms / floor:.2f}x |")
    outside = [m for m in probe["outside_stdlib"] if m != "__main__"]
    foreign = [m for m in outside if m.split(".")[0] != "trackyard"]
    print(f"\nmodules after listing: {probe['count']}")
    print(f"trackyard modules: {', '.join(m for m in outside if m not in foreign)}")
    print(f"other non-stdlib modules: {', '.join(foreign) or 'none'}")


if __name__ == "__main__":
    main()
